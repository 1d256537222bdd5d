package transcoder

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Codecs for RPC protocols whose messages may be JSON (gRPC-Web +json,
// Connect with application/json): the backend always speaks protobuf, so
// JSON messages are transcoded at the edge, through the method's schema.

// jsonToWire turns a JSON request message into protobuf wire bytes. A
// message that is not valid JSON for md is INVALID_ARGUMENT.
func (s *Snapshot) jsonToWire(m *method, md protoreflect.MessageDescriptor, data []byte) ([]byte, error) {
	msg := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{Resolver: m.backend.types}).Unmarshal(data, msg); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid JSON message for %s: %v", md.FullName(), err)
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding %s: %v", md.FullName(), err)
	}
	return b, nil
}

// wireToJSON turns a protobuf reply message into JSON, with the snapshot's
// output options.
func (s *Snapshot) wireToJSON(m *method, md protoreflect.MessageDescriptor, data []byte) ([]byte, error) {
	msg := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: m.backend.types}).Unmarshal(data, msg); err != nil {
		return nil, status.Errorf(codes.Internal, "decoding %s from backend: %v", md.FullName(), err)
	}
	b, err := s.marshalOptions(m).Marshal(msg)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding %s as JSON: %v", md.FullName(), err)
	}
	return b, nil
}

// lookupMethod returns the method served at a gRPC path ("/pkg.Service/Method"),
// or nil.
func (s *Snapshot) lookupMethod(grpcPath string) *method { return s.methods[grpcPath] }
