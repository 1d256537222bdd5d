package jsonwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"google.golang.org/genproto/googleapis/api/serviceconfig"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// A proto2 schema with what the generated test types lack: groups, required
// fields, defaults, negative/aliased enums, extensions, exotic map keys.
const p2Schema = `
name: "jsonwire_test.proto"
package: "jsonwire.test"
dependency: "google/protobuf/any.proto"
dependency: "google/protobuf/struct.proto"
message_type {
  name: "P2"
  field { name: "req_int" number: 1 label: LABEL_REQUIRED type: TYPE_INT32 }
  field { name: "opt_str" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING default_value: "hi" }
  field { name: "opt_enum" number: 3 label: LABEL_OPTIONAL type: TYPE_ENUM type_name: ".jsonwire.test.E2" default_value: "B" }
  field { name: "rep_packed" number: 4 label: LABEL_REPEATED type: TYPE_SINT64 options { packed: true } }
  field { name: "rep_unpacked" number: 5 label: LABEL_REPEATED type: TYPE_FIXED32 }
  field { name: "grp" number: 6 label: LABEL_OPTIONAL type: TYPE_GROUP type_name: ".jsonwire.test.P2.Grp" }
  field { name: "child" number: 7 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".jsonwire.test.P2" }
  field { name: "bmap" number: 8 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".jsonwire.test.P2.BmapEntry" }
  field { name: "s32map" number: 9 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".jsonwire.test.P2.S32mapEntry" }
  field { name: "f64map" number: 10 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".jsonwire.test.P2.F64mapEntry" }
  field { name: "custom_json" number: 11 label: LABEL_OPTIONAL type: TYPE_DOUBLE json_name: "renamed" }
  field { name: "o1" number: 12 label: LABEL_OPTIONAL type: TYPE_STRING oneof_index: 0 }
  field { name: "o2" number: 13 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".jsonwire.test.P2.Inner" oneof_index: 0 }
  field { name: "o3" number: 14 label: LABEL_OPTIONAL type: TYPE_FLOAT oneof_index: 0 }
  field { name: "repgrp" number: 15 label: LABEL_REPEATED type: TYPE_GROUP type_name: ".jsonwire.test.P2.RepGrp" }
  field { name: "rep_enum" number: 16 label: LABEL_REPEATED type: TYPE_ENUM type_name: ".jsonwire.test.E2" }
  field { name: "inner" number: 17 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".jsonwire.test.P2.Inner" }
  field { name: "rep_bytes" number: 18 label: LABEL_REPEATED type: TYPE_BYTES }
  field { name: "opt_u64" number: 19 label: LABEL_OPTIONAL type: TYPE_UINT64 default_value: "7" }
  field { name: "any" number: 20 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Any" }
  field { name: "null" number: 21 label: LABEL_OPTIONAL type: TYPE_ENUM type_name: ".google.protobuf.NullValue" }
  field { name: "rep_null" number: 22 label: LABEL_REPEATED type: TYPE_ENUM type_name: ".google.protobuf.NullValue" }
  field { name: "values" number: 23 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".google.protobuf.Value" }
  field { name: "b2" number: 24 label: LABEL_OPTIONAL type: TYPE_BOOL }
  field { name: "sf64" number: 25 label: LABEL_OPTIONAL type: TYPE_SFIXED64 }
  field { name: "i64map" number: 26 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".jsonwire.test.P2.I64mapEntry" }
  nested_type { name: "Grp" field { name: "a" number: 1 label: LABEL_OPTIONAL type: TYPE_INT64 } field { name: "b" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING } }
  nested_type { name: "RepGrp" field { name: "x" number: 1 label: LABEL_OPTIONAL type: TYPE_SINT32 } }
  nested_type { name: "Inner" field { name: "req" number: 1 label: LABEL_REQUIRED type: TYPE_STRING } field { name: "v" number: 2 label: LABEL_OPTIONAL type: TYPE_UINT32 } }
  nested_type { name: "BmapEntry" field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_BOOL } field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".jsonwire.test.P2.Inner" } options { map_entry: true } }
  nested_type { name: "S32mapEntry" field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_SINT32 } field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_BYTES } options { map_entry: true } }
  nested_type { name: "F64mapEntry" field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_FIXED64 } field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_ENUM type_name: ".jsonwire.test.E2" } options { map_entry: true } }
  nested_type { name: "I64mapEntry" field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_INT64 } field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING } options { map_entry: true } }
  oneof_decl { name: "choice" }
  extension_range { start: 100 end: 200 }
}
enum_type {
  name: "E2"
  options { allow_alias: true }
  value { name: "A" number: 0 }
  value { name: "B" number: 5 }
  value { name: "C" number: -3 }
  value { name: "C_ALIAS" number: -3 }
}
extension { name: "ext_int" number: 100 label: LABEL_OPTIONAL type: TYPE_INT32 extendee: ".jsonwire.test.P2" }
extension { name: "ext_msg" number: 101 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".jsonwire.test.P2.Inner" extendee: ".jsonwire.test.P2" }
extension { name: "ext_rep" number: 102 label: LABEL_REPEATED type: TYPE_STRING extendee: ".jsonwire.test.P2" }
extension { name: "ext_packed" number: 103 label: LABEL_REPEATED type: TYPE_INT32 extendee: ".jsonwire.test.P2" options { packed: true } }
`

