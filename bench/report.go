package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

type sample struct {
	in   inProcessResult
	load loadResult
}

type report struct {
	started     time.Time
	elapsed     time.Duration
	runs        int
	command     string
	loadCfg     loadConfig
	benchtime   time.Duration
	scenarios   []*scenario
	samples     map[string]map[string][]sample // scenario → system → per run
	unsupported map[string]map[string]string
	router      [][]routerResult // per run
}

// stat is a median over runs and the spread, (max−min)/median.
type stat struct{ median, spread float64 }

func statOf(v []float64) stat {
	var xs []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return stat{nan, nan}
	}
	slices.Sort(xs)
	var m float64
	if n := len(xs); n%2 == 1 {
		m = xs[n/2]
	} else {
		m = (xs[n/2-1] + xs[n/2]) / 2
	}
	s := 0.0
	if m != 0 {
		s = (xs[len(xs)-1] - xs[0]) / m
	}
	return stat{m, s}
}

// metric is one column of a scenario table.
type metric struct {
	name string
	get  func(sample) float64
}

func metrics(perMessage bool) []metric {
	unit := "req"
	if perMessage {
		unit = "msg"
	}
	lat := "latency"
	if perMessage {
		lat = "stream latency"
	}
	return []metric{
		{"in-process ns/" + unit, func(s sample) float64 { return s.in.nsPerOp }},
		{"in-process B/" + unit, func(s sample) float64 { return s.in.bytesPerOp }},
		{"in-process allocs/" + unit, func(s sample) float64 { return s.in.allocsPerOp }},
		{"proxy CPU µs/" + unit, func(s sample) float64 { return s.load.cpuMicros }},
		{"proxy allocs/" + unit, func(s sample) float64 { return s.load.allocs }},
		{"proxy B/" + unit, func(s sample) float64 { return s.load.bytes }},
		{lat + " p50 µs", func(s sample) float64 { return float64(s.load.p50.Nanoseconds()) / 1e3 }},
		{lat + " p99 µs", func(s sample) float64 { return float64(s.load.p99.Nanoseconds()) / 1e3 }},
		{unit + "/s", func(s sample) float64 { return s.load.throughput }},
	}
}

