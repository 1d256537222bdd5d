package transcoder_test

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/schema"
	"github.com/portico-gw/portico/upstream"
)

func mustStruct(s string) *structpb.Struct {
	out := &structpb.Struct{}
	if err := protojson.Unmarshal([]byte(s), out); err != nil {
		panic(err)
	}
	return out
}

func mustValue(s string) *structpb.Value {
	out := &structpb.Value{}
	if err := protojson.Unmarshal([]byte(s), out); err != nil {
		panic(err)
	}
	return out
}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

func negInf() float64 { return math.Inf(-1) }

func itoa(i int) string { return strconv.Itoa(i) }

// assertJSONEqual compares two JSON documents by value.
func assertJSONEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("reply %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %q: %v", want, err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("JSON (-want +got):\n%s\ngot: %s", diff, got)
	}
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dialBackend(t testing.TB, b *testbackend.Backend) *upstream.Backend {
	t.Helper()
	conn, err := upstream.Dial(b.Name, b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func schemaFromReflection(ctx context.Context, conn *upstream.Backend) (*schema.Schema, error) {
	return schema.FromReflection(ctx, conn.Conn, conn.Target)
}
