package jsonwire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Resolver is the type resolver used for google.protobuf.Any and extensions.
type Resolver interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// MarshalOptions configures wire→JSON transcoding. The fields mean what the
// same-named fields of protojson.MarshalOptions mean.
type MarshalOptions struct {
	// UseProtoNames uses proto field names instead of lowerCamelCase names.
	UseProtoNames bool
	// EmitUnpopulated emits unpopulated fields (not oneof members, not
	// extensions) with their zero value, null for fields with presence.
	EmitUnpopulated bool
	// UseEnumNumbers emits enum values as numbers.
	UseEnumNumbers bool
	// Resolver finds the types of google.protobuf.Any payloads and of
	// extensions; nil means protoregistry.GlobalTypes.
	Resolver Resolver
}

const defaultRecursionLimit = protowire.DefaultRecursionLimit

var (
	errDecode         = errors.New("cannot parse invalid wire-format data")
	errRecursionDepth = errors.New("exceeded maximum recursion depth")
	errMessageSet     = errors.New("no support for proto1 MessageSets")
)

// entry is one occurrence of a known field in the wire bytes of a message.
type entry struct {
	fp   *fieldPlan
	val  []byte // bytes / group content (without tag)
	u    uint64 // varint / fixed value
	seq  int32  // position in wire order within the message
	wtyp protowire.Type
}

type oneofState struct {
	cur      *fieldPlan
	runStart int32
}

type mapEnt struct {
	entry  []byte // the whole map entry message
	ku     uint64
	ks     []byte
	vu     uint64
	vb     []byte
	hasVal bool
	multi  bool // value message occurs more than once in the entry: merge
}

type encoder struct {
	opts    MarshalOptions
	res     Resolver
	out     []byte
	ents    []entry
	oneofs  []oneofState
	mapEnts []mapEnt
	segs    [][]byte
}

var encPool = sync.Pool{New: func() any { return new(encoder) }}

// AppendJSON appends the JSON form of the message md encoded in wire to dst.
// The output is what proto.Unmarshal into a dynamicpb.Message followed by
// protojson.Marshal produces (modulo protojson's deliberately random
// whitespace); an input either of them would reject is an error. On error
// the returned slice is dst.
func (o MarshalOptions) AppendJSON(dst []byte, md protoreflect.MessageDescriptor, wire []byte) ([]byte, error) {
	p := planFor(md)
	if p.fallback {
		return o.fallbackJSON(dst, md, wire)
	}
	e := encPool.Get().(*encoder)
	e.opts = o
	e.res = o.Resolver
	if e.res == nil {
		e.res = protoregistry.GlobalTypes
	}
	e.out = dst
	e.segs = append(e.segs[:0], wire)
	err := e.message(p, e.segs[0:1], defaultRecursionLimit, true, nil)
	out := e.out
	e.release()
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (e *encoder) release() {
	e.out = nil
	e.res = nil
	clear(e.ents[:cap(e.ents)])
	clear(e.segs[:cap(e.segs)])
	clear(e.mapEnts[:cap(e.mapEnts)])
	clear(e.oneofs[:cap(e.oneofs)])
	e.ents, e.segs, e.mapEnts, e.oneofs = e.ents[:0], e.segs[:0], e.mapEnts[:0], e.oneofs[:0]
	if cap(e.ents) > 1<<16 || cap(e.mapEnts) > 1<<16 {
		return // do not pool huge scratch
	}
	encPool.Put(e)
}

// scan records the known fields of one segment of a message.
func (e *encoder) scan(p *msgPlan, b []byte, obase int) error {
	for len(b) > 0 {
		num, wtyp, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return errDecode
		}
		b = b[n:]
		fp := p.lookup(num)
		if fp == nil && p.extRanges != nil && p.extRanges.Has(num) {
			var err error
			if fp, err = e.findExt(p, num); err != nil {
				return err
			}
		}
		if fp == nil || !fp.accepts(wtyp) {
			m := protowire.ConsumeFieldValue(num, wtyp, b)
			if m < 0 {
				return errDecode
			}
			b = b[m:]
			continue
		}
		ent := entry{fp: fp, wtyp: wtyp, seq: int32(len(e.ents))}
		var m int
		switch wtyp {
		case protowire.VarintType:
			ent.u, m = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, m = protowire.ConsumeFixed32(b)
			ent.u = uint64(v)
		case protowire.Fixed64Type:
			ent.u, m = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			ent.val, m = protowire.ConsumeBytes(b)
		case protowire.StartGroupType:
			ent.val, m = protowire.ConsumeGroup(num, b)
		}
		if m < 0 {
			return errDecode
		}
		b = b[m:]
		if fp.oneof >= 0 {
			st := &e.oneofs[obase+fp.oneof]
			if st.cur != fp {
				st.cur, st.runStart = fp, ent.seq
			}
		}
		e.ents = append(e.ents, ent)
	}
	return nil
}

