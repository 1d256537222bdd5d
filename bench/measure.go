package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// inProcessResult is one testing.B measurement: client, proxy and backend
// in this process, one request at a time.
type inProcessResult struct {
	nsPerOp, bytesPerOp, allocsPerOp float64
}

// benchInProcess runs one request per b.N iteration through the system's
// proxy, built and served in this process, to the backend at backendAddr.
func benchInProcess(b *testing.B, sc *scenario, system, backendAddr string) {
	ctx := context.Background()
	addr, stop, err := startProxy(ctx, system, backendAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	c, err := sc.newCaller(system, addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	if err := c.check(ctx); err != nil {
		b.Skipf("not supported: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := c.call(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func runInProcess(sc *scenario, system, backendAddr string) (inProcessResult, error) {
	var failure string
	var mu sync.Mutex
	res := testing.Benchmark(func(b *testing.B) {
		defer func() {
			if b.Failed() || b.Skipped() {
				mu.Lock()
				failure = "benchmark failed (see stderr)"
				mu.Unlock()
			}
		}()
		benchInProcess(b, sc, system, backendAddr)
	})
	if failure != "" || res.N == 0 {
		return inProcessResult{}, fmt.Errorf("%s/%s: in-process benchmark failed", sc.name, system)
	}
	m := float64(sc.messages)
	return inProcessResult{
		nsPerOp:     float64(res.T.Nanoseconds()) / float64(res.N) / m,
		bytesPerOp:  float64(res.AllocedBytesPerOp()) / m,
		allocsPerOp: float64(res.AllocsPerOp()) / m,
	}, nil
}

// proxyStats is what a proxy child reports about itself.
type proxyStats struct {
	cpu     time.Duration // user + system
	mallocs uint64
	bytes   uint64
}

func (a proxyStats) sub(b proxyStats) proxyStats {
	return proxyStats{cpu: a.cpu - b.cpu, mallocs: a.mallocs - b.mallocs, bytes: a.bytes - b.bytes}
}

// ownStats reads this process's rusage and allocation counters.
func ownStats() proxyStats {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return proxyStats{
		cpu:     time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		mallocs: ms.Mallocs,
		bytes:   ms.TotalAlloc,
	}
}

// runProxyChild is the -role=proxy side: serve the system's proxy, print
// its address, then answer "stats" lines on stdin with its own counters
// until stdin closes.
func runProxyChild(system, backendAddr string) error {
	addr, stop, err := startProxy(context.Background(), system, backendAddr)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("ADDR %s\n", addr)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "stats" {
			s := ownStats()
			fmt.Printf("STATS %d %d %d\n", s.cpu.Nanoseconds(), s.mallocs, s.bytes)
		}
	}
	return nil
}

// proxyChild is a proxy running in a child process.
type proxyChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	addr  string
}

func startProxyChild(system, backendAddr string) (*proxyChild, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, "-role=proxy", "-system="+system, "-backend="+backendAddr)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proxyChild{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	line, err := p.readLine()
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("proxy child %s: %w", system, err)
	}
	addr, ok := strings.CutPrefix(line, "ADDR ")
	if !ok {
		p.stop()
		return nil, fmt.Errorf("proxy child %s: unexpected line %q", system, line)
	}
	p.addr = addr
	return p, nil
}

func (p *proxyChild) readLine() (string, error) {
	if !p.out.Scan() {
		if err := p.out.Err(); err != nil {
			return "", err
		}
		return "", io.ErrUnexpectedEOF
	}
	return p.out.Text(), nil
}

func (p *proxyChild) stats() (proxyStats, error) {
	if _, err := io.WriteString(p.stdin, "stats\n"); err != nil {
		return proxyStats{}, err
	}
	line, err := p.readLine()
	if err != nil {
		return proxyStats{}, err
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "STATS" {
		return proxyStats{}, fmt.Errorf("unexpected stats line %q", line)
	}
	var v [3]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return proxyStats{}, err
		}
	}
	return proxyStats{cpu: time.Duration(v[0]), mallocs: v[1], bytes: v[2]}, nil
}

func (p *proxyChild) stop() {
	p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// loadResult is one load-generator measurement against a proxy in its own
// process.
type loadResult struct {
	requests int
	// proxy figures per request (or per message): CPU in µs, allocations
	// and bytes allocated; NaN for the direct system, which has no proxy.
	cpuMicros, allocs, bytes float64
	p50, p99                 time.Duration // per request (per stream)
	throughput               float64       // requests (messages) per second
}

type loadConfig struct {
	concurrency int
	warm        time.Duration
	measure     time.Duration
}

// runLoad drives the caller from cfg.concurrency goroutines: a warm-up for
// at least cfg.warm (and one request per goroutine), whose rate sizes the
// measurement to about cfg.measure; then exactly that many requests, with
// the proxy's counters read before and after.
func runLoad(c *caller, cfg loadConfig, messages int, statsFn func() (proxyStats, error)) (loadResult, error) {
	ctx := context.Background()
	var firstErr atomic.Pointer[error]
	fail := func(err error) { firstErr.CompareAndSwap(nil, &err) }

	// Warm-up.
	var done atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for firstErr.Load() == nil && (time.Since(start) < cfg.warm || done.Load() < int64(cfg.concurrency)) {
				if err := c.call(ctx); err != nil {
					fail(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return loadResult{}, *p
	}
	rate := float64(done.Load()) / time.Since(start).Seconds()
	n := max(int(rate*cfg.measure.Seconds()), 2*cfg.concurrency)

	// Measurement: exactly n requests.
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var before, after proxyStats
	var err error
	if statsFn != nil {
		if before, err = statsFn(); err != nil {
			return loadResult{}, err
		}
	}
	start = time.Now()
	for range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for firstErr.Load() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				if err := c.call(ctx); err != nil {
					fail(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if p := firstErr.Load(); p != nil {
		return loadResult{}, *p
	}
	res := loadResult{requests: n, cpuMicros: nan, allocs: nan, bytes: nan}
	if statsFn != nil {
		if after, err = statsFn(); err != nil {
			return loadResult{}, err
		}
		d := after.sub(before)
		per := float64(n * messages)
		res.cpuMicros = float64(d.cpu.Nanoseconds()) / 1e3 / per
		res.allocs = float64(d.mallocs) / per
		res.bytes = float64(d.bytes) / per
	}
	slices.Sort(lat)
	res.p50 = lat[n*50/100]
	res.p99 = lat[min(n-1, n*99/100)]
	res.throughput = float64(n*messages) / elapsed.Seconds()
	return res, nil
}

// runOutOfProcess measures a system with its proxy in a child process.
func runOutOfProcess(sc *scenario, system, backendAddr string, cfg loadConfig) (loadResult, error) {
	addr := backendAddr
	var statsFn func() (proxyStats, error)
	if system != sysDirect {
		child, err := startProxyChild(system, backendAddr)
		if err != nil {
			return loadResult{}, err
		}
		defer child.stop()
		addr, statsFn = child.addr, child.stats
	}
	c, err := sc.newCaller(system, addr)
	if err != nil {
		return loadResult{}, err
	}
	defer c.close()
	if err := c.check(context.Background()); err != nil {
		return loadResult{}, err
	}
	return runLoad(c, cfg, sc.messages, statsFn)
}
