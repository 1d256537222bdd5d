package transcoder

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/portico-gw/portico/jsonwire"
)

// Codecs for RPC protocols whose messages may be JSON (gRPC-Web +json,
// Connect with application/json, gRPC +json): the backend always speaks
// protobuf, so JSON messages are transcoded at the edge, through the
// method's schema, by jsonwire, without building a message in between.

// jsonToWire turns a JSON request message into protobuf wire bytes,
// straight from its tokens. A message that is not valid JSON for md is
// INVALID_ARGUMENT.
func (s *Snapshot) jsonToWire(m *method, md protoreflect.MessageDescriptor, data []byte) ([]byte, error) {
	b, err := (jsonwire.UnmarshalOptions{Resolver: m.backend.types}).AppendWire(nil, md, data)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid JSON message for %s: %v", md.FullName(), err)
	}
	return b, nil
}

// wireToJSON turns a protobuf reply message into JSON, with the method's
// output options, straight from its wire bytes.
func (s *Snapshot) wireToJSON(m *method, md protoreflect.MessageDescriptor, data []byte) ([]byte, error) {
	b, err := s.jsonOptions(m).AppendJSON(nil, md, data)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding %s from the backend as JSON: %v", md.FullName(), err)
	}
	return b, nil
}

// lookupMethod returns the method served at a gRPC path ("/pkg.Service/Method"),
// or nil.
func (s *Snapshot) lookupMethod(grpcPath string) *method { return s.methods[grpcPath] }
