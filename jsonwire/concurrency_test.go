package jsonwire

import (
	"math/rand"
	"sync"
	"testing"
)

// Plans are built lazily and shared: hammer them from several goroutines
// (run with -race).
func TestConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed))
			for i := 0; i < 150; i++ {
				g := &gen{r: r}
				md := testMsgs[r.Intn(len(testMsgs))]
				wire := g.randomWire(md)
				o := allMarshalOptions()[r.Intn(8)]
				if msg := checkWireToJSON(o, md, wire); msg != "" {
					t.Error(msg)
					return
				}
				if j, err := refJSON(o, md, wire); err == nil {
					if msg := checkJSONToWire(UnmarshalOptions{Resolver: testRes}, md, j); msg != "" {
						t.Error(msg)
						return
					}
				}
			}
		}(int64(w))
	}
	wg.Wait()
}
