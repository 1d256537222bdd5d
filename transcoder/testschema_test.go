package transcoder

import (
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The test schema is built in code, so the tests exercise descriptors that
// are learned at run time exactly as the gateway's are: a local
// protoregistry.Files, protodesc.NewFile and dynamicpb messages, never the
// global registry.
//
// portico/test/query.proto (proto3), package portico.test:
//
//	enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; }
//	message Inner { string name = 1; int32 count = 2; Inner child = 3; repeated string tags = 4; }
//	message TestRequest {
//	  int32 f_int32 = 1; ... Color f_color = 16;         // every scalar kind
//	  repeated int32 r_int32 = 21; ... repeated Color r_color = 36;
//	  Inner inner = 40; repeated Inner r_inner = 41;
//	  map<string,string> str_map = 42; map<int32,string> int_map = 43;
//	  map<string,Color> enum_map = 44; map<string,google.protobuf.Timestamp> ts_map = 45;
//	  oneof choice { string choice_a = 50; int64 choice_b = 51; Inner choice_msg = 52; }
//	  google.protobuf.DoubleValue w_double = 60; ... BytesValue w_bytes = 68;
//	  Timestamp ts = 70; Duration dur = 71; FieldMask mask = 72; Value val = 73;
//	  Struct strct = 74; ListValue lv = 75; repeated Timestamp r_ts = 76;
//	  optional int32 opt_int = 80;
//	  string json_named = 81 [json_name = "customJson"];
//	}
//
// portico/test/legacy.proto (proto2): enum Shade { DARK = 1; LIGHT = 2; }
// message Legacy { optional Shade shade = 1; repeated Shade shades = 2; }

type testSchema struct {
	req    protoreflect.MessageDescriptor // portico.test.TestRequest
	inner  protoreflect.MessageDescriptor // portico.test.Inner
	legacy protoreflect.MessageDescriptor // portico.test.Legacy
}

var (
	testSchemaOnce sync.Once
	testSchemaVal  testSchema
	testSchemaErr  error
)

func loadTestSchema(tb testing.TB) testSchema {
	tb.Helper()
	testSchemaOnce.Do(func() { testSchemaVal, testSchemaErr = buildTestSchema() })
	if testSchemaErr != nil {
		tb.Fatalf("building test schema: %v", testSchemaErr)
	}
	return testSchemaVal
}

func newTestRequest(tb testing.TB) *dynamicpb.Message {
	return dynamicpb.NewMessage(loadTestSchema(tb).req)
}

type scalarSpec struct {
	suffix string
	typ    descriptorpb.FieldDescriptorProto_Type
}

var testScalarKinds = []scalarSpec{
	{"int32", descriptorpb.FieldDescriptorProto_TYPE_INT32},
	{"sint32", descriptorpb.FieldDescriptorProto_TYPE_SINT32},
	{"sfixed32", descriptorpb.FieldDescriptorProto_TYPE_SFIXED32},
	{"int64", descriptorpb.FieldDescriptorProto_TYPE_INT64},
	{"sint64", descriptorpb.FieldDescriptorProto_TYPE_SINT64},
	{"sfixed64", descriptorpb.FieldDescriptorProto_TYPE_SFIXED64},
	{"uint32", descriptorpb.FieldDescriptorProto_TYPE_UINT32},
	{"fixed32", descriptorpb.FieldDescriptorProto_TYPE_FIXED32},
	{"uint64", descriptorpb.FieldDescriptorProto_TYPE_UINT64},
	{"fixed64", descriptorpb.FieldDescriptorProto_TYPE_FIXED64},
	{"float", descriptorpb.FieldDescriptorProto_TYPE_FLOAT},
	{"double", descriptorpb.FieldDescriptorProto_TYPE_DOUBLE},
	{"bool", descriptorpb.FieldDescriptorProto_TYPE_BOOL},
	{"string", descriptorpb.FieldDescriptorProto_TYPE_STRING},
	{"bytes", descriptorpb.FieldDescriptorProto_TYPE_BYTES},
}

const (
	tOpt = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	tRep = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	tMsg = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	tEnm = descriptorpb.FieldDescriptorProto_TYPE_ENUM
	tStr = descriptorpb.FieldDescriptorProto_TYPE_STRING
	tI32 = descriptorpb.FieldDescriptorProto_TYPE_INT32
	tI64 = descriptorpb.FieldDescriptorProto_TYPE_INT64
)

func tField(name string, num int32, label descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
	f := &descriptorpb.FieldDescriptorProto{
		Name:   proto.String(name),
		Number: proto.Int32(num),
		Label:  label.Enum(),
		Type:   typ.Enum(),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

// tMap adds a map field and its entry type to msg.
func tMap(msg *descriptorpb.DescriptorProto, fullMsg, name string, num int32, entry string, key, val *descriptorpb.FieldDescriptorProto) {
	key.Name, key.Number, key.Label = proto.String("key"), proto.Int32(1), tOpt.Enum()
	val.Name, val.Number, val.Label = proto.String("value"), proto.Int32(2), tOpt.Enum()
	msg.NestedType = append(msg.NestedType, &descriptorpb.DescriptorProto{
		Name:    proto.String(entry),
		Field:   []*descriptorpb.FieldDescriptorProto{key, val},
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
	})
	msg.Field = append(msg.Field, tField(name, num, tRep, tMsg, fullMsg+"."+entry))
}

func buildTestSchema() (testSchema, error) {
	var files protoregistry.Files
	for _, fd := range []protoreflect.FileDescriptor{
		timestamppb.File_google_protobuf_timestamp_proto,
		durationpb.File_google_protobuf_duration_proto,
		fieldmaskpb.File_google_protobuf_field_mask_proto,
		wrapperspb.File_google_protobuf_wrappers_proto,
		structpb.File_google_protobuf_struct_proto,
	} {
		if err := files.RegisterFile(fd); err != nil {
			return testSchema{}, err
		}
	}

	const req = ".portico.test.TestRequest"
	inner := &descriptorpb.DescriptorProto{
		Name: proto.String("Inner"),
		Field: []*descriptorpb.FieldDescriptorProto{
			tField("name", 1, tOpt, tStr, ""),
			tField("count", 2, tOpt, tI32, ""),
			tField("child", 3, tOpt, tMsg, ".portico.test.Inner"),
			tField("tags", 4, tRep, tStr, ""),
		},
	}
	m := &descriptorpb.DescriptorProto{Name: proto.String("TestRequest")}
	for i, s := range testScalarKinds {
		m.Field = append(m.Field, tField("f_"+s.suffix, int32(1+i), tOpt, s.typ, ""))
	}
	m.Field = append(m.Field, tField("f_color", 16, tOpt, tEnm, ".portico.test.Color"))
	for i, s := range testScalarKinds {
		m.Field = append(m.Field, tField("r_"+s.suffix, int32(21+i), tRep, s.typ, ""))
	}
	m.Field = append(m.Field,
		tField("r_color", 36, tRep, tEnm, ".portico.test.Color"),
		tField("inner", 40, tOpt, tMsg, ".portico.test.Inner"),
		tField("r_inner", 41, tRep, tMsg, ".portico.test.Inner"),
	)
	tMap(m, req, "str_map", 42, "StrMapEntry", tField("", 0, tOpt, tStr, ""), tField("", 0, tOpt, tStr, ""))
	tMap(m, req, "int_map", 43, "IntMapEntry", tField("", 0, tOpt, tI32, ""), tField("", 0, tOpt, tStr, ""))
	tMap(m, req, "enum_map", 44, "EnumMapEntry", tField("", 0, tOpt, tStr, ""), tField("", 0, tOpt, tEnm, ".portico.test.Color"))
	tMap(m, req, "ts_map", 45, "TsMapEntry", tField("", 0, tOpt, tStr, ""), tField("", 0, tOpt, tMsg, ".google.protobuf.Timestamp"))

	m.OneofDecl = append(m.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("choice")})
	for _, f := range []*descriptorpb.FieldDescriptorProto{
		tField("choice_a", 50, tOpt, tStr, ""),
		tField("choice_b", 51, tOpt, tI64, ""),
		tField("choice_msg", 52, tOpt, tMsg, ".portico.test.Inner"),
	} {
		f.OneofIndex = proto.Int32(0)
		m.Field = append(m.Field, f)
	}
	for i, w := range []string{"Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes"} {
		m.Field = append(m.Field, tField("w_"+strings.ToLower(w), int32(60+i), tOpt, tMsg, ".google.protobuf."+w+"Value"))
	}
	m.Field = append(m.Field,
		tField("ts", 70, tOpt, tMsg, ".google.protobuf.Timestamp"),
		tField("dur", 71, tOpt, tMsg, ".google.protobuf.Duration"),
		tField("mask", 72, tOpt, tMsg, ".google.protobuf.FieldMask"),
		tField("val", 73, tOpt, tMsg, ".google.protobuf.Value"),
		tField("strct", 74, tOpt, tMsg, ".google.protobuf.Struct"),
		tField("lv", 75, tOpt, tMsg, ".google.protobuf.ListValue"),
		tField("r_ts", 76, tRep, tMsg, ".google.protobuf.Timestamp"),
	)
	opt := tField("opt_int", 80, tOpt, tI32, "")
	opt.Proto3Optional = proto.Bool(true)
	opt.OneofIndex = proto.Int32(1)
	m.OneofDecl = append(m.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("_opt_int")})
	jn := tField("json_named", 81, tOpt, tStr, "")
	jn.JsonName = proto.String("customJson")
	m.Field = append(m.Field, opt, jn)

	mainFile := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("portico/test/query.proto"),
		Package: proto.String("portico.test"),
		Syntax:  proto.String("proto3"),
		Dependency: []string{
			"google/protobuf/timestamp.proto",
			"google/protobuf/duration.proto",
			"google/protobuf/field_mask.proto",
			"google/protobuf/wrappers.proto",
			"google/protobuf/struct.proto",
		},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Color"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("COLOR_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("RED"), Number: proto.Int32(1)},
				{Name: proto.String("GREEN"), Number: proto.Int32(2)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{inner, m},
	}
	legacyFile := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("portico/test/legacy.proto"),
		Package: proto.String("portico.test"),
		Syntax:  proto.String("proto2"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Shade"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("DARK"), Number: proto.Int32(1)},
				{Name: proto.String("LIGHT"), Number: proto.Int32(2)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Legacy"),
			Field: []*descriptorpb.FieldDescriptorProto{
				tField("shade", 1, tOpt, tEnm, ".portico.test.Shade"),
				tField("shades", 2, tRep, tEnm, ".portico.test.Shade"),
			},
		}},
	}

	var s testSchema
	for _, fp := range []*descriptorpb.FileDescriptorProto{mainFile, legacyFile} {
		fd, err := protodesc.NewFile(fp, &files)
		if err != nil {
			return testSchema{}, err
		}
		if err := files.RegisterFile(fd); err != nil {
			return testSchema{}, err
		}
		if md := fd.Messages().ByName("TestRequest"); md != nil {
			s.req = md
			s.inner = fd.Messages().ByName("Inner")
		}
		if md := fd.Messages().ByName("Legacy"); md != nil {
			s.legacy = md
		}
	}
	return s, nil
}

// TestFieldValueSchemaBuilds checks the schema itself, so a mistake in it
// shows up as one clear failure.
func TestFieldValueSchemaBuilds(t *testing.T) {
	s := loadTestSchema(t)
	if s.req.Fields().ByName("w_uint64").Message().FullName() != "google.protobuf.UInt64Value" {
		t.Fatal("w_uint64 has the wrong type")
	}
	if !s.legacy.Fields().ByName("shade").Enum().IsClosed() {
		t.Fatal("Shade should be closed")
	}
	if s.req.Fields().ByName("f_color").Enum().IsClosed() {
		t.Fatal("Color should be open")
	}
}
