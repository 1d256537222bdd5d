package jsonwire

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// UnmarshalOptions configures JSON→wire transcoding. The fields mean what
// the same-named fields of protojson.UnmarshalOptions mean.
type UnmarshalOptions struct {
	// DiscardUnknown ignores unknown fields and unknown enum names.
	DiscardUnknown bool
	// Resolver finds the types of google.protobuf.Any payloads and of
	// extensions; nil means protoregistry.GlobalTypes.
	Resolver Resolver
}

type decoder struct {
	in     []byte
	pos    int
	opts   UnmarshalOptions
	res    Resolver
	out    []byte
	strBuf []byte
	bits   []uint64 // stack of per-message bitsets
	keys   []byte   // stack of map string keys (duplicate detection)
}

var decPool = sync.Pool{New: func() any { return new(decoder) }}

var errRecursionJSON = errors.New("exceeded max recursion depth")

// AppendWire parses JSON for md and appends protobuf wire bytes to dst.
// Anything protojson.Unmarshal (into a dynamicpb.Message) accepts is
// accepted, and the result is proto.Equal to what proto.Marshal of that
// message gives (fields are written in JSON order, so bytes may differ);
// anything it rejects is an error. On error the returned slice is dst.
func (o UnmarshalOptions) AppendWire(dst []byte, md protoreflect.MessageDescriptor, json []byte) ([]byte, error) {
	p := planFor(md)
	if p.fallback {
		return o.fallbackWire(dst, md, json)
	}
	d := decPool.Get().(*decoder)
	d.in, d.pos, d.opts, d.out = json, 0, o, dst
	d.res = o.Resolver
	if d.res == nil {
		d.res = protoregistry.GlobalTypes
	}
	err := d.message(p, defaultRecursionLimit, true, false)
	if err == nil {
		var t token
		if t, err = d.next(); err == nil && t.kind != tEOF {
			err = d.unexpected(t)
		}
	}
	out := d.out
	d.in, d.out, d.res = nil, nil, nil
	if cap(d.strBuf) > 1<<16 {
		d.strBuf = nil
	}
	d.bits, d.keys = d.bits[:0], d.keys[:0]
	decPool.Put(d)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// ---- wire writing helpers ----

var zeros [binaryMaxVarint]byte

const binaryMaxVarint = 10

// beginLen reserves one byte for a length prefix and returns its offset.
func (d *decoder) beginLen() int {
	d.out = append(d.out, 0)
	return len(d.out) - 1
}

// endLen writes the length of everything after mark. The common case (< 128
// bytes) fits the reserved byte; otherwise the content is shifted right.
func (d *decoder) endLen(mark int) {
	n := len(d.out) - mark - 1
	if n < 128 {
		d.out[mark] = byte(n)
		return
	}
	sz := protowire.SizeVarint(uint64(n))
	d.out = append(d.out, zeros[:sz-1]...)
	copy(d.out[mark+sz:], d.out[mark+1:mark+1+n])
	protowire.AppendVarint(d.out[mark:mark], uint64(n))
}

func (d *decoder) appendElem(f *fieldPlan, u uint64) {
	switch f.wtyp {
	case protowire.VarintType:
		d.out = protowire.AppendVarint(d.out, u)
	case protowire.Fixed32Type:
		d.out = protowire.AppendFixed32(d.out, uint32(u))
	default:
		d.out = protowire.AppendFixed64(d.out, u)
	}
}

// ---- messages ----

func (d *decoder) message(p *msgPlan, limit int, checkReq, skipTypeURL bool) error {
	if limit--; limit < 0 {
		return errRecursionJSON
	}
	if p.wkt != wktNone {
		return d.wkt(p, limit, checkReq)
	}
	t, err := d.next()
	if err != nil {
		return err
	}
	if t.kind != tObjectOpen {
		return d.unexpected(t)
	}
	if p.msgSet {
		return errMessageSet
	}
	// Bitsets: seen fields, seen oneofs.
	bbase := len(d.bits)
	for i := 0; i < p.seenWords+p.oneWords; i++ {
		d.bits = append(d.bits, 0)
	}
	obase := bbase + p.seenWords
	var reqSet uint64
	var extSeen []protowire.Number
	defer func() { d.bits = d.bits[:bbase] }()
	for first := true; ; first = false {
		t, err := d.next()
		if err != nil {
			return err
		}
		if t.kind == tObjectClose && first {
			break
		}
		if !first {
			if t.kind == tObjectClose {
				break
			}
			if t.kind != tComma {
				return d.unexpected(t)
			}
			if t, err = d.next(); err != nil {
				return err
			}
		}
		if t.kind != tString {
			return d.unexpected(t)
		}
		name := t.str
		if err := d.colon(); err != nil {
			return err
		}
		if skipTypeURL && string(name) == "@type" {
			if _, err := d.next(); err != nil {
				return err
			}
			continue
		}
		var fp *fieldPlan
		if len(name) >= 2 && name[0] == '[' && name[len(name)-1] == ']' {
			xt, err := d.res.FindExtensionByName(protoreflect.FullName(name[1 : len(name)-1]))
			if err != nil && err != protoregistry.NotFound {
				return d.errorf(t.pos, "unable to resolve %s: %v", t.raw, err)
			}
			if xt != nil {
				xd := xt.TypeDescriptor()
				if p.extRanges == nil || !p.extRanges.Has(xd.Number()) || xd.ContainingMessage().FullName() != p.fullName {
					return d.errorf(t.pos, "message %v cannot be extended by %v", p.fullName, xd.FullName())
				}
				fp = extPlanFor(xd)
			}
		} else {
			fp = p.byName[string(name)]
		}
		if fp == nil {
			if d.opts.DiscardUnknown {
				if err := d.skipValue(limit); err != nil {
					return err
				}
				continue
			}
			return d.errorf(t.pos, "unknown field %s", t.raw)
		}
		if fp.isExt {
			for _, n := range extSeen {
				if n == fp.num {
					return d.errorf(t.pos, "duplicate field %s", t.raw)
				}
			}
			extSeen = append(extSeen, fp.num)
		} else {
			w, b := bbase+fp.index/64, uint64(1)<<(fp.index%64)
			if d.bits[w]&b != 0 {
				return d.errorf(t.pos, "duplicate field %s", t.raw)
			}
			d.bits[w] |= b
		}
		if d.peek() == 'n' && !fp.valueMsg && !fp.nullValue && matchLit("null", d.in[d.pos:]) > 0 {
			d.pos += 4
			continue
		}
		switch {
		case fp.list:
			err = d.list(fp, limit, checkReq)
		case fp.isMap:
			err = d.mapField(fp, limit, checkReq)
		default:
			if fp.oneof >= 0 {
				w, b := obase+fp.oneof/64, uint64(1)<<(fp.oneof%64)
				if d.bits[w]&b != 0 {
					return d.errorf(t.pos, "error parsing %s, oneof %v is already set", t.raw, fp.fd.ContainingOneof().FullName())
				}
				d.bits[w] |= b
			}
			var set bool
			set, err = d.singular(fp, limit, checkReq)
			if set && fp.required {
				reqSet |= 1 << fp.reqBit
			}
		}
		if err != nil {
			return err
		}
	}
	if checkReq && len(p.required) > 0 && reqSet != (uint64(1)<<len(p.required))-1 {
		for _, f := range p.required {
			if reqSet&(1<<f.reqBit) == 0 {
				return errRequired(f)
			}
		}
	}
	return nil
}

func (d *decoder) colon() error {
	d.ws()
	if d.pos >= len(d.in) {
		return errUnexpectedEOF
	}
	if c := d.in[d.pos]; c != ':' {
		return d.syntaxErr(d.pos, `unexpected character %s, missing ":" after field name`, string(c))
	}
	d.pos++
	return nil
}

// singular parses a non-repeated field value; set reports whether the
// field was set (false for unknown enum names under DiscardUnknown).
func (d *decoder) singular(fp *fieldPlan, limit int, checkReq bool) (bool, error) {
	start := len(d.out)
	switch fp.kind {
	case protoreflect.MessageKind:
		d.out = append(d.out, fp.tagLD...)
		mark := d.beginLen()
		if err := d.message(fp.msg, limit, checkReq, false); err != nil {
			return false, err
		}
		d.endLen(mark)
		return true, nil
	case protoreflect.GroupKind:
		d.out = append(d.out, fp.tag...)
		if err := d.message(fp.msg, limit, checkReq, false); err != nil {
			return false, err
		}
		d.out = append(d.out, fp.tagEnd...)
		return true, nil
	case protoreflect.StringKind, protoreflect.BytesKind:
		d.out = append(d.out, fp.tagLD...)
		mark := d.beginLen()
		if err := d.stringOrBytes(fp); err != nil {
			return false, err
		}
		if !fp.presence && len(d.out) == mark+1 {
			d.out = d.out[:start]
			return true, nil
		}
		d.endLen(mark)
		return true, nil
	}
	u, ok, err := d.scalar(fp)
	if err != nil || !ok {
		return false, err
	}
	if u == 0 && !fp.presence {
		return true, nil
	}
	d.out = append(d.out, fp.tag...)
	d.appendElem(fp, u)
	return true, nil
}

// stringOrBytes parses a JSON string into the content of a string or bytes
// field, appended to d.out.
func (d *decoder) stringOrBytes(fp *fieldPlan) error {
	t, err := d.next()
	if err != nil {
		return err
	}
	if t.kind != tString {
		return d.invalidValue(fp, t)
	}
	if fp.kind == protoreflect.StringKind {
		d.out = append(d.out, t.str...)
		return nil
	}
	s := t.str
	enc := base64.StdEncoding
	if hasURLChars(s) {
		enc = base64.URLEncoding
		if len(s)%4 != 0 {
			enc = base64.RawURLEncoding
		}
	} else if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	n0 := len(d.out)
	need := enc.DecodedLen(len(s))
	d.out = growBy(d.out, need)
	n, err := enc.Decode(d.out[n0:n0+need], s)
	if err != nil {
		d.out = d.out[:n0]
		return d.invalidValue(fp, t)
	}
	d.out = d.out[:n0+n]
	return nil
}

func growBy(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*cap(b)+n)
	copy(nb, b)
	return nb
}