// testResolver resolves the local proto2 schema (as dynamic types) first,
// then protoregistry.GlobalTypes.
type testResolver struct{ local *protoregistry.Types }

func (r testResolver) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	if mt, err := r.local.FindMessageByName(n); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (r testResolver) FindMessageByURL(u string) (protoreflect.MessageType, error) {
	if mt, err := r.local.FindMessageByURL(u); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(u)
}

func (r testResolver) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, err := r.local.FindExtensionByName(n); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (r testResolver) FindExtensionByNumber(m protoreflect.FullName, n protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, err := r.local.FindExtensionByNumber(m, n); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, n)
}

var (
	p2File   protoreflect.FileDescriptor
	testRes  testResolver
	p2Desc   protoreflect.MessageDescriptor
	testMsgs []protoreflect.MessageDescriptor
)

func init() {
	fdp := &descriptorpb.FileDescriptorProto{}
	if err := prototext.Unmarshal([]byte(p2Schema), fdp); err != nil {
		panic(err)
	}
	f, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		panic(err)
	}
	p2File = f
	local := new(protoregistry.Types)
	var regMsgs func(protoreflect.MessageDescriptors)
	regMsgs = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			if err := local.RegisterMessage(dynamicpb.NewMessageType(ms.Get(i))); err != nil {
				panic(err)
			}
			regMsgs(ms.Get(i).Messages())
		}
	}
	regMsgs(f.Messages())
	for i := 0; i < f.Extensions().Len(); i++ {
		if err := local.RegisterExtension(dynamicpb.NewExtensionType(f.Extensions().Get(i))); err != nil {
			panic(err)
		}
	}
	testRes = testResolver{local}
	p2Desc = f.Messages().ByName("P2")
	testMsgs = []protoreflect.MessageDescriptor{
		(&testingv1.Everything{}).ProtoReflect().Descriptor(),
		(&descriptorpb.FileDescriptorProto{}).ProtoReflect().Descriptor(),
		p2Desc,
		(&serviceconfig.Service{}).ProtoReflect().Descriptor(),
		(&structpb.Value{}).ProtoReflect().Descriptor(),
		(&anypb.Any{}).ProtoReflect().Descriptor(),
		(&timestamppb.Timestamp{}).ProtoReflect().Descriptor(),
	}
}

var errRefPanic = errors.New("reference panicked")

// refJSON is the reference: dynamicpb + proto.Unmarshal + protojson.
func refJSON(o MarshalOptions, md protoreflect.MessageDescriptor, wire []byte) (_ []byte, err error) {
	// protobuf-go's slow path panics on some malformed map entries (a key
	// or value occurrence with the wrong wire type after a good one): the
	// reference has no answer there.
	defer func() {
		if r := recover(); r != nil {
			err = errRefPanic
		}
	}()
	msg := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: o.Resolver}).Unmarshal(wire, msg); err != nil {
		return nil, err
	}
	return protojson.MarshalOptions{
		UseProtoNames: o.UseProtoNames, EmitUnpopulated: o.EmitUnpopulated,
		UseEnumNumbers: o.UseEnumNumbers, Resolver: o.Resolver,
	}.Marshal(msg)
}

