package transcoder

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file turns the text of a REST path variable or query parameter into a
// protobuf value for a field known only by its descriptor. Everything is
// driven by the descriptors the gateway learned at run time: no lookup ever
// goes through the global registry, and messages are always created by the
// message that will hold them, so they carry the right descriptor (and, for
// generated parents, the right Go type).
//
// Text forms accepted, per kind:
//
//   - int32, sint32, sfixed32, int64, sint64, sfixed64, uint32, fixed32,
//     uint64, fixed64: a base-10 integer with an optional sign ("+" or "-";
//     unsigned kinds accept "+" only) that fits the kind. No hex, no
//     underscores, no exponents.
//   - float, double: a decimal or exponent literal, or exactly "NaN",
//     "Infinity" or "-Infinity" (the protojson spellings). A finite literal
//     that overflows the kind is an error.
//   - bool: "true" or "false", and also "1" or "0" because HTML forms and
//     many clients send those. Nothing else (not "True", "t", "yes").
//   - string: the text as is; it must be valid UTF-8.
//   - bytes: base64 in the standard or the URL-safe alphabet, padded or not.
//     Note that in a query string a literal "+" means a space, so standard
//     base64 must be percent-encoded there, or sent URL-safe.
//   - enum: a value name as declared ("COLOR_RED"), or a decimal number. A
//     number the enum does not declare is accepted only if the enum is open
//     (proto3 semantics); a closed enum rejects it. A field of type
//     google.protobuf.NullValue also accepts "null".
//   - message: only the well-known types that have a scalar JSON form:
//     Timestamp (RFC 3339, "Z" or a numeric offset), Duration ("1.5s",
//     protojson form), FieldMask (comma-separated paths, lowerCamelCase
//     converted to snake_case as protojson does; snake_case is accepted too),
//     the nine wrappers (the text form of the wrapped scalar), Value (a JSON
//     value if the text is valid JSON, otherwise the text as a string
//     value), Struct (a JSON object) and ListValue (a JSON array). Any
//     other message must be filled through its fields with dotted names.

// parseFieldValue parses the text form of a single value for field fd of
// parent: the field's value if it is singular, or one element if it is
// repeated. Map fields are rejected: their keys and values are parsed by
// the query binder, which knows both texts.
//
// For message-typed fields the returned value holds a new message made by
// parent (NewField for a singular field, a new element of a list made by
// NewField for a repeated one), so it can be passed to parent.Set, or to
// Append on parent's list, as is. parent itself is not modified.
//
// The error is a plain error describing the problem; callers wrap it with
// badPathValue or badQueryValue, which know what the text was bound from.
func parseFieldValue(parent protoreflect.Message, fd protoreflect.FieldDescriptor, text string) (protoreflect.Value, error) {
	if fd.IsMap() {
		return protoreflect.Value{}, fmt.Errorf("field %s is a map; set its entries with %s[key]=value", fd.Name(), fd.Name())
	}
	if k := fd.Kind(); k != protoreflect.MessageKind && k != protoreflect.GroupKind {
		return parseScalarText(fd, text)
	}
	newMsg := func() protoreflect.Message {
		if fd.IsList() {
			return parent.NewField(fd).List().NewElement().Message()
		}
		return parent.NewField(fd).Message()
	}
	return parseWKTValue(fd, text, newMsg)
}

// parseWKTValue parses text as a well-known message type. newMsg makes
// the (empty) message to fill; it is called only once the type is known to
// be supported. fd names the field in error messages.
func parseWKTValue(fd protoreflect.FieldDescriptor, text string, newMsg func() protoreflect.Message) (protoreflect.Value, error) {
	md := fd.Message()
	if md == nil || !isTextWKT(md.FullName()) {
		return protoreflect.Value{}, fmt.Errorf("field %s is a message; set its fields with dotted names", fd.Name())
	}
	m := newMsg()
	if err := fillWKTFromText(m, text); err != nil {
		return protoreflect.Value{}, err
	}
	return protoreflect.ValueOfMessage(m), nil
}

// isTextWKT reports whether a message type has a text form that
// parseFieldValue understands.
func isTextWKT(name protoreflect.FullName) bool {
	if !strings.HasPrefix(string(name), "google.protobuf.") {
		return false
	}
	switch name[len("google.protobuf."):] {
	case "Timestamp", "Duration", "FieldMask", "Value", "Struct", "ListValue",
		"DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value",
		"UInt32Value", "BoolValue", "StringValue", "BytesValue":
		return true
	}
	return false
}