func (f *fieldPlan) accepts(wtyp protowire.Type) bool {
	if f.packable {
		return wtyp == f.wtyp || wtyp == protowire.BytesType
	}
	return wtyp == f.wtyp
}

func (e *encoder) findExt(p *msgPlan, num protowire.Number) (*fieldPlan, error) {
	xt, err := e.res.FindExtensionByNumber(p.fullName, num)
	if err != nil {
		if err == protoregistry.NotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("%v: unable to resolve extension %v: %w", p.fullName, num, err)
	}
	return extPlanFor(xt.TypeDescriptor()), nil
}

func cmpEntry(a, b entry) int {
	if a.fp == b.fp {
		return 0
	}
	if a.fp.isExt != b.fp.isExt {
		if a.fp.isExt {
			return 1
		}
		return -1
	}
	if a.fp.isExt {
		return strings.Compare(a.fp.fullName, b.fp.fullName)
	}
	return a.fp.index - b.fp.index
}

// message writes the JSON for the message whose wire form is the
// concatenation of segs. limit is the remaining recursion budget of
// proto.Unmarshal; checkReq enables required-field checks (off inside Any);
// a non-nil typeURL is written as a leading "@type" member.
func (e *encoder) message(p *msgPlan, segs [][]byte, limit int, checkReq bool, typeURL []byte) error {
	if limit--; limit < 0 {
		return errRecursionDepth
	}
	if p.msgSet {
		return errMessageSet
	}
	base, obase := len(e.ents), len(e.oneofs)
	for k := 0; k < p.numOneofs; k++ {
		e.oneofs = append(e.oneofs, oneofState{})
	}
	var err error
	for _, seg := range segs {
		if err = e.scan(p, seg, obase); err != nil {
			break
		}
	}
	if err == nil {
		ents := e.ents[base:]
		for i := 1; i < len(ents); i++ {
			if cmpEntry(ents[i], ents[i-1]) < 0 {
				slices.SortStableFunc(ents, cmpEntry)
				break
			}
		}
		if p.wkt != wktNone && p.wkt != wktEmpty {
			err = e.wkt(p, ents, obase, limit, checkReq)
		} else {
			err = e.object(p, ents, obase, limit, checkReq, typeURL)
		}
	}
	e.ents = e.ents[:base]
	e.oneofs = e.oneofs[:obase]
	return err
}

func (e *encoder) key(f *fieldPlan, first *bool) {
	if !*first {
		e.out = append(e.out, ',')
	}
	*first = false
	if e.opts.UseProtoNames {
		e.out = append(e.out, f.protoKey...)
	} else {
		e.out = append(e.out, f.jsonKey...)
	}
}

