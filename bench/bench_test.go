package main

import (
	"strconv"
	"testing"
)

// BenchmarkPeers is the in-process half of the harness as a go test
// benchmark, for profiling one system and scenario:
//
//	go test -run '^$' -bench 'Peers/rest-get/portico$' -cpuprofile cpu.out
func BenchmarkPeers(b *testing.B) {
	addr, stop, err := startBackend()
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	for _, sc := range scenarios {
		for _, sys := range sc.systems {
			b.Run(sc.name+"/"+sys, func(b *testing.B) { benchInProcess(b, sc, sys, addr) })
		}
	}
}

// BenchmarkRouter is the router benchmark as a go test benchmark.
func BenchmarkRouter(b *testing.B) {
	for _, n := range routeCounts {
		p, err := porticoRouter(n)
		if err != nil {
			b.Fatal(err)
		}
		g, err := gatewayRouter(n)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("portico/"+itoa(n), func(b *testing.B) { benchRouter(b, p, n, 405) })
		b.Run("grpc-gateway/"+itoa(n), func(b *testing.B) { benchRouter(b, g, n, 501) })
	}
}

// TestSystems checks that every system answers every scenario it is
// listed for correctly (vanguard's REST server stream excepted: vanguard
// v0.4.0 streams REST replies only for google.api.HttpBody).
func TestSystems(t *testing.T) {
	addr, stop, err := startBackend()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, sc := range scenarios {
		for _, sys := range sc.systems {
			t.Run(sc.name+"/"+sys, func(t *testing.T) {
				err := checkSystem(sc, sys, addr)
				if sc.name == "rest-stream-10k" && sys == sysVanguard {
					if err == nil {
						t.Log("vanguard now streams REST replies: its figures will be reported")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
func itoa(n int) string { return strconv.Itoa(n) }