func compact(b []byte) (string, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// checkWireToJSON compares AppendJSON with the reference; it returns a
// description of the mismatch or "".
func checkWireToJSON(o MarshalOptions, md protoreflect.MessageDescriptor, wire []byte) string {
	want, werr := refJSON(o, md, wire)
	got, gerr := o.AppendJSON(nil, md, wire)
	switch {
	case werr == errRefPanic:
		return ""
	case werr != nil && gerr != nil:
		return ""
	case werr != nil:
		return fmt.Sprintf("reference failed (%v) but got %s", werr, got)
	case gerr != nil:
		return fmt.Sprintf("got error %v, want %s", gerr, want)
	}
	w, err := compact(want)
	if err != nil {
		return "bad reference JSON: " + err.Error()
	}
	g, err := compact(got)
	if err != nil {
		return fmt.Sprintf("invalid JSON output %q: %v", got, err)
	}
	if w != g {
		return fmt.Sprintf("mismatch\n got: %s\nwant: %s", g, w)
	}
	return ""
}

// ---- random messages ----

type gen struct {
	r       *rand.Rand
	invalid bool // allow values protojson rejects
}

func (g *gen) str() string {
	const alpha = "abcXYZ _-\"\\/\n\t\x01\x1f\u00e9\u2028\U0001F600"
	n := g.r.Intn(8)
	var sb strings.Builder
	rs := []rune(alpha)
	for i := 0; i < n; i++ {
		sb.WriteRune(rs[g.r.Intn(len(rs))])
	}
	if g.invalid && g.r.Intn(40) == 0 {
		sb.WriteByte(0xff)
	}
	return sb.String()
}

func (g *gen) float() float64 {
	switch g.r.Intn(12) {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(1)
	case 2:
		return math.Inf(-1)
	case 3:
		return math.Copysign(0, -1)
	case 4:
		return 1e-7 * g.r.Float64()
	case 5:
		return 1e22 * g.r.Float64()
	case 6:
		return float64(g.r.Intn(1000))
	case 7:
		return math.MaxFloat64
	case 8:
		return 5e-324
	}
	return g.r.NormFloat64() * math.Pow(10, float64(g.r.Intn(40)-20))
}

func (g *gen) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	r := g.r
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.Intn(2) == 0)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if r.Intn(6) == 0 || vals.Len() == 0 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(r.Intn(20) - 5))
		}
		return protoreflect.ValueOfEnum(vals.Get(r.Intn(vals.Len())).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(g.intn()))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(g.intn())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(g.intn()))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(g.intn()))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(g.float()))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(g.float())
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(g.str())
	case protoreflect.BytesKind:
		b := make([]byte, r.Intn(7))
		r.Read(b)
		return protoreflect.ValueOfBytes(b)
	}
	panic("kind")
}

func (g *gen) intn() int64 {
	switch g.r.Intn(5) {
	case 0:
		return 0
	case 1:
		return -int64(g.r.Intn(300))
	case 2:
		return g.r.Int63()
	case 3:
		return -g.r.Int63()
	}
	return int64(g.r.Intn(300))
}

// message fills a new dynamic message for md.
func (g *gen) message(md protoreflect.MessageDescriptor, depth int) protoreflect.Message {
	m := dynamicpb.NewMessage(md)
	if g.wkt(m, depth) {
		return m
	}
	fds := md.Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		if fd.Cardinality() != protoreflect.Required && g.r.Intn(3) != 0 {
			continue
		}
		if fd.Cardinality() == protoreflect.Required && g.invalid && g.r.Intn(30) == 0 {
			continue
		}
		if fd.Message() != nil && depth <= 0 && fd.Cardinality() != protoreflect.Required {
			continue
		}
		g.setField(m, fd, depth)
	}
	if md == p2Desc && g.r.Intn(2) == 0 {
		xts := p2File.Extensions()
		xd := xts.Get(g.r.Intn(xts.Len()))
		xt, _ := testRes.local.FindExtensionByName(xd.FullName())
		g.setField(m, xt.TypeDescriptor(), depth)
	}
	return m
}

func (g *gen) setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, depth int) {
	elem := func(fd protoreflect.FieldDescriptor) protoreflect.Value {
		if fd.Message() != nil {
			if xd, ok := fd.(protoreflect.ExtensionTypeDescriptor); ok {
				sub := xd.Type().New().Message()
				src := g.message(fd.Message(), depth-1)
				src.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool { sub.Set(f, v); return true })
				return protoreflect.ValueOfMessage(sub)
			}
			return protoreflect.ValueOfMessage(g.message(fd.Message(), depth-1))
		}
		return g.scalar(fd)
	}
	switch {
	case fd.IsMap():
		mp := m.Mutable(fd).Map()
		for n := g.r.Intn(4); n > 0; n-- {
			mp.Set(g.scalar(fd.MapKey()).MapKey(), elem(fd.MapValue()))
		}
	case fd.IsList():
		l := m.Mutable(fd).List()
		for n := g.r.Intn(4); n > 0; n-- {
			l.Append(elem(fd))
		}
	default:
		m.Set(fd, elem(fd))
	}
}