func (e *encoder) object(p *msgPlan, ents []entry, obase, limit int, checkReq bool, typeURL []byte) error {
	e.out = append(e.out, '{')
	first := true
	if typeURL != nil {
		e.out = append(e.out, `"@type":`...)
		var err error
		if e.out, err = appendJSONString(e.out, typeURL); err != nil {
			return err
		}
		first = false
	}
	j := 0
	for _, f := range p.fields {
		k := j
		for k < len(ents) && ents[k].fp == f {
			k++
		}
		if err := e.field(p, f, ents[j:k], obase, limit, checkReq, &first); err != nil {
			return err
		}
		j = k
	}
	for j < len(ents) { // extensions, sorted by full name
		f := ents[j].fp
		k := j
		for k < len(ents) && ents[k].fp == f {
			k++
		}
		if err := e.field(p, f, ents[j:k], obase, limit, checkReq, &first); err != nil {
			return err
		}
		j = k
	}
	e.out = append(e.out, '}')
	return nil
}

func errRequired(f *fieldPlan) error {
	return fmt.Errorf("required field %s not set", f.fullName)
}

// field writes one field (all its occurrences fe, possibly none).
func (e *encoder) field(p *msgPlan, f *fieldPlan, fe []entry, obase, limit int, checkReq bool, first *bool) error {
	if len(fe) == 0 {
		if f.required && checkReq {
			return errRequired(f)
		}
		if e.opts.EmitUnpopulated && !f.inAnyOneof && !f.isExt {
			e.key(f, first)
			return e.unpopulated(f)
		}
		return nil
	}
	switch {
	case f.isMap:
		mark, was := len(e.out), *first
		e.key(f, first)
		n, err := e.mapValue(f, fe, limit, checkReq)
		if err != nil {
			return err
		}
		if n == 0 {
			e.out, *first = e.out[:mark], was
			if e.opts.EmitUnpopulated && !f.isExt {
				e.key(f, first)
				e.out = append(e.out, '{', '}')
			}
		}
		return nil
	case f.list:
		mark, was := len(e.out), *first
		e.key(f, first)
		n, err := e.listValue(f, fe, limit, checkReq)
		if err != nil {
			return err
		}
		if n == 0 {
			e.out, *first = e.out[:mark], was
			if e.opts.EmitUnpopulated && !f.isExt {
				e.key(f, first)
				e.out = append(e.out, '[', ']')
			}
		}
		return nil
	case f.oneof >= 0:
		st := e.oneofs[obase+f.oneof]
		if st.cur != f {
			return e.validateEntries(f, fe, limit)
		}
		i := 0
		for i < len(fe) && fe[i].seq < st.runStart {
			i++
		}
		if err := e.validateEntries(f, fe[:i], limit); err != nil {
			return err
		}
		e.key(f, first)
		return e.singular(f, fe[i:], limit, checkReq)
	case f.kind == protoreflect.MessageKind || f.kind == protoreflect.GroupKind:
		e.key(f, first)
		return e.singular(f, fe, limit, checkReq)
	default:
		last := fe[len(fe)-1]
		if err := e.validateEntries(f, fe[:len(fe)-1], limit); err != nil {
			return err
		}
		if !f.presence && isZero(f, last) && !e.opts.EmitUnpopulated {
			return nil
		}
		e.key(f, first)
		return e.scalar(f, last.u, last.val)
	}
}

// isZero reports whether a scalar occurrence holds the zero value, which
// for fields without presence means "not populated" (dynamicpb's isSet).
func isZero(f *fieldPlan, ent entry) bool {
	switch f.kind {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return len(ent.val) == 0
	case protoreflect.FloatKind:
		return uint32(ent.u) == 0
	case protoreflect.DoubleKind:
		return ent.u == 0
	case protoreflect.BoolKind:
		return ent.u == 0
	case protoreflect.Int32Kind, protoreflect.Uint32Kind, protoreflect.EnumKind, protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return uint32(ent.u) == 0
	case protoreflect.Sint32Kind:
		return protowire.DecodeZigZag(ent.u&math.MaxUint32) == 0
	case protoreflect.Sint64Kind:
		return protowire.DecodeZigZag(ent.u) == 0
	default:
		return ent.u == 0
	}
}

