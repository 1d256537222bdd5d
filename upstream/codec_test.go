package upstream_test

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"

	"github.com/portico-gw/portico/upstream"
)

func TestRawCodecPassesBytesThrough(t *testing.T) {
	codec := upstream.RawCodec{}
	if codec.Name() != "proto" {
		t.Errorf("name %q: backends must see application/grpc+proto", codec.Name())
	}
	in := &upstream.Frame{Data: []byte{0x0a, 0x03, 'a', 'b', 'c'}}
	out, err := codec.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Materialize(); !bytes.Equal(got, in.Data) {
		t.Fatalf("marshalled %x, want %x", got, in.Data)
	}

	// Unmarshal copies: the transport may reuse its buffers afterwards.
	buf := []byte{1, 2, 3}
	var f upstream.Frame
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(buf)}, &f); err != nil {
		t.Fatal(err)
	}
	buf[0] = 9
	if !bytes.Equal(f.Data, []byte{1, 2, 3}) {
		t.Errorf("unmarshalled %x shares the transport's buffer", f.Data)
	}

	if _, err := codec.Marshal("not a frame"); err == nil {
		t.Error("marshalled a value that is not a *Frame")
	}
	if err := codec.Unmarshal(nil, new(string)); err == nil {
		t.Error("unmarshalled into a value that is not a *Frame")
	}
}
