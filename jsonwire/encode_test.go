package jsonwire

import (
	"math/rand"
	"testing"
)

func allMarshalOptions() []MarshalOptions {
	var os []MarshalOptions
	for i := 0; i < 8; i++ {
		os = append(os, MarshalOptions{UseProtoNames: i&1 != 0, EmitUnpopulated: i&2 != 0, UseEnumNumbers: i&4 != 0, Resolver: testRes})
	}
	return os
}

func TestWireToJSONRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	fails := 0
	for i := 0; i < 3000 && fails < 10; i++ {
		g := &gen{r: r, invalid: i%3 == 0}
		md := testMsgs[i%len(testMsgs)]
		wire := g.randomWire(md)
		for _, o := range allMarshalOptions() {
			if msg := checkWireToJSON(o, md, wire); msg != "" {
				t.Errorf("%s %+v wire=%x: %s", md.FullName(), o, wire, msg)
				fails++
				break
			}
		}
	}
}
