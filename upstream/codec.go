package upstream

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// Frame is a message already encoded in the protobuf wire format.
type Frame struct {
	// Data is the encoded message. On the receiving side it is a fresh slice
	// owned by the caller.
	Data []byte
}

// RawCodec passes [Frame] values through as they are. Its name is "proto", so
// backends see the usual application/grpc+proto content type. It is chosen
// per call (grpc.ForceCodecV2), never as the connection's default, because
// the same connection also carries calls with generated messages, such as
// reflection.
type RawCodec struct{}

var _ encoding.CodecV2 = RawCodec{}

// Name implements encoding.CodecV2.
func (RawCodec) Name() string { return "proto" }

// Marshal implements encoding.CodecV2.
func (RawCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*Frame)
	if !ok {
		return nil, fmt.Errorf("upstream: RawCodec cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(f.Data)}, nil
}

// Unmarshal implements encoding.CodecV2.
func (RawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*Frame)
	if !ok {
		return fmt.Errorf("upstream: RawCodec cannot unmarshal into %T", v)
	}
	f.Data = data.Materialize()
	return nil
}
