package transcoder

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestParseFieldValue(t *testing.T) {
	s := loadTestSchema(t)
	nan := math.NaN()
	tests := []struct {
		field string
		text  string
		want  any    // Go value for scalars, proto.Message for messages
		err   string // substring of the error; "" means success
		md    protoreflect.MessageDescriptor
	}{
		// 32-bit signed
		{field: "f_int32", text: "42", want: int32(42)},
		{field: "f_int32", text: "-2147483648", want: int32(math.MinInt32)},
		{field: "f_int32", text: "+7", want: int32(7)},
		{field: "f_int32", text: "2147483648", err: "out of range"},
		{field: "f_int32", text: "0x10", err: "not an integer"},
		{field: "f_int32", text: "1_000", err: "not an integer"},
		{field: "f_int32", text: "1.0", err: "not an integer"},
		{field: "f_int32", text: "", err: "not an integer"},
		{field: "f_sint32", text: "-5", want: int32(-5)},
		{field: "f_sfixed32", text: "99", want: int32(99)},
		// 64-bit signed
		{field: "f_int64", text: "-9223372036854775808", want: int64(math.MinInt64)},
		{field: "f_int64", text: "9223372036854775808", err: "out of range"},
		{field: "f_sint64", text: "123", want: int64(123)},
		{field: "f_sfixed64", text: "-1", want: int64(-1)},
		// unsigned
		{field: "f_uint32", text: "4294967295", want: uint32(math.MaxUint32)},
		{field: "f_uint32", text: "4294967296", err: "out of range"},
		{field: "f_uint32", text: "-1", err: "not an unsigned"},
		{field: "f_fixed32", text: "7", want: uint32(7)},
		{field: "f_uint64", text: "18446744073709551615", want: uint64(math.MaxUint64)},
		{field: "f_uint64", text: "18446744073709551616", err: "out of range"},
		{field: "f_fixed64", text: "8", want: uint64(8)},
		// floats
		{field: "f_double", text: "1.5", want: 1.5},
		{field: "f_double", text: "-2e3", want: -2000.0},
		{field: "f_double", text: "NaN", want: nan},
		{field: "f_double", text: "Infinity", want: math.Inf(1)},
		{field: "f_double", text: "-Infinity", want: math.Inf(-1)},
		{field: "f_double", text: "inf", err: "not a number"},
		{field: "f_double", text: "nan", err: "not a number"},
		{field: "f_double", text: "0x1p3", err: "not a number"},
		{field: "f_double", text: "1e400", err: "out of range"},
		{field: "f_double", text: "-", err: "not a number"},
		{field: "f_double", text: "1..2", err: "not a number"},
		{field: "f_float", text: "0.25", want: float32(0.25)},
		{field: "f_float", text: "1e39", err: "out of range"},
		{field: "f_float", text: "NaN", want: float32(nan)},
		// bool
		{field: "f_bool", text: "true", want: true},
		{field: "f_bool", text: "false", want: false},
		{field: "f_bool", text: "1", want: true},
		{field: "f_bool", text: "0", want: false},
		{field: "f_bool", text: "True", err: "not a bool"},
		{field: "f_bool", text: "yes", err: "not a bool"},
		// string
		{field: "f_string", text: "hello world", want: "hello world"},
		{field: "f_string", text: "", want: ""},
		{field: "f_string", text: "\xff", err: "UTF-8"},
		// bytes: both alphabets, padded or not
		{field: "f_bytes", text: "+/8=", want: []byte{0xfb, 0xff}},
		{field: "f_bytes", text: "+/8", want: []byte{0xfb, 0xff}},
		{field: "f_bytes", text: "-_8=", want: []byte{0xfb, 0xff}},
		{field: "f_bytes", text: "-_8", want: []byte{0xfb, 0xff}},
		{field: "f_bytes", text: "aGk=", want: []byte("hi")},
		{field: "f_bytes", text: "", want: []byte{}},
		{field: "f_bytes", text: "a", err: "base64"},
		{field: "f_bytes", text: "!!!!", err: "base64"},
		{field: "f_bytes", text: "+_8=", err: "base64"},
		// open enum
		{field: "f_color", text: "RED", want: protoreflect.EnumNumber(1)},
		{field: "f_color", text: "2", want: protoreflect.EnumNumber(2)},
		{field: "f_color", text: "77", want: protoreflect.EnumNumber(77)},
		{field: "f_color", text: "-3", want: protoreflect.EnumNumber(-3)},
		{field: "f_color", text: "red", err: "not a value"},
		{field: "f_color", text: "99999999999", err: "out of range"},
		{field: "r_color", text: "GREEN", want: protoreflect.EnumNumber(2)},
		// closed enum (proto2)
		{md: s.legacy, field: "shade", text: "LIGHT", want: protoreflect.EnumNumber(2)},
		{md: s.legacy, field: "shade", text: "1", want: protoreflect.EnumNumber(1)},
		{md: s.legacy, field: "shade", text: "0", err: "closed enum"},
		{md: s.legacy, field: "shades", text: "7", err: "closed enum"},
		// repeated elements
		{field: "r_int32", text: "5", want: int32(5)},
		{field: "r_bytes", text: "aGk", want: []byte("hi")},
		// well-known types
		{field: "ts", text: "2024-05-06T07:08:09.5Z", want: timestamppb.New(time.Date(2024, 5, 6, 7, 8, 9, 5e8, time.UTC))},
		{field: "ts", text: "2024-05-06T09:08:09+02:00", want: timestamppb.New(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC))},
		{field: "ts", text: "0001-01-01T00:00:00Z", want: &timestamppb.Timestamp{Seconds: -62135596800}},
		{field: "ts", text: "0001-01-01T00:00:00+01:00", err: "timestamp"}, // before year 1
		{field: "ts", text: "2024-05-06", err: "RFC 3339"},
		{field: "ts", text: "1714979289", err: "RFC 3339"},
		{field: "r_ts", text: "1970-01-01T00:00:01Z", want: &timestamppb.Timestamp{Seconds: 1}},
		{field: "dur", text: "1.5s", want: &durationpb.Duration{Seconds: 1, Nanos: 5e8}},
		{field: "dur", text: "-0.000000001s", want: &durationpb.Duration{Nanos: -1}},
		{field: "dur", text: "30s", want: &durationpb.Duration{Seconds: 30}},
		{field: "dur", text: "315576000001s", err: "duration"}, // over 10,000 years
		{field: "dur", text: "1.0000000001s", err: "duration"},
		{field: "dur", text: "1m", err: "duration"},
		{field: "dur", text: "s", err: "duration"},
		{field: "dur", text: "1.s", want: durationpb.New(time.Second)}, // protojson accepts it
		{field: "dur", text: ".5s", want: durationpb.New(500 * time.Millisecond)},
		{field: "dur", text: "01s", err: "duration"},                             // protojson rejects leading zeros
		{field: "ts", text: "2024-01-01T00:00:00.1234567891Z", err: "timestamp"}, // ten fractional digits
		{field: "mask", text: "name,fooBar.bazQux,already_snake", want: &fieldmaskpb.FieldMask{Paths: []string{"name", "foo_bar.baz_qux", "already_snake"}}},
		{field: "mask", text: "", want: &fieldmaskpb.FieldMask{}},
		{field: "mask", text: "a,,b", err: "empty path"},
		{field: "mask", text: "a-b", err: "invalid character"},
		{field: "w_double", text: "2.5", want: wrapperspb.Double(2.5)},
		{field: "w_float", text: "2.5", want: wrapperspb.Float(2.5)},
		{field: "w_int64", text: "-9", want: wrapperspb.Int64(-9)},
		{field: "w_uint64", text: "9", want: wrapperspb.UInt64(9)},
		{field: "w_int32", text: "0", want: wrapperspb.Int32(0)},
		{field: "w_int32", text: "3000000000", err: "out of range"},
		{field: "w_uint32", text: "9", want: wrapperspb.UInt32(9)},
		{field: "w_bool", text: "true", want: wrapperspb.Bool(true)},
		{field: "w_string", text: "x y", want: wrapperspb.String("x y")},
		{field: "w_bytes", text: "aGk=", want: wrapperspb.Bytes([]byte("hi"))},
		{field: "val", text: "hello", want: structpb.NewStringValue("hello")},
		{field: "val", text: "12.5", want: structpb.NewNumberValue(12.5)},
		{field: "val", text: "true", want: structpb.NewBoolValue(true)},
		{field: "val", text: "null", want: structpb.NewNullValue()},
		{field: "val", text: `"quoted"`, want: structpb.NewStringValue("quoted")},
		{field: "val", text: `{"a":[1,"b"]}`, want: mustValue(t, map[string]any{"a": []any{1.0, "b"}})},
		{field: "val", text: "nonsense{", want: structpb.NewStringValue("nonsense{")},
		{field: "val", text: "12abc", want: structpb.NewStringValue("12abc")},
		{field: "strct", text: `{"k":"v"}`, want: mustStruct(t, map[string]any{"k": "v"})},
		{field: "strct", text: `[1]`, err: "JSON object"},
		{field: "lv", text: `[1,"a"]`, want: mustList(t, []any{1.0, "a"})},
		{field: "lv", text: `x`, err: "JSON array"},
		// messages that are not WKTs, and maps
		{field: "inner", text: "x", err: "is a message; set its fields with dotted names"},
		{field: "r_inner", text: "x", err: "is a message"},
		{field: "choice_msg", text: "{}", err: "is a message"},
		{field: "str_map", text: "x", err: "is a map"},
	}
	for _, tc := range tests {
		md := tc.md
		if md == nil {
			md = s.req
		}
		t.Run(tc.field+"="+tc.text, func(t *testing.T) {
			parent := dynamicpb.NewMessage(md)
			fd := md.Fields().ByName(protoreflect.Name(tc.field))
			if fd == nil {
				t.Fatalf("no field %s", tc.field)
			}
			v, err := parseFieldValue(parent, fd, tc.text)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("got %v, want error containing %q", v, tc.err)
				}
				if !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %q does not contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if parent.Has(fd) {
				t.Fatalf("parseFieldValue modified the parent")
			}
			switch want := tc.want.(type) {
			case proto.Message:
				got := v.Message().Interface()
				if !proto.Equal(got, want) {
					t.Fatalf("got %v, want %v", got, want)
				}
				if got.ProtoReflect().Descriptor() != fd.Message() {
					t.Fatalf("message made from descriptor %p, want the field's %p", got.ProtoReflect().Descriptor(), fd.Message())
				}
			case []byte:
				if got := v.Bytes(); !bytes.Equal(got, want) {
					t.Fatalf("got %x, want %x", got, want)
				}
			case float64:
				if got := v.Float(); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Fatalf("got %v, want %v", got, want)
				}
			case float32:
				if got := float32(v.Float()); got != want && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
					t.Fatalf("got %v, want %v", got, want)
				}
			default:
				if got := v.Interface(); got != want {
					t.Fatalf("got %v (%T), want %v (%T)", got, got, want, want)
				}
			}
			// The value must be acceptable to the parent as is.
			if fd.IsList() {
				parent.Mutable(fd).List().Append(v)
			} else {
				parent.Set(fd, v)
			}
		})
	}
}