// singular writes a non-repeated field from its (winning) occurrences.
func (e *encoder) singular(f *fieldPlan, fe []entry, limit int, checkReq bool) error {
	if f.kind == protoreflect.MessageKind || f.kind == protoreflect.GroupKind {
		sbase := len(e.segs)
		for _, ent := range fe {
			e.segs = append(e.segs, ent.val)
		}
		err := e.message(f.msg, e.segs[sbase:], limit, checkReq, nil)
		e.segs = e.segs[:sbase]
		return err
	}
	last := fe[len(fe)-1]
	return e.scalar(f, last.u, last.val)
}

// unpopulated writes the EmitUnpopulated value of an absent field.
func (e *encoder) unpopulated(f *fieldPlan) error {
	switch {
	case f.isMap:
		e.out = append(e.out, '{', '}')
	case f.list:
		e.out = append(e.out, '[', ']')
	case f.presence:
		e.out = append(e.out, "null"...)
	default:
		return e.scalar(f, uint64(int64(f.defEnum)), nil)
	}
	return nil
}

// scalar writes one scalar value: u holds varint/fixed values, b strings
// and bytes.
func (e *encoder) scalar(f *fieldPlan, u uint64, b []byte) error {
	out := e.out
	switch f.kind {
	case protoreflect.BoolKind:
		if u != 0 {
			out = append(out, "true"...)
		} else {
			out = append(out, "false"...)
		}
	case protoreflect.Int32Kind:
		out = strconv.AppendInt(out, int64(int32(u)), 10)
	case protoreflect.Sint32Kind:
		out = strconv.AppendInt(out, int64(int32(protowire.DecodeZigZag(u&math.MaxUint32))), 10)
	case protoreflect.Sfixed32Kind:
		out = strconv.AppendInt(out, int64(int32(uint32(u))), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		out = strconv.AppendUint(out, uint64(uint32(u)), 10)
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		out = append(out, '"')
		out = strconv.AppendInt(out, int64(u), 10)
		out = append(out, '"')
	case protoreflect.Sint64Kind:
		out = append(out, '"')
		out = strconv.AppendInt(out, protowire.DecodeZigZag(u), 10)
		out = append(out, '"')
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		out = append(out, '"')
		out = strconv.AppendUint(out, u, 10)
		out = append(out, '"')
	case protoreflect.FloatKind:
		out = appendFloat(out, float64(math.Float32frombits(uint32(u))), 32)
	case protoreflect.DoubleKind:
		out = appendFloat(out, math.Float64frombits(u), 64)
	case protoreflect.StringKind:
		var err error
		if out, err = appendJSONString(out, b); err != nil {
			e.out = out
			return fmt.Errorf("field %s contains invalid UTF-8", f.fullName)
		}
	case protoreflect.BytesKind:
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, b)
		out = append(out, '"')
	case protoreflect.EnumKind:
		n := int32(u)
		if f.nullValue {
			out = append(out, "null"...)
		} else if q := f.enum.quotedName(n); q != "" && !e.opts.UseEnumNumbers {
			out = append(out, q...)
		} else {
			out = strconv.AppendInt(out, int64(n), 10)
		}
	default:
		return fmt.Errorf("field %s: unexpected kind %v", f.fullName, f.kind)
	}
	e.out = out
	return nil
}