func hasURLChars(s []byte) bool {
	for _, c := range s {
		if c == '-' || c == '_' {
			return true
		}
	}
	return false
}

func (d *decoder) invalidValue(fp *fieldPlan, t token) error {
	if t.kind == tEOF {
		return errUnexpectedEOF
	}
	return d.errorf(t.pos, "invalid value for %v field %v: %s", fp.kind, fp.jsonName, t.raw)
}

// scalar parses a numeric, bool or enum value and returns its wire value
// (varint value, or fixed32/64 bits). ok is false for an unknown enum name
// under DiscardUnknown.
func (d *decoder) scalar(fp *fieldPlan) (u uint64, ok bool, err error) {
	t, err := d.next()
	if err != nil {
		return 0, false, err
	}
	switch fp.kind {
	case protoreflect.BoolKind:
		if t.kind == tBool {
			if t.b {
				return 1, true, nil
			}
			return 0, true, nil
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b := 64
		if fp.wtyp == protowire.Fixed32Type || fp.kind == protoreflect.Int32Kind || fp.kind == protoreflect.Sint32Kind {
			b = 32
		}
		if raw, isNum := numberRaw(t); isNum {
			if v, ok := numberToInt(raw, b); ok {
				switch fp.kind {
				case protoreflect.Sint32Kind:
					return protowire.EncodeZigZag(int64(int32(v))) & math.MaxUint32, true, nil
				case protoreflect.Sint64Kind:
					return protowire.EncodeZigZag(v), true, nil
				case protoreflect.Sfixed32Kind:
					return uint64(uint32(int32(v))), true, nil
				}
				return uint64(v), true, nil
			}
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b := 64
		if fp.kind == protoreflect.Uint32Kind || fp.kind == protoreflect.Fixed32Kind {
			b = 32
		}
		if raw, isNum := numberRaw(t); isNum {
			if v, ok := numberToUint(raw, b); ok {
				return v, true, nil
			}
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		b := 64
		if fp.kind == protoreflect.FloatKind {
			b = 32
		}
		if f, ok := parseFloatToken(t, b); ok {
			if b == 32 {
				return uint64(math.Float32bits(float32(f))), true, nil
			}
			return math.Float64bits(f), true, nil
		}
	case protoreflect.EnumKind:
		switch t.kind {
		case tString:
			if n, ok := fp.enum.byName[string(t.str)]; ok {
				return uint64(int64(n)), true, nil
			}
			if d.opts.DiscardUnknown {
				return 0, false, nil
			}
		case tNumber:
			if v, ok := numberToInt(t.raw, 32); ok {
				return uint64(v), true, nil
			}
		case tNull:
			if fp.nullValue {
				return 0, true, nil
			}
		}
	}
	return 0, false, d.invalidValue(fp, t)
}

// numberRaw returns the number text of a Number token, or of a String
// token holding exactly one number (protojson accepts quoted integers).
func numberRaw(t token) ([]byte, bool) {
	switch t.kind {
	case tNumber:
		return t.raw, true
	case tString:
		return numberInString(t.str)
	}
	return nil, false
}

func parseFloatToken(t token, bitSize int) (float64, bool) {
	var raw []byte
	switch t.kind {
	case tNumber:
		raw = t.raw
	case tString:
		switch string(t.str) {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(+1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
		var ok bool
		if raw, ok = numberInString(t.str); !ok {
			return 0, false
		}
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), bitSize)
	if err != nil {
		return 0, false
	}
	return f, true
}

// ---- repeated fields and maps ----

func (d *decoder) list(fp *fieldPlan, limit int, checkReq bool) error {
	t, err := d.next()
	if err != nil {
		return err
	}
	if t.kind != tArrayOpen {
		return d.unexpected(t)
	}
	packed := fp.packed
	start := len(d.out)
	mark := -1
	if packed {
		d.out = append(d.out, fp.tagLD...)
		mark = d.beginLen()
	}
	for first := true; ; first = false {
		if first {
			if d.peek() == ']' {
				d.pos++
				break
			}
		} else {
			t, err := d.next()
			if err != nil {
				return err
			}
			if t.kind == tArrayClose {
				break
			}
			if t.kind != tComma {
				return d.unexpected(t)
			}
		}
		switch fp.kind {
		case protoreflect.MessageKind, protoreflect.GroupKind:
			if _, err := d.singular(fp, limit, checkReq); err != nil {
				return err
			}
		case protoreflect.StringKind, protoreflect.BytesKind:
			d.out = append(d.out, fp.tagLD...)
			m := d.beginLen()
			if err := d.stringOrBytes(fp); err != nil {
				return err
			}
			d.endLen(m)
		default:
			u, ok, err := d.scalar(fp)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if !packed {
				d.out = append(d.out, fp.tag...)
			}
			d.appendElem(fp, u)
		}
	}
	if packed {
		if len(d.out) == mark+1 {
			d.out = d.out[:start]
		} else {
			d.endLen(mark)
		}
	}
	return nil
}

func (d *decoder) mapField(fp *fieldPlan, limit int, checkReq bool) error {
	t, err := d.next()
	if err != nil {
		return err
	}
	if t.kind != tObjectOpen {
		return d.unexpected(t)
	}
	// Keys seen so far, for duplicate detection: string keys are copied to
	// d.keys (stack discipline), numeric keys kept as their wire value.
	kbase := len(d.keys)
	defer func() { d.keys = d.keys[:kbase] }()
	var kref [16][2]int
	var kus [16]uint64
	nkeys := 0
	var bigU map[uint64]struct{}
	var bigS map[string]struct{}
	kf, vf := fp.key, fp.val
	for first := true; ; first = false {
		t, err := d.next()
		if err != nil {
			return err
		}
		if t.kind == tObjectClose {
			break
		}
		if !first {
			if t.kind != tComma {
				return d.unexpected(t)
			}
			if t, err = d.next(); err != nil {
				return err
			}
		}
		if t.kind != tString {
			return d.unexpected(t)
		}
		if err := d.colon(); err != nil {
			return err
		}
		entryStart := len(d.out)
		d.out = append(d.out, fp.tagLD...)
		mark := d.beginLen()
		d.out = append(d.out, kf.tag...)
		var ku uint64
		isStr := kf.kind == protoreflect.StringKind
		if isStr {
			k := d.beginLen()
			d.out = append(d.out, t.str...)
			d.endLen(k)
		} else {
			var ok bool
			if ku, ok = mapKeyValue(kf, t.str); !ok {
				return d.errorf(t.pos, "invalid value for %v key: %s", kf.kind, t.raw)
			}
			d.appendElem(kf, ku)
		}
		dup := false
		switch {
		case bigS != nil:
			_, dup = bigS[string(t.str)]
		case bigU != nil:
			_, dup = bigU[ku]
		case isStr:
			for _, r := range kref[:nkeys] {
				if string(d.keys[r[0]:r[1]]) == string(t.str) {
					dup = true
					break
				}
			}
		default:
			for _, u := range kus[:nkeys] {
				if u == ku {
					dup = true
					break
				}
			}
		}
		if dup {
			return d.errorf(t.pos, "duplicate map key %s", t.raw)
		}
		// Remember the key before the value overwrites d.strBuf.
		koff := len(d.keys)
		if isStr {
			d.keys = append(d.keys, t.str...)
		}
		kend := len(d.keys)
		keep := true
		switch vf.kind {
		case protoreflect.MessageKind, protoreflect.GroupKind:
			d.out = append(d.out, vf.tagLD...)
			m := d.beginLen()
			if err := d.message(vf.msg, limit, checkReq, false); err != nil {
				return err
			}
			d.endLen(m)
		case protoreflect.StringKind, protoreflect.BytesKind:
			d.out = append(d.out, vf.tagLD...)
			m := d.beginLen()
			if err := d.stringOrBytes(vf); err != nil {
				return err
			}
			d.endLen(m)
		default:
			u, ok, err := d.scalar(vf)
			if err != nil {
				return err
			}
			if ok {
				d.out = append(d.out, vf.tag...)
				d.appendElem(vf, u)
			}
			keep = ok
		}
		if !keep {
			d.out = d.out[:entryStart]
			d.keys = d.keys[:koff]
			continue
		}
		d.endLen(mark)
		switch {
		case bigS != nil:
			bigS[string(d.keys[koff:kend])] = struct{}{}
		case bigU != nil:
			bigU[ku] = struct{}{}
		case nkeys < len(kus):
			kref[nkeys], kus[nkeys] = [2]int{koff, kend}, ku
			nkeys++
		case isStr:
			bigS = make(map[string]struct{}, 64)
			for _, r := range kref {
				bigS[string(d.keys[r[0]:r[1]])] = struct{}{}
			}
			bigS[string(d.keys[koff:kend])] = struct{}{}
		default:
			bigU = make(map[uint64]struct{}, 64)
			for _, u := range kus {
				bigU[u] = struct{}{}
			}
			bigU[ku] = struct{}{}
		}
	}
	return nil
}

// mapKeyValue parses a non-string map key (the JSON member name) into its
// wire value, with strconv's rules as protojson.
func mapKeyValue(kf *fieldPlan, name []byte) (uint64, bool) {
	s := string(name)
	switch kf.kind {
	case protoreflect.BoolKind:
		switch s {
		case "true":
			return 1, true
		case "false":
			return 0, true
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return 0, false
		}
		switch kf.kind {
		case protoreflect.Sint32Kind:
			return protowire.EncodeZigZag(n) & math.MaxUint32, true
		case protoreflect.Sfixed32Kind:
			return uint64(uint32(int32(n))), true
		}
		return uint64(n), true
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false
		}
		if kf.kind == protoreflect.Sint64Kind {
			return protowire.EncodeZigZag(n), true
		}
		return uint64(n), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		return n, err == nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// skipValue skips one JSON value (validating its syntax), as protojson
// does for unknown fields.
func (d *decoder) skipValue(limit int) error { return d.skip(0, limit) }

func (d *decoder) skip(open, limit int) error {
	t, err := d.next()
	if err != nil {
		return err
	}
	switch t.kind {
	case tNull, tBool, tNumber, tString:
		return nil
	case tObjectOpen:
		if open++; open > limit {
			return errRecursionJSON
		}
		for first := true; ; first = false {
			t, err := d.next()
			if err != nil {
				return err
			}
			if t.kind == tObjectClose {
				return nil
			}
			if !first {
				if t.kind != tComma {
					return d.unexpected(t)
				}
				if t, err = d.next(); err != nil {
					return err
				}
			}
			if t.kind != tString {
				return d.unexpected(t)
			}
			if err := d.colon(); err != nil {
				return err
			}
			if err := d.skip(open, limit); err != nil {
				return err
			}
		}
	case tArrayOpen:
		if open++; open > limit {
			return errRecursionJSON
		}
		for first := true; ; first = false {
			if first {
				if d.peek() == ']' {
					d.pos++
					return nil
				}
			} else {
				t, err := d.next()
				if err != nil {
					return err
				}
				if t.kind == tArrayClose {
					return nil
				}
				if t.kind != tComma {
					return d.unexpected(t)
				}
			}
			if err := d.skip(open, limit); err != nil {
				return err
			}
		}
	}
	return d.unexpected(t)
}