func num(x float64) string {
	switch a := math.Abs(x); {
	case math.IsNaN(x):
		return "—"
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", x/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func (r *report) stat(sc, sys string, m metric) stat {
	var v []float64
	for _, s := range r.samples[sc][sys] {
		v = append(v, m.get(s))
	}
	return statOf(v)
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Portico and its peers: benchmarks\n\n")
	p("Written by the harness in `bench/` (`make bench-peers`); do not edit by hand.\n\n")
	p("| | |\n| --- | --- |\n")
	p("| machine | %s, %d cores (GOMAXPROCS %d), %s/%s |\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	p("| date | %s |\n", r.started.UTC().Format("2006-01-02 15:04 MST"))
	p("| Go | %s |\n", runtime.Version())
	p("| command | `%s` |\n", r.command)
	p("| runs | %d; every figure is the median of the runs, ± the spread (max − min) / median |\n", r.runs)
	p("| harness time | %s (after compiling) |\n\n", r.elapsed.Round(time.Second))

	p("## How it is measured\n\n")
	p("One gRPC backend (grpc-go, `portico.bench.v1.BenchService`, `proto/portico/bench/v1/bench.proto`) on loopback; every system talks to it:\n\n")
	p("- **direct-grpc**: a grpc-go client calling the backend: the limit, no proxy.\n")
	p("- **portico**: `transcoder.NewHandler` over `transcoder.NewSnapshot`, the schema learned by gRPC reflection from the backend, default options, served h2c+HTTP/1.1 like `portico serve`. It measures whatever the transcoder does at the time of the run.\n")
	p("- **grpc-gateway** v2.33.0: the generated handlers (`gen/portico/bench/v1/bench.pb.gw.go`) on `runtime.NewServeMux`, with a `JSONPb` marshaler set to Portico's output options (lowerCamelCase, enum names, unpopulated fields left out).\n")
	p("- **vanguard** (connectrpc.com/vanguard v0.4.0): `vanguard.NewService` (schema from the generated Go types) whose handler is an `httputil.ReverseProxy` over h2c to the backend, target protocol gRPC, its JSON codec set to leave unpopulated fields out.\n")
	p("- **httputil-h2c**: a plain `net/http/httputil.ReverseProxy`, h2c on both sides (gRPC pass-through only).\n\n")
	p("Figures:\n\n")
	p("- **in-process** (`testing.Benchmark`, %s per benchmark): client, proxy and backend in one process, one request at a time; ns, bytes and allocations per request of the whole process.\n", r.benchtime)
	p("- **proxy** (out of process): the proxy runs alone in a child process (the harness re-executed with `-role=proxy`); a load generator in the parent sends a fixed number of requests (sized from a %s warm-up to last about %s) from %d goroutines over keep-alive connections (HTTP/1.1 for REST, gRPC-Web and Connect; one h2c connection for gRPC). The child reports its own `getrusage` user+system CPU and Go allocation counters before and after: CPU µs, allocations and bytes per request of the proxy alone. Latency p50/p99 and throughput are the load generator's, with everything sharing the machine's cores.\n", r.loadCfg.warm, r.loadCfg.measure, r.loadCfg.concurrency)
	p("- `(N×)` after a figure is the ratio to Portico's median in the same run set: below 1 is less than Portico. In the stream scenario every figure is per message, latency per whole stream.\n\n")

	r.targets(&b)

	for _, sc := range r.scenarios {
		ms := metrics(sc.messages > 1)
		p("## %s (`%s`)\n\n%s.\n\n", sc.title, sc.name, sc.detail)
		p("| system |")
		for _, m := range ms {
			p(" %s |", m.name)
		}
		p("\n| --- |%s\n", strings.Repeat(" ---: |", len(ms)))
		for _, sys := range sc.systems {
			if why, ok := r.unsupported[sc.name][sys]; ok {
				p("| %s | not supported: %s |%s\n", sys, mdEscape(why), strings.Repeat(" |", len(ms)-1))
				continue
			}
			if len(r.samples[sc.name][sys]) == 0 {
				continue
			}
			p("| %s |", sys)
			for _, m := range ms {
				st := r.stat(sc.name, sys, m)
				if math.IsNaN(st.median) {
					p(" — |")
					continue
				}
				cell := fmt.Sprintf("%s ±%.0f%%", num(st.median), st.spread*100)
				if ref := r.stat(sc.name, sysPortico, m); sys != sysPortico && !math.IsNaN(ref.median) && ref.median != 0 {
					cell += fmt.Sprintf(" (%.2f×)", st.median/ref.median)
				}
				p(" %s |", cell)
			}
			p("\n")
		}
		p("\n")
	}

	if len(r.router) > 0 {
		p("## Router: lookup time against the route count\n\n")
		p("Synthetic GET routes shaped like a large cloud API, four per resource: `/v1/projects/{project}/locations/{location}/svcN/resourcesM/{id}`, the collection without `{id}`, `…/{id}:inspect` and `/v1/{name=projects/*/locations/*/svcN/resourcesM/*}/revisions`. ")
		p("Each request is a `PUT` on the path of an existing route, cycling over 64 routes spread evenly through the table, so both routers find the path, see it bound to GET only and answer with a method-not-allowed error (Portico 405; grpc-gateway's default routing error handler writes it as 501), with no backend call: Portico through `transcoder.Handler.ServeHTTP` (trie), grpc-gateway through `runtime.ServeMux.ServeHTTP` (routes added with `HandlePath`). The figures include writing the error body.\n\n")
		p("| routes | portico ns/op | portico B/op | portico allocs/op | grpc-gateway ns/op | grpc-gateway B/op | grpc-gateway allocs/op | grpc-gateway / portico time |\n")
		p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, n := range routeCounts {
			get := func(sys string, f func(inProcessResult) float64) stat {
				var v []float64
				for _, run := range r.router {
					for _, rr := range run {
						if rr.system == sys && rr.routes == n {
							v = append(v, f(rr.inProcessResult))
						}
					}
				}
				return statOf(v)
			}
			ns := func(x inProcessResult) float64 { return x.nsPerOp }
			by := func(x inProcessResult) float64 { return x.bytesPerOp }
			al := func(x inProcessResult) float64 { return x.allocsPerOp }
			pn, gn := get(sysPortico, ns), get(sysGateway, ns)
			p("| %d | %s ±%.0f%% | %s | %s | %s ±%.0f%% | %s | %s | %.2f× |\n", n,
				num(pn.median), pn.spread*100, num(get(sysPortico, by).median), num(get(sysPortico, al).median),
				num(gn.median), gn.spread*100, num(get(sysGateway, by).median), num(get(sysGateway, al).median),
				gn.median/pn.median)
		}
		p("\n")
	}
	return b.String()
}

// targets writes the targets section: Portico's figure over the peer's,
// against the goal.
func (r *report) targets(b *strings.Builder) {
	type target struct {
		goal     string
		scenario string
		peer     string
		metric   metric
		max      float64
	}
	cpu := metric{"proxy CPU", func(s sample) float64 { return s.load.cpuMicros }}
	allocs := metric{"proxy allocs", func(s sample) float64 { return s.load.allocs }}
	inAllocs := metric{"in-process allocs", func(s sample) float64 { return s.in.allocsPerOp }}
	ts := []target{
		{"REST unary GET: CPU/request ≤ 0.7× grpc-gateway", "rest-get", sysGateway, cpu, 0.7},
		{"REST unary POST 64 KiB: CPU/request ≤ 0.7× grpc-gateway", "rest-post-64k", sysGateway, cpu, 0.7},
		{"REST unary GET: CPU/request ≤ 0.6× vanguard", "rest-get", sysVanguard, cpu, 0.6},
		{"REST unary POST 64 KiB: CPU/request ≤ 0.6× vanguard", "rest-post-64k", sysVanguard, cpu, 0.6},
		{"REST unary GET: proxy allocations/request ≤ 0.5× grpc-gateway", "rest-get", sysGateway, allocs, 0.5},
		{"REST unary POST 64 KiB: proxy allocations/request ≤ 0.5× grpc-gateway", "rest-post-64k", sysGateway, allocs, 0.5},
		{"REST unary GET: proxy allocations/request ≤ 0.5× vanguard", "rest-get", sysVanguard, allocs, 0.5},
		{"REST unary POST 64 KiB: proxy allocations/request ≤ 0.5× vanguard", "rest-post-64k", sysVanguard, allocs, 0.5},
		{"REST server stream: CPU/message ≤ 0.5× grpc-gateway", "rest-stream-10k", sysGateway, cpu, 0.5},
		{"gRPC pass-through unary: CPU/request ≤ 0.6× httputil", "grpc-passthrough", sysHTTPUtil, cpu, 0.6},
	}
	fmt.Fprintf(b, "## Targets\n\n")
	fmt.Fprintf(b, "Portico's median over the peer's median, proxy figures out of process (the proxy alone). The in-process allocation ratio (client, proxy and backend together, so diluted by the parts every system shares) is given for reference.\n\n")
	fmt.Fprintf(b, "| target | Portico | peer | Portico / peer | goal | met? | in-process allocs, Portico / peer |\n")
	fmt.Fprintf(b, "| --- | ---: | ---: | ---: | ---: | --- | ---: |\n")
	for _, t := range ts {
		if r.samples[t.scenario] == nil {
			continue
		}
		pm, pe := r.stat(t.scenario, sysPortico, t.metric), r.stat(t.scenario, t.peer, t.metric)
		if math.IsNaN(pm.median) || math.IsNaN(pe.median) {
			fmt.Fprintf(b, "| %s | — | — | — | ≤ %.2f | not measured | — |\n", t.goal, t.max)
			continue
		}
		ratio := pm.median / pe.median
		met := "**not met**"
		if ratio <= t.max {
			met = "met"
		}
		ia := r.stat(t.scenario, sysPortico, inAllocs).median / r.stat(t.scenario, t.peer, inAllocs).median
		fmt.Fprintf(b, "| %s | %s ±%.0f%% | %s ±%.0f%% | %.2f | ≤ %.2f | %s | %.2f |\n",
			t.goal, num(pm.median), pm.spread*100, num(pe.median), pe.spread*100, ratio, t.max, met, ia)
	}
	fmt.Fprintf(b, "\n")
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