// listValue writes the JSON array of a repeated field; it returns the
// number of elements.
func (e *encoder) listValue(f *fieldPlan, fe []entry, limit int, checkReq bool) (int, error) {
	e.out = append(e.out, '[')
	n := 0
	sep := func() {
		if n > 0 {
			e.out = append(e.out, ',')
		}
		n++
	}
	for _, ent := range fe {
		switch {
		case f.kind == protoreflect.MessageKind || f.kind == protoreflect.GroupKind:
			sep()
			sbase := len(e.segs)
			e.segs = append(e.segs, ent.val)
			err := e.message(f.msg, e.segs[sbase:sbase+1], limit, checkReq, nil)
			e.segs = e.segs[:sbase]
			if err != nil {
				return n, err
			}
		case f.packable && ent.wtyp == protowire.BytesType:
			b := ent.val
			for len(b) > 0 {
				var u uint64
				var m int
				switch f.wtyp {
				case protowire.VarintType:
					u, m = protowire.ConsumeVarint(b)
				case protowire.Fixed32Type:
					var v uint32
					v, m = protowire.ConsumeFixed32(b)
					u = uint64(v)
				default:
					u, m = protowire.ConsumeFixed64(b)
				}
				if m < 0 {
					return n, errDecode
				}
				b = b[m:]
				sep()
				if err := e.scalar(f, u, nil); err != nil {
					return n, err
				}
			}
		default:
			sep()
			if err := e.scalar(f, ent.u, ent.val); err != nil {
				return n, err
			}
		}
	}
	e.out = append(e.out, ']')
	return n, nil
}

// parseMapEntry parses one map entry message.
func parseMapEntry(f *fieldPlan, b []byte) (mapEnt, error) {
	me := mapEnt{entry: b}
	k, v := f.key, f.val
	for len(b) > 0 {
		num, wtyp, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return me, errDecode
		}
		b = b[n:]
		var fp *fieldPlan
		switch {
		case num == 1 && wtyp == k.wtyp:
			fp = k
		case num == 2 && wtyp == v.wtyp:
			fp = v
		default:
			m := protowire.ConsumeFieldValue(num, wtyp, b)
			if m < 0 {
				return me, errDecode
			}
			b = b[m:]
			continue
		}
		var u uint64
		var val []byte
		var m int
		switch wtyp {
		case protowire.VarintType:
			u, m = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, m = protowire.ConsumeFixed32(b)
			u = uint64(x)
		case protowire.Fixed64Type:
			u, m = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			val, m = protowire.ConsumeBytes(b)
		case protowire.StartGroupType:
			val, m = protowire.ConsumeGroup(num, b)
		}
		if m < 0 {
			return me, errDecode
		}
		b = b[m:]
		if fp.enforceUTF8 && !validUTF8(val) {
			return me, fmt.Errorf("field %s contains invalid UTF-8", fp.fullName)
		}
		if fp == k {
			me.ku, me.ks = u, val
		} else {
			if me.hasVal && (v.kind == protoreflect.MessageKind || v.kind == protoreflect.GroupKind) {
				me.multi = true
			}
			me.vu, me.vb, me.hasVal = u, val, true
		}
	}
	return me, nil
}

func cmpMapKey(kind protoreflect.Kind) func(a, b mapEnt) int {
	switch kind {
	case protoreflect.StringKind:
		return func(a, b mapEnt) int { return bytes.Compare(a.ks, b.ks) }
	case protoreflect.BoolKind:
		return func(a, b mapEnt) int { return cmpBool(a.ku != 0, b.ku != 0) }
	case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
		return func(a, b mapEnt) int { return cmpInt(int64(int32(a.ku)), int64(int32(b.ku))) }
	case protoreflect.Sint32Kind:
		return func(a, b mapEnt) int {
			return cmpInt(int64(int32(protowire.DecodeZigZag(a.ku&math.MaxUint32))), int64(int32(protowire.DecodeZigZag(b.ku&math.MaxUint32))))
		}
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		return func(a, b mapEnt) int { return cmpInt(int64(a.ku), int64(b.ku)) }
	case protoreflect.Sint64Kind:
		return func(a, b mapEnt) int { return cmpInt(protowire.DecodeZigZag(a.ku), protowire.DecodeZigZag(b.ku)) }
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return func(a, b mapEnt) int { return cmpUint(uint64(uint32(a.ku)), uint64(uint32(b.ku))) }
	default:
		return func(a, b mapEnt) int { return cmpUint(a.ku, b.ku) }
	}
}