func mustValue(t *testing.T, v any) *structpb.Value {
	t.Helper()
	x, err := structpb.NewValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func mustStruct(t *testing.T, v map[string]any) *structpb.Struct {
	t.Helper()
	x, err := structpb.NewStruct(v)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func mustList(t *testing.T, v []any) *structpb.ListValue {
	t.Helper()
	x, err := structpb.NewList(v)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestResolveFieldPath(t *testing.T) {
	s := loadTestSchema(t)
	tests := []struct {
		dotted  string
		want    string // proto names joined by "."
		unknown bool   // error wraps errFieldPathUnknown
		err     string // other error substring
	}{
		{dotted: "f_int32", want: "f_int32"},
		{dotted: "fInt32", want: "f_int32"},
		{dotted: "inner.child.name", want: "inner.child.name"},
		{dotted: "inner.child.child.count", want: "inner.child.child.count"},
		{dotted: "inner.tags", want: "inner.tags"},
		{dotted: "rInner", want: "r_inner"},
		{dotted: "strMap", want: "str_map"},
		{dotted: "choiceMsg.name", want: "choice_msg.name"},
		{dotted: "customJson", want: "json_named"},
		{dotted: "json_named", want: "json_named"},
		{dotted: "ts.seconds", want: "ts.seconds"},
		{dotted: "jsonNamed", unknown: true},
		{dotted: "nope", unknown: true},
		{dotted: "inner.nope", unknown: true},
		{dotted: "", unknown: true},
		{dotted: "inner.", unknown: true},
		{dotted: ".inner", unknown: true},
		{dotted: "r_inner.name", err: "repeated"},
		{dotted: "str_map.key", err: "map"},
		{dotted: "f_int32.x", err: "not a message"},
		{dotted: "inner.name.x", err: "not a message"},
	}
	for _, tc := range tests {
		t.Run(tc.dotted, func(t *testing.T) {
			path, err := resolveFieldPath(s.req, tc.dotted)
			switch {
			case tc.unknown:
				if !errors.Is(err, errFieldPathUnknown) {
					t.Fatalf("got %v, %v; want an unknown-field error", path, err)
				}
			case tc.err != "":
				if err == nil || errors.Is(err, errFieldPathUnknown) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want an error containing %q", path, err, tc.err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if got := fieldPathString(path); got != tc.want {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
			}
		})
	}
}

func TestSetFieldPath(t *testing.T) {
	s := loadTestSchema(t)
	resolve := func(d string) []protoreflect.FieldDescriptor {
		t.Helper()
		p, err := resolveFieldPath(s.req, d)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	msg := dynamicpb.NewMessage(s.req)
	for _, step := range []struct{ path, text string }{
		{"inner.child.name", "deep"},
		{"inner.count", "3"},
		{"inner.tags", "a"},
		{"inner.tags", "b"},
		{"r_ts", "1970-01-01T00:00:02Z"},
		{"ts", "1970-01-01T00:00:03Z"},
		{"choice_a", "x"},
		{"choice_a", "y"}, // same member again: replaced
		{"optInt", "0"},
	} {
		if err := setFieldPath(msg, resolve(step.path), step.text); err != nil {
			t.Fatalf("%s=%s: %v", step.path, step.text, err)
		}
	}
	want := newTestRequest(t)
	mustUnmarshalJSON(t, want, `{
		"inner": {"child": {"name": "deep"}, "count": 3, "tags": ["a", "b"]},
		"rTs": ["1970-01-01T00:00:02Z"], "ts": "1970-01-01T00:00:03Z",
		"choiceA": "y", "optInt": 0}`)
	if !proto.Equal(msg, want) {
		t.Fatalf("got %v\nwant %v", msg, want)
	}

	for _, bad := range []struct{ path, text, err string }{
		{"choice_b", "1", "oneof"},
		{"choice_msg.name", "z", "oneof"},
		{"str_map", "x", "map"},
		{"f_int32", "x", "not an integer"},
		{"inner", "x", "is a message"},
	} {
		err := setFieldPath(msg, resolve(bad.path), bad.text)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), bad.err) || !strings.Contains(err.Error(), "path variable") {
			t.Errorf("%s=%s: got %v, want InvalidArgument path variable error containing %q", bad.path, bad.text, err, bad.err)
		}
	}
	if err := setFieldPath(msg, nil, "x"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("empty path: got %v", err)
	}
}