// fillWKTFromText sets the fields of the empty well-known-type message m from text.
// Fields are found by number in m's own descriptor.
func fillWKTFromText(m protoreflect.Message, text string) error {
	md := m.Descriptor()
	fields := md.Fields()
	switch md.FullName()[len("google.protobuf."):] {
	case "Timestamp", "Duration":
		// The text form is exactly the JSON string form, so protojson
		// parses it: a value is accepted here if and only if it would be
		// in a JSON body.
		quoted, err := json.Marshal(text)
		if err != nil {
			return err
		}
		if err := (protojson.UnmarshalOptions{}).Unmarshal(quoted, m.Interface()); err != nil {
			if md.Name() == "Timestamp" {
				return errors.New(`not an RFC 3339 timestamp such as "2024-01-02T03:04:05.5Z"`)
			}
			return errors.New(`not a duration such as "1.5s"`)
		}
		return nil
	case "FieldMask":
		return fillFieldMaskText(m, text)
	case "Value":
		if textLooksLikeJSON(text) {
			if err := (protojson.UnmarshalOptions{}).Unmarshal([]byte(text), m.Interface()); err == nil {
				return nil
			}
			proto.Reset(m.Interface())
		}
		if !utf8.ValidString(text) {
			return errors.New("invalid UTF-8")
		}
		sv := fields.ByName("string_value")
		if sv == nil {
			return errors.New("google.protobuf.Value has no string_value field")
		}
		m.Set(sv, protoreflect.ValueOfString(text))
		return nil
	case "Struct", "ListValue":
		if err := (protojson.UnmarshalOptions{}).Unmarshal([]byte(text), m.Interface()); err != nil {
			want := "array"
			if md.Name() == "Struct" {
				want = "object"
			}
			return fmt.Errorf("not a JSON %s: %w", want, err)
		}
		return nil
	default: // the wrappers
		vf := fields.ByNumber(1)
		if vf == nil {
			return fmt.Errorf("%s has no value field", md.FullName())
		}
		v, err := parseScalarText(vf, text)
		if err != nil {
			return err
		}
		m.Set(vf, v)
		return nil
	}
}

// textLooksLikeJSON reports whether text could be a JSON value, so that plain
// words are not pushed through the JSON decoder for nothing.
func textLooksLikeJSON(text string) bool {
	t := strings.TrimLeft(text, " \t\r\n")
	if t == "" {
		return false
	}
	c := t[0]
	return c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') ||
		c == 't' || c == 'f' || c == 'n'
}

// fillFieldMaskText sets the paths of a FieldMask from a comma-separated list.
// Each path is converted from lowerCamelCase to snake_case, as protojson
// does; paths already in snake_case are unchanged. The empty text is the
// empty mask.
func fillFieldMaskText(m protoreflect.Message, text string) error {
	pf := m.Descriptor().Fields().ByNumber(1)
	if pf == nil || !pf.IsList() || pf.Kind() != protoreflect.StringKind {
		return errors.New("google.protobuf.FieldMask has no paths field")
	}
	if text == "" {
		return nil
	}
	list := m.Mutable(pf).List()
	for rest := text; ; {
		p, more, found := strings.Cut(rest, ",")
		p = strings.TrimSpace(p)
		if p == "" {
			return errors.New("empty path in field mask")
		}
		var b strings.Builder
		for i := 0; i < len(p); i++ {
			c := p[i]
			switch {
			case c >= 'A' && c <= 'Z':
				b.WriteByte('_')
				b.WriteByte(c + ('a' - 'A'))
			case (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.':
				b.WriteByte(c)
			default:
				return fmt.Errorf("invalid character %q in field mask path %q", c, p)
			}
		}
		list.Append(protoreflect.ValueOfString(b.String()))
		if !found {
			return nil
		}
		rest = more
	}
}

// parseScalarText parses the text of a value of a non-message field.
func parseScalarText(fd protoreflect.FieldDescriptor, text string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		switch text {
		case "true", "1":
			return protoreflect.ValueOfBool(true), nil
		case "false", "0":
			return protoreflect.ValueOfBool(false), nil
		}
		return protoreflect.Value{}, errors.New(`not a bool: use "true" or "false"`)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := parseIntText(text, 32)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := parseIntText(text, 64)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := parseUintText(text, 32)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := parseUintText(text, 64)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfUint64(n), nil
	case protoreflect.FloatKind:
		f, err := parseFloatText(text, 32)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfFloat32(float32(f)), nil
	case protoreflect.DoubleKind:
		f, err := parseFloatText(text, 64)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfFloat64(f), nil
	case protoreflect.StringKind:
		if !utf8.ValidString(text) {
			return protoreflect.Value{}, errors.New("invalid UTF-8")
		}
		return protoreflect.ValueOfString(text), nil
	case protoreflect.BytesKind:
		b, err := decodeBase64Text(text)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfBytes(b), nil
	case protoreflect.EnumKind:
		return parseEnumText(fd.Enum(), text)
	}
	return protoreflect.Value{}, fmt.Errorf("field %s has unsupported kind %v", fd.Name(), fd.Kind())
}