var mapKeyCmps = func() (t [protoreflect.Sint64Kind + 1]func(a, b mapEnt) int) {
	for k := range t {
		t[k] = cmpMapKey(protoreflect.Kind(k))
	}
	return t
}()

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mapValue writes the JSON object of a map field; it returns the number of
// entries written.
func (e *encoder) mapValue(f *fieldPlan, fe []entry, limit int, checkReq bool) (int, error) {
	if limit-1 < 0 {
		return 0, errRecursionDepth
	}
	mbase := len(e.mapEnts)
	defer func() { e.mapEnts = e.mapEnts[:mbase] }()
	for _, ent := range fe {
		me, err := parseMapEntry(f, ent.val)
		if err != nil {
			return 0, err
		}
		e.mapEnts = append(e.mapEnts, me)
	}
	mes := e.mapEnts[mbase:]
	cmp := mapKeyCmps[f.key.kind]
	for i := 1; i < len(mes); i++ {
		if cmp(mes[i], mes[i-1]) <= 0 {
			slices.SortStableFunc(mes, cmp)
			break
		}
	}
	e.out = append(e.out, '{')
	n := 0
	isMsg := f.val.kind == protoreflect.MessageKind || f.val.kind == protoreflect.GroupKind
	for i := 0; i < len(mes); i++ {
		if i+1 < len(mes) && cmp(mes[i], mes[i+1]) == 0 {
			// Overwritten by a later entry with the same key: it was still
			// decoded by proto.Unmarshal, so it must still be valid.
			if isMsg {
				if err := e.validateMapValue(f, mes[i], limit-1); err != nil {
					return n, err
				}
			}
			continue
		}
		me := mes[i]
		if n > 0 {
			e.out = append(e.out, ',')
		}
		n++
		if err := e.mapKey(f.key, me); err != nil {
			return n, err
		}
		e.out = append(e.out, ':')
		var err error
		switch {
		case isMsg:
			sbase := len(e.segs)
			if me.multi {
				e.segs = appendMapValueSegs(e.segs, me.entry)
			} else if me.hasVal {
				e.segs = append(e.segs, me.vb)
			}
			err = e.message(f.val.msg, e.segs[sbase:], limit-1, checkReq, nil)
			e.segs = e.segs[:sbase]
		case me.hasVal:
			err = e.scalar(f.val, me.vu, me.vb)
		default:
			err = e.scalar(f.val, uint64(int64(f.val.defEnum)), nil)
		}
		if err != nil {
			return n, err
		}
	}
	e.out = append(e.out, '}')
	return n, nil
}

// appendMapValueSegs appends every occurrence of the value field of a map
// entry (they merge).
func appendMapValueSegs(segs [][]byte, b []byte) [][]byte {
	for len(b) > 0 {
		num, wtyp, n := protowire.ConsumeTag(b)
		b = b[n:]
		if num == 2 && wtyp == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			segs = append(segs, v)
			b = b[m:]
			continue
		}
		if num == 2 && wtyp == protowire.StartGroupType {
			v, m := protowire.ConsumeGroup(num, b)
			segs = append(segs, v)
			b = b[m:]
			continue
		}
		b = b[protowire.ConsumeFieldValue(num, wtyp, b):]
	}
	return segs
}

func (e *encoder) validateMapValue(f *fieldPlan, me mapEnt, limit int) error {
	if !me.hasVal {
		return nil
	}
	sbase := len(e.segs)
	e.segs = appendMapValueSegs(e.segs, me.entry)
	var err error
	for _, s := range e.segs[sbase:] {
		if err = e.validate(f.val.msg, s, limit); err != nil {
			break
		}
	}
	e.segs = e.segs[:sbase]
	return err
}

