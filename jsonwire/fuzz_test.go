package jsonwire

import (
	"math/rand"
	"testing"
)

// FuzzWireToJSON: for arbitrary wire bytes, AppendJSON must agree with
// proto.Unmarshal(dynamicpb)+protojson.Marshal: same JSON when the
// reference succeeds, an error when it fails.
func FuzzWireToJSON(f *testing.F) {
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 200; i++ {
		g := &gen{r: r, invalid: i%4 == 0}
		sel := byte(i % len(testMsgs))
		f.Add(sel, byte(i%8), g.randomWire(testMsgs[sel]))
	}
	for _, w := range everythingWireCases {
		f.Add(byte(0), byte(0), w)
	}
	for _, w := range p2WireCases {
		f.Add(byte(2), byte(3), w)
	}
	opts := allMarshalOptions()
	f.Fuzz(func(t *testing.T, sel, opt byte, wire []byte) {
		md := testMsgs[int(sel)%len(testMsgs)]
		o := opts[int(opt)%len(opts)]
		if msg := checkWireToJSON(o, md, wire); msg != "" {
			t.Fatalf("%s %+v wire=%x: %s", md.FullName(), o, wire, msg)
		}
	})
}

// FuzzJSONToWire: for arbitrary JSON, AppendWire must accept exactly what
// protojson.Unmarshal (dynamicpb) accepts, and its output must parse to a
// message proto.Equal to protojson's.
func FuzzJSONToWire(f *testing.F) {
	r := rand.New(rand.NewSource(4))
	for i := 0; i < 200; i++ {
		g := &gen{r: r, invalid: i%4 == 0}
		sel := byte(i % len(testMsgs))
		if j := g.randomJSON(testMsgs[sel]); j != nil {
			f.Add(sel, false, j)
		}
	}
	for _, c := range everythingJSONCases {
		f.Add(byte(0), false, []byte(c))
	}
	for _, c := range p2JSONCases {
		f.Add(byte(2), true, []byte(c))
	}
	f.Fuzz(func(t *testing.T, sel byte, discard bool, in []byte) {
		md := testMsgs[int(sel)%len(testMsgs)]
		o := UnmarshalOptions{DiscardUnknown: discard, Resolver: testRes}
		if msg := checkJSONToWire(o, md, in); msg != "" {
			t.Fatalf("%s discard=%v %q: %s", md.FullName(), discard, in, msg)
		}
	})
}