func parseIntText(text string, bits int) (int64, error) {
	if !isDecimalIntText(text, true) {
		return 0, errors.New("not an integer")
	}
	n, err := strconv.ParseInt(text, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("integer out of range for int%d", bits)
	}
	return n, nil
}

func parseUintText(text string, bits int) (uint64, error) {
	if !isDecimalIntText(text, false) {
		return 0, errors.New("not an unsigned integer")
	}
	n, err := strconv.ParseUint(text, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("integer out of range for uint%d", bits)
	}
	return n, nil
}

// isDecimalIntText reports whether s is an optional sign followed by at least
// one decimal digit. strconv alone would let "0x1f" or "1_000" through.
func isDecimalIntText(s string, signed bool) bool {
	if s != "" && (s[0] == '+' || (signed && s[0] == '-')) {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseFloatText(text string, bits int) (float64, error) {
	switch text {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	// Only digits, signs, a point and an exponent: keeps out strconv's own
	// spellings of the specials ("inf", "nan"), hex floats and underscores.
	digits := false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c >= '0' && c <= '9':
			digits = true
		case c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E':
		default:
			return 0, errors.New("not a number")
		}
	}
	if !digits {
		return 0, errors.New("not a number")
	}
	f, err := strconv.ParseFloat(text, bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) && math.IsInf(f, 0) {
			return 0, fmt.Errorf("number out of range for a %d-bit float", bits)
		}
		if !errors.Is(err, strconv.ErrRange) {
			return 0, errors.New("not a number")
		}
	}
	return f, nil
}

// decodeBase64Text accepts the standard and the URL-safe alphabet, with or
// without padding. The alphabet is chosen by the characters present, so
// each input is decoded once.
func decodeBase64Text(text string) ([]byte, error) {
	urlSafe := strings.ContainsAny(text, "-_")
	padded := strings.HasSuffix(text, "=")
	var enc *base64.Encoding
	switch {
	case urlSafe && padded:
		enc = base64.URLEncoding
	case urlSafe:
		enc = base64.RawURLEncoding
	case padded:
		enc = base64.StdEncoding
	default:
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(text)
	if err != nil {
		return nil, errors.New("not base64 (standard or URL-safe alphabet)")
	}
	return b, nil
}

func parseEnumText(ed protoreflect.EnumDescriptor, text string) (protoreflect.Value, error) {
	values := ed.Values()
	if ev := values.ByName(protoreflect.Name(text)); ev != nil {
		return protoreflect.ValueOfEnum(ev.Number()), nil
	}
	if text == "null" && ed.FullName() == "google.protobuf.NullValue" {
		return protoreflect.ValueOfEnum(0), nil
	}
	if isDecimalIntText(text, true) {
		n, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("enum number out of range")
		}
		num := protoreflect.EnumNumber(n)
		if values.ByNumber(num) == nil && ed.IsClosed() {
			return protoreflect.Value{}, fmt.Errorf("%d is not a value of closed enum %s", n, ed.FullName())
		}
		return protoreflect.ValueOfEnum(num), nil
	}
	return protoreflect.Value{}, fmt.Errorf("not a value of enum %s", ed.FullName())
}