func (g *gen) wkt(m protoreflect.Message, depth int) bool {
	md := m.Descriptor()
	fds := md.Fields()
	r := g.r
	set := func(name string, v protoreflect.Value) { m.Set(fds.ByName(protoreflect.Name(name)), v) }
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		if g.invalid && r.Intn(20) == 0 {
			set("seconds", protoreflect.ValueOfInt64(g.intn()))
		} else {
			set("seconds", protoreflect.ValueOfInt64(r.Int63n(maxTimestampSeconds-minTimestampSeconds)+minTimestampSeconds))
		}
		set("nanos", protoreflect.ValueOfInt32(int32(g.nanos())))
	case "google.protobuf.Duration":
		s := r.Int63n(2*maxDurationSeconds) - maxDurationSeconds
		n := int32(g.nanos())
		if r.Intn(3) == 0 {
			s = int64(r.Intn(3) - 1)
		}
		if (s < 0 || (s == 0 && r.Intn(2) == 0)) && !(g.invalid && r.Intn(10) == 0) {
			n = -n
		}
		set("seconds", protoreflect.ValueOfInt64(s))
		set("nanos", protoreflect.ValueOfInt32(n))
	case "google.protobuf.FieldMask":
		paths := []string{"a", "foo_bar", "a.b_c", "x1", "foo.bar.baz"}
		if g.invalid {
			paths = append(paths, "Bad", "a__b", "a_1", "", "a..b")
		}
		l := m.Mutable(fds.ByName("paths")).List()
		for n := r.Intn(4); n > 0; n-- {
			l.Append(protoreflect.ValueOfString(paths[r.Intn(len(paths))]))
		}
	case "google.protobuf.Value":
		k := r.Intn(6)
		if depth <= 0 {
			k = r.Intn(4)
		}
		switch k {
		case 0:
			set("null_value", protoreflect.ValueOfEnum(0))
		case 1:
			f := g.float()
			if !g.invalid && (math.IsNaN(f) || math.IsInf(f, 0)) {
				f = 1.5
			}
			set("number_value", protoreflect.ValueOfFloat64(f))
		case 2:
			set("string_value", protoreflect.ValueOfString(g.str()))
		case 3:
			set("bool_value", protoreflect.ValueOfBool(true))
		case 4:
			set("struct_value", protoreflect.ValueOfMessage(g.message(fds.ByName("struct_value").Message(), depth-1)))
		case 5:
			set("list_value", protoreflect.ValueOfMessage(g.message(fds.ByName("list_value").Message(), depth-1)))
		}
	case "google.protobuf.Any":
		if r.Intn(5) == 0 {
			return true
		}
		choices := []protoreflect.MessageDescriptor{
			testMsgs[0], p2Desc, (&timestamppb.Timestamp{}).ProtoReflect().Descriptor(),
			(&structpb.Value{}).ProtoReflect().Descriptor(), (&anypb.Any{}).ProtoReflect().Descriptor(),
			(&structpb.Struct{}).ProtoReflect().Descriptor(),
			p2Desc.Messages().ByName("Inner"),
		}
		emd := choices[r.Intn(len(choices))]
		if depth <= 0 {
			emd = choices[2]
		}
		inner := g.message(emd, depth-1)
		b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(inner.Interface())
		if err != nil {
			return true
		}
		url := "type.googleapis.com/" + string(emd.FullName())
		if g.invalid && r.Intn(20) == 0 {
			url = "type.googleapis.com/unknown.Type"
		}
		set("type_url", protoreflect.ValueOfString(url))
		set("value", protoreflect.ValueOfBytes(b))
	default:
		return false
	}
	return true
}

func (g *gen) nanos() int64 {
	switch g.r.Intn(4) {
	case 0:
		return 0
	case 1:
		return int64(g.r.Intn(1000)) * 1e6
	case 2:
		return int64(g.r.Intn(1000)) * 1e3
	}
	return int64(g.r.Intn(1e9))
}

// randomWire returns the wire form of a random message for md, sometimes
// concatenated with another one (merge semantics) or with unknown fields.
func (g *gen) randomWire(md protoreflect.MessageDescriptor) []byte {
	m := g.message(md, 3)
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m.Interface())
	if err != nil {
		return nil
	}
	if g.r.Intn(3) == 0 {
		m2 := g.message(md, 2)
		b2, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m2.Interface())
		if err == nil {
			b = append(b, b2...)
		}
	}
	if g.r.Intn(5) == 0 {
		b = append(b, 0xf8, 0xff, 0x3f, 0x01) // unknown field 131071 varint
	}
	return b
}
