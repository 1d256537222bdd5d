package transcoder_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/transcoder"
)

// BenchmarkRESTServerStreamMessages measures REST (NDJSON) server-streaming
// throughput: b.N messages in one stream.
func BenchmarkRESTServerStreamMessages(b *testing.B) {
	backend := testbackend.Start(b, "echo")
	gw := startGatewayB(b, backend)
	b.ReportAllocs()
	b.ResetTimer()
	resp, err := http.Get(gw + "/v1/stream/" + strconv.Itoa(b.N) + "?text=benchmark")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		n++
	}
	b.StopTimer()
	if n != b.N {
		b.Fatalf("read %d messages, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRESTStreamMemory streams 1 GiB of google.api.HttpBody chunks
// through the gateway to a deliberately slow reader and reports the peak
// resident set size of the process (gateway, backend and client together)
// while it flows. Flow control must hold the backend back: the peak stays
// in the tens of MiB however long the stream is.
func BenchmarkRESTStreamMemory(b *testing.B) {
	const chunks, chunkSize = 1024, 1 << 20 // 1 GiB
	backend := testbackend.Start(b, "echo")
	gw := startGatewayB(b, backend)
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if rss := residentSetBytes(); rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	var total int64
	for range b.N {
		resp, err := http.Get(gw + "/v1/downloadstream?count=" + strconv.Itoa(chunks) + "&size=" + strconv.Itoa(chunkSize))
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 256<<10)
		for {
			n, err := resp.Body.Read(buf)
			total += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Microsecond) // a slow reader: at most ~2.5 GB/s
		}
		resp.Body.Close()
	}
	b.StopTimer()
	close(stop)
	<-sampled
	if total != int64(b.N)*chunks*chunkSize {
		b.Fatalf("read %d bytes, want %d", total, int64(b.N)*chunks*chunkSize)
	}
	b.SetBytes(chunks * chunkSize)
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-RSS-MiB")
}

// residentSetBytes reads the process's resident set size from /proc, or
// falls back to the Go runtime's view of its memory.
func residentSetBytes() int64 {
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys)
}

// startGatewayB starts a gateway for a benchmark, learning the schema by
// reflection, and returns its base URL.
func startGatewayB(b *testing.B, backends ...*testbackend.Backend) string {
	b.Helper()
	var tb []transcoder.Backend
	for _, be := range backends {
		conn := dialBackend(b, be)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := schemaFromReflection(ctx, conn)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		tb = append(tb, transcoder.Backend{Name: be.Name, Schema: s, Conn: conn.Conn})
	}
	snap, err := transcoder.NewSnapshot(tb, transcoder.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return serveH2C(b, transcoder.NewHandler(snap))
}
