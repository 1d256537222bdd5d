package jsonwire

import (
	"testing"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"google.golang.org/genproto/googleapis/api/serviceconfig"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Real descriptor files as FileDescriptorProto messages: proto2, options
// with extensions (google.api.http from GlobalTypes), source info, etc.
func TestRealFileDescriptors(t *testing.T) {
	files := []protoreflect.FileDescriptor{
		testingv1.File_portico_testing_v1_echo_proto,
		descriptorpb.File_google_protobuf_descriptor_proto,
		(&serviceconfig.Service{}).ProtoReflect().Descriptor().ParentFile(),
		p2File,
	}
	md := (&descriptorpb.FileDescriptorProto{}).ProtoReflect().Descriptor()
	for _, f := range files {
		fdp := protodesc.ToFileDescriptorProto(f)
		wire, err := proto.Marshal(fdp)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range allMarshalOptions() {
			o.Resolver = nil // GlobalTypes: google.api.http etc. resolve
			if msg := checkWireToJSON(o, md, wire); msg != "" {
				t.Errorf("%s %+v: %s", f.Path(), o, msg)
			}
			j, err := refJSON(o, md, wire)
			if err != nil {
				t.Fatal(err)
			}
			if msg := checkJSONToWire(UnmarshalOptions{}, md, j); msg != "" {
				t.Errorf("%s: JSON→wire: %s", f.Path(), msg)
			}
		}
	}
}
