// Command bench runs Portico side by side with its peers, grpc-gateway,
// vanguard-go and a plain net/http/httputil HTTP/2 reverse proxy, in front
// of the same gRPC backend on loopback, and writes the figures as Markdown
// (BENCHMARKS.md). See `make bench-peers`.
//
// For every scenario and system it measures, in each of -runs runs:
//
//   - in process, with testing.Benchmark: ns, bytes and allocations per
//     request, client, proxy and backend sharing this process and calling
//     one request at a time;
//   - out of process: the proxy runs in a child process (this binary,
//     re-executed with -role=proxy) and a load generator here sends a fixed
//     number of requests from -concurrency goroutines; the child reports
//     its own CPU time (getrusage) and allocation counters before and after,
//     giving the proxy's CPU and allocations per request, and the load
//     generator gives p50/p99 latency and throughput.
//
// It also measures route lookup against 10 to 10,000 routes for Portico's
// trie and grpc-gateway's ServeMux.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var nan = math.NaN()

func main() {
	testing.Init()
	role := flag.String("role", "bench", "bench (the harness) or proxy (a child serving one system's proxy)")
	system := flag.String("system", "", "with -role=proxy: the system to serve")
	backend := flag.String("backend", "", "with -role=proxy: the backend address")
	runs := flag.Int("runs", 3, "runs; figures are the medians, with the spread")
	out := flag.String("out", "", "also write the report to this file")
	benchtime := flag.Duration("benchtime", 700*time.Millisecond, "testing.B time per in-process benchmark")
	warm := flag.Duration("warm", 500*time.Millisecond, "load generator warm-up per measurement")
	measure := flag.Duration("measure", 2*time.Second, "load generator measurement per system and scenario (sized from the warm-up rate)")
	concurrency := flag.Int("concurrency", 16, "load generator concurrency")
	onlyScenarios := flag.String("scenarios", "", "comma-separated scenarios to run (default all)")
	onlySystems := flag.String("systems", "", "comma-separated systems to run (default all)")
	router := flag.Bool("router", true, "run the router benchmark")
	flag.Parse()

	if *role == "proxy" {
		if err := runProxyChild(*system, *backend); err != nil {
			fmt.Fprintf(os.Stderr, "proxy %s: %v\n", *system, err)
			os.Exit(1)
		}
		return
	}
	if err := flag.Set("test.benchtime", benchtime.String()); err != nil {
		fatal(err)
	}

	started := time.Now()
	backendAddr, stopBackend, err := startBackend()
	if err != nil {
		fatal(err)
	}
	defer stopBackend()

	sel := func(list, name string) bool {
		return list == "" || slices.Contains(strings.Split(list, ","), name)
	}
	rep := &report{
		started:     started,
		runs:        *runs,
		command:     "cd bench && go run . " + strings.Join(os.Args[1:], " "),
		loadCfg:     loadConfig{concurrency: *concurrency, warm: *warm, measure: *measure},
		benchtime:   *benchtime,
		samples:     map[string]map[string][]sample{},
		unsupported: map[string]map[string]string{},
	}
	for _, sc := range scenarios {
		if sel(*onlyScenarios, sc.name) {
			rep.scenarios = append(rep.scenarios, sc)
			rep.samples[sc.name] = map[string][]sample{}
			rep.unsupported[sc.name] = map[string]string{}
		}
	}

	// Check every system answers every scenario correctly before timing
	// anything; a system that cannot is reported as unsupported.
	for _, sc := range rep.scenarios {
		for _, sys := range sc.systems {
			if !sel(*onlySystems, sys) {
				continue
			}
			if err := checkSystem(sc, sys, backendAddr); err != nil {
				rep.unsupported[sc.name][sys] = err.Error()
				logf("%s/%s: not supported: %v", sc.name, sys, err)
			}
		}
	}

	for run := 1; run <= *runs; run++ {
		for _, sc := range rep.scenarios {
			for _, sys := range sc.systems {
				if !sel(*onlySystems, sys) || rep.unsupported[sc.name][sys] != "" {
					continue
				}
				runtime.GC()
				ip, err := runInProcess(sc, sys, backendAddr)
				if err != nil {
					fatal(err)
				}
				runtime.GC()
				lr, err := runOutOfProcess(sc, sys, backendAddr, rep.loadCfg)
				if err != nil {
					fatal(fmt.Errorf("%s/%s: %w", sc.name, sys, err))
				}
				rep.samples[sc.name][sys] = append(rep.samples[sc.name][sys], sample{ip, lr})
				logf("[run %d/%d] %-16s %-13s in-process %9.0f ns %8.0f B %6.1f allocs | proxy %7.2f µs CPU %6.1f allocs | p50 %v p99 %v | %.0f/s (%d reqs)",
					run, *runs, sc.name, sys, ip.nsPerOp, ip.bytesPerOp, ip.allocsPerOp, lr.cpuMicros, lr.allocs, lr.p50, lr.p99, lr.throughput, lr.requests)
			}
		}
		if *router {
			rr, err := runRouter()
			if err != nil {
				fatal(err)
			}
			for _, r := range rr {
				logf("[run %d/%d] router %-13s %6d routes: %8.0f ns/op %6.0f B/op %4.0f allocs/op", run, *runs, r.system, r.routes, r.nsPerOp, r.bytesPerOp, r.allocsPerOp)
			}
			rep.router = append(rep.router, rr)
		}
	}
	rep.elapsed = time.Since(started)
	md := rep.markdown()
	fmt.Print(md)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
			fatal(err)
		}
		logf("wrote %s", *out)
	}
}

// checkSystem serves the system in process and checks one request.
func checkSystem(sc *scenario, sys, backendAddr string) error {
	addr, stop, err := startProxy(context.Background(), sys, backendAddr)
	if err != nil {
		return err
	}
	defer stop()
	c, err := sc.newCaller(sys, addr)
	if err != nil {
		return err
	}
	defer c.close()
	return c.check(context.Background())
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(1)
}
