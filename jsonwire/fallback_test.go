package jsonwire

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// A message with more than 64 required fields uses the dynamicpb fallback,
// and so does every message that (transitively) contains it.
func TestFallbackManyRequired(t *testing.T) {
	big := &descriptorpb.DescriptorProto{Name: proto.String("Big")}
	for i := 1; i <= 65; i++ {
		big.Field = append(big.Field, &descriptorpb.FieldDescriptorProto{
			Name: proto.String(fmt.Sprintf("f%d", i)), Number: proto.Int32(int32(i)),
			Label: descriptorpb.FieldDescriptorProto_LABEL_REQUIRED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum(),
		})
	}
	outer := &descriptorpb.DescriptorProto{Name: proto.String("Outer"), Field: []*descriptorpb.FieldDescriptorProto{{
		Name: proto.String("big"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".fb.Big"),
	}}}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("fb.proto"), Package: proto.String("fb"), MessageType: []*descriptorpb.DescriptorProto{big, outer},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	bigMD, outerMD := fd.Messages().ByName("Big"), fd.Messages().ByName("Outer")
	if !planFor(outerMD).fallback || !planFor(bigMD).fallback {
		t.Fatal("fallback not detected")
	}
	var full, partial []byte
	for i := 1; i <= 65; i++ {
		full = protowire.AppendVarint(protowire.AppendTag(full, protowire.Number(i), protowire.VarintType), uint64(i))
		if i != 30 {
			partial = protowire.AppendVarint(protowire.AppendTag(partial, protowire.Number(i), protowire.VarintType), uint64(i))
		}
	}
	for _, w := range [][]byte{full, partial, protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), full), nil} {
		if msg := checkWireToJSON(MarshalOptions{}, bigMD, w); msg != "" {
			t.Error(msg)
		}
		if msg := checkWireToJSON(MarshalOptions{}, outerMD, w); msg != "" {
			t.Error(msg)
		}
		if j, err := refJSON(MarshalOptions{}, bigMD, w); err == nil {
			if msg := checkJSONToWire(UnmarshalOptions{}, bigMD, j); msg != "" {
				t.Error(msg)
			}
		}
	}
	if msg := checkJSONToWire(UnmarshalOptions{}, outerMD, []byte(`{"big": {"f1": 1}}`)); msg != "" {
		t.Error(msg)
	}
}
