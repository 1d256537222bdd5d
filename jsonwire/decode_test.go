package jsonwire

import (
	"fmt"
	"math/rand"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// checkJSONToWire compares AppendWire with protojson.Unmarshal (dynamicpb):
// same acceptance, and proto.Equal results.
func checkJSONToWire(o UnmarshalOptions, md protoreflect.MessageDescriptor, in []byte) string {
	ref := dynamicpb.NewMessage(md)
	werr := protojson.UnmarshalOptions{DiscardUnknown: o.DiscardUnknown, Resolver: o.Resolver}.Unmarshal(in, ref)
	got, gerr := o.AppendWire(nil, md, in)
	switch {
	case werr != nil && gerr != nil:
		return ""
	case werr != nil:
		return fmt.Sprintf("reference failed (%v) but got %x", werr, got)
	case gerr != nil:
		return fmt.Sprintf("got error %v, reference accepted", gerr)
	}
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: o.Resolver}).Unmarshal(got, m); err != nil {
		return fmt.Sprintf("output %x does not parse: %v", got, err)
	}
	if !proto.Equal(m, ref) {
		a, _ := protojson.MarshalOptions{Resolver: o.Resolver, AllowPartial: true}.Marshal(m)
		b, _ := protojson.MarshalOptions{Resolver: o.Resolver, AllowPartial: true}.Marshal(ref)
		return fmt.Sprintf("not equal\n got: %s\nwant: %s", a, b)
	}
	return ""
}

// randomJSON returns protojson's output for a random message (with random
// options), or nil.
func (g *gen) randomJSON(md protoreflect.MessageDescriptor) []byte {
	wire := g.randomWire(md)
	o := allMarshalOptions()[g.r.Intn(8)]
	j, err := refJSON(o, md, wire)
	if err != nil {
		return nil
	}
	return j
}

func TestJSONToWireRandom(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	fails := 0
	for i := 0; i < 3000 && fails < 10; i++ {
		g := &gen{r: r, invalid: i%3 == 0}
		md := testMsgs[i%len(testMsgs)]
		j := g.randomJSON(md)
		if j == nil {
			continue
		}
		for _, disc := range []bool{false, true} {
			o := UnmarshalOptions{DiscardUnknown: disc, Resolver: testRes}
			if msg := checkJSONToWire(o, md, j); msg != "" {
				t.Errorf("%s %s: %s", md.FullName(), j, msg)
				fails++
				break
			}
		}
	}
}