func (e *encoder) mapKey(k *fieldPlan, me mapEnt) error {
	out := e.out
	switch k.kind {
	case protoreflect.StringKind:
		var err error
		if out, err = appendJSONString(out, me.ks); err != nil {
			return fmt.Errorf("map key of %s contains invalid UTF-8", k.fullName)
		}
	case protoreflect.BoolKind:
		if me.ku != 0 {
			out = append(out, `"true"`...)
		} else {
			out = append(out, `"false"`...)
		}
	default:
		out = append(out, '"')
		e.out = out
		if k.kind == protoreflect.Int64Kind || k.kind == protoreflect.Sint64Kind || k.kind == protoreflect.Sfixed64Kind ||
			k.kind == protoreflect.Uint64Kind || k.kind == protoreflect.Fixed64Kind {
			// scalar would quote them itself
			switch k.kind {
			case protoreflect.Sint64Kind:
				out = strconv.AppendInt(out, protowire.DecodeZigZag(me.ku), 10)
			case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
				out = strconv.AppendUint(out, me.ku, 10)
			default:
				out = strconv.AppendInt(out, int64(me.ku), 10)
			}
		} else {
			if err := e.scalar(k, me.ku, nil); err != nil {
				return err
			}
			out = e.out
		}
		out = append(out, '"')
	}
	e.out = out
	return nil
}

// validateEntries checks occurrences that proto.Unmarshal decodes but that
// are then overwritten (so never reach JSON): they must still be valid.
func (e *encoder) validateEntries(f *fieldPlan, fe []entry, limit int) error {
	for _, ent := range fe {
		switch {
		case f.kind == protoreflect.MessageKind || f.kind == protoreflect.GroupKind:
			if err := e.validate(f.msg, ent.val, limit); err != nil {
				return err
			}
		case f.enforceUTF8:
			if !validUTF8(ent.val) {
				return fmt.Errorf("field %s contains invalid UTF-8", f.fullName)
			}
		}
	}
	return nil
}

// validate checks b as proto.Unmarshal would (structure, UTF-8 of proto3
// strings, recursion depth), without producing anything.
func (e *encoder) validate(p *msgPlan, b []byte, limit int) error {
	if limit--; limit < 0 {
		return errRecursionDepth
	}
	for len(b) > 0 {
		num, wtyp, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return errDecode
		}
		b = b[n:]
		fp := p.lookup(num)
		if fp == nil && p.extRanges != nil && p.extRanges.Has(num) {
			var err error
			if fp, err = e.findExt(p, num); err != nil {
				return err
			}
		}
		if fp == nil || !fp.accepts(wtyp) {
			m := protowire.ConsumeFieldValue(num, wtyp, b)
			if m < 0 {
				return errDecode
			}
			b = b[m:]
			continue
		}
		var val []byte
		var m int
		switch wtyp {
		case protowire.VarintType:
			_, m = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			_, m = protowire.ConsumeFixed32(b)
		case protowire.Fixed64Type:
			_, m = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			val, m = protowire.ConsumeBytes(b)
		case protowire.StartGroupType:
			val, m = protowire.ConsumeGroup(num, b)
		}
		if m < 0 {
			return errDecode
		}
		b = b[m:]
		switch {
		case fp.isMap:
			if limit-1 < 0 {
				return errRecursionDepth
			}
			me, err := parseMapEntry(fp, val)
			if err != nil {
				return err
			}
			if fp.val.msg != nil {
				if err := e.validateMapValue(fp, me, limit-1); err != nil {
					return err
				}
			}
		case fp.msg != nil:
			if err := e.validate(fp.msg, val, limit); err != nil {
				return err
			}
		case fp.packable && wtyp == protowire.BytesType:
			if err := validatePacked(fp, val); err != nil {
				return err
			}
		case fp.enforceUTF8:
			if !validUTF8(val) {
				return fmt.Errorf("field %s contains invalid UTF-8", fp.fullName)
			}
		}
	}
	return nil
}

func validatePacked(f *fieldPlan, b []byte) error {
	switch f.wtyp {
	case protowire.VarintType:
		for len(b) > 0 {
			_, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return errDecode
			}
			b = b[m:]
		}
	case protowire.Fixed32Type:
		if len(b)%4 != 0 {
			return errDecode
		}
	case protowire.Fixed64Type:
		if len(b)%8 != 0 {
			return errDecode
		}
	}
	return nil
}

func validUTF8(b []byte) bool { return utf8.Valid(b) }