// resolveFieldPath resolves a dotted field path ("a.b.c") against md. Each
// segment may be a field's proto name or its JSON name (proto name tried
// first). Every segment but the last must name a singular message field;
// the last may be any field, including a repeated or map one. Extensions
// are not addressable.
//
// A segment that names no field yields an error wrapping
// errFieldPathUnknown, so the query binder can ignore unknown parameters; any
// other failure (an empty segment aside, which also counts as unknown) is a
// plain error.
func resolveFieldPath(md protoreflect.MessageDescriptor, dotted string) ([]protoreflect.FieldDescriptor, error) {
	if md == nil {
		return nil, errors.New("no message descriptor")
	}
	n := strings.Count(dotted, ".") + 1
	path := make([]protoreflect.FieldDescriptor, 0, n)
	for rest := dotted; ; {
		seg, more, found := strings.Cut(rest, ".")
		if md == nil {
			prev := path[len(path)-1]
			return nil, fmt.Errorf("field %s is not a message: it has no field %q", prev.Name(), seg)
		}
		var fd protoreflect.FieldDescriptor
		if seg != "" {
			fields := md.Fields()
			if fd = fields.ByName(protoreflect.Name(seg)); fd == nil {
				fd = fields.ByJSONName(seg)
			}
		}
		if fd == nil {
			return nil, &fieldPathUnknownError{msg: md.FullName(), name: seg}
		}
		path = append(path, fd)
		if !found {
			return path, nil
		}
		switch {
		case fd.IsMap():
			return nil, fmt.Errorf("field %s is a map: address its entries with %s[key]", fd.Name(), fd.Name())
		case fd.IsList():
			return nil, fmt.Errorf("field %s is repeated: its elements cannot be addressed by name", fd.Name())
		case fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind:
			md = nil
		default:
			md = fd.Message()
		}
		rest = more
	}
}

// errFieldPathUnknown is wrapped by the errors of resolveFieldPath for a name
// that matches no field.
var errFieldPathUnknown = errors.New("unknown field")

type fieldPathUnknownError struct {
	msg  protoreflect.FullName
	name string
}

func (e *fieldPathUnknownError) Error() string {
	return fmt.Sprintf("message %s has no field %q", e.msg, e.name)
}

func (e *fieldPathUnknownError) Unwrap() error { return errFieldPathUnknown }

// setFieldPath sets the field at the end of path in msg from text, creating
// the intermediate messages as needed. A singular field is Set (replacing
// any value); a repeated field gets one element appended. Map fields are
// not allowed. Setting a field, or creating an intermediate message, that
// belongs to a oneof with another member already set is an error rather
// than a silent replacement.
//
// path must have been made by resolveFieldPath for msg's descriptor, which
// is why it is normally computed once, when routes are built. Errors are
// badPathValue errors (InvalidArgument) naming the path by proto names.
func setFieldPath(msg protoreflect.Message, path []protoreflect.FieldDescriptor, text string) error {
	if len(path) == 0 {
		return badPathValue("", text, errors.New("empty field path"))
	}
	last := path[len(path)-1]
	if last.IsMap() {
		return badPathValue(fieldPathString(path), text, errors.New("a map field cannot be bound to a single value"))
	}
	m := msg
	for _, fd := range path[:len(path)-1] {
		if err := checkOneofFree(m, fd); err != nil {
			return badPathValue(fieldPathString(path), text, err)
		}
		m = m.Mutable(fd).Message()
	}
	if err := checkOneofFree(m, last); err != nil {
		return badPathValue(fieldPathString(path), text, err)
	}
	v, err := parseFieldValue(m, last, text)
	if err != nil {
		return badPathValue(fieldPathString(path), text, err)
	}
	if last.IsList() {
		m.Mutable(last).List().Append(v)
	} else {
		m.Set(last, v)
	}
	return nil
}

// checkOneofFree reports an error if fd is a member of a oneof in which a
// different member is set in m. Synthetic oneofs (proto3 optional) have a
// single member and never conflict.
func checkOneofFree(m protoreflect.Message, fd protoreflect.FieldDescriptor) error {
	od := fd.ContainingOneof()
	if od == nil {
		return nil
	}
	if set := m.WhichOneof(od); set != nil && set != fd {
		return fmt.Errorf("field %s and field %s are both members of oneof %s; set only one", set.Name(), fd.Name(), od.Name())
	}
	return nil
}

// fieldPathString renders a resolved path with proto names, for messages.
func fieldPathString(path []protoreflect.FieldDescriptor) string {
	if len(path) == 1 {
		return string(path[0].Name())
	}
	var b strings.Builder
	for i, fd := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(string(fd.Name()))
	}
	return b.String()
}
