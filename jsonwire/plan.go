package jsonwire

import (
	"math"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// wktKind identifies the well-known types whose JSON form is special.
type wktKind uint8

const (
	wktNone wktKind = iota
	wktAny
	wktTimestamp
	wktDuration
	wktWrapper
	wktStruct
	wktListValue
	wktValue
	wktFieldMask
	wktEmpty // no special JSON form, but a special JSON→wire rule inside Any
)

// msgPlan is the immutable, precomputed description of one message type.
type msgPlan struct {
	md        protoreflect.MessageDescriptor
	fullName  protoreflect.FullName
	wkt       wktKind
	fields    []*fieldPlan // declaration order (Fields().Get(i))
	dense     []*fieldPlan // by field number, when numbers are small
	sparse    map[protowire.Number]*fieldPlan
	byName    map[string]*fieldPlan // JSON names, then proto/text names (protojson lookup order)
	numOneofs int                   // real (non-synthetic) oneofs
	required  []*fieldPlan
	extRanges protoreflect.FieldRanges // nil when the message has none
	msgSet    bool                     // proto1 MessageSet: protojson rejects it
	mapEntry  bool
	fallback  bool // transcode through dynamicpb+protojson (see doc.go)
	seenWords int  // uint64 words needed for a bitset over fields
	oneWords  int  // uint64 words needed for a bitset over oneofs
}

// fieldPlan is the immutable, precomputed description of one field.
type fieldPlan struct {
	fd          protoreflect.FieldDescriptor
	num         protowire.Number
	index       int // declaration index; extensions: -1
	kind        protoreflect.Kind
	wtyp        protowire.Type // wire type of one element
	list        bool
	isMap       bool
	packable    bool // repeated scalar: packed input accepted
	packed      bool // emit packed
	presence    bool // explicit presence (Has semantics)
	oneof       int  // real oneof index, -1 when none
	inAnyOneof  bool // ContainingOneof() != nil (incl. synthetic): skipped by EmitUnpopulated
	isExt       bool
	required    bool
	reqBit      int
	enforceUTF8 bool
	nullValue   bool   // enum google.protobuf.NullValue
	valueMsg    bool   // message google.protobuf.Value
	jsonKey     []byte // `"jsonName":`
	protoKey    []byte // `"proto_name":`
	jsonName    string
	fullName    string
	msg         *msgPlan
	enum        *enumPlan
	key, val    *fieldPlan // map entries
	defEnum     protoreflect.EnumNumber
	tag         []byte // tag for one element with wtyp
	tagLD       []byte // tag with BytesType (packed / messages / strings)
	tagEnd      []byte // end-group tag
}

type enumPlan struct {
	ed     protoreflect.EnumDescriptor
	lo     int32
	dense  []string // quoted names, index n-lo; "" when none
	sparse map[int32]string
	byName map[string]int32
}

func (e *enumPlan) quotedName(n int32) string {
	if e.dense != nil {
		if i := int64(n) - int64(e.lo); i >= 0 && i < int64(len(e.dense)) {
			return e.dense[i]
		}
		return ""
	}
	return e.sparse[n]
}

var (
	plans    sync.Map // protoreflect.MessageDescriptor -> *msgPlan
	extPlans sync.Map // protoreflect.FieldDescriptor (extension) -> *fieldPlan
	buildMu  sync.Mutex
)

// planFor returns the cached plan for md, building it (and the plans of
// every message reachable from it) on first use.
func planFor(md protoreflect.MessageDescriptor) *msgPlan {
	if p, ok := plans.Load(md); ok {
		return p.(*msgPlan)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := plans.Load(md); ok {
		return p.(*msgPlan)
	}
	b := &builder{msgs: map[protoreflect.MessageDescriptor]*msgPlan{}, enums: map[protoreflect.EnumDescriptor]*enumPlan{}}
	p := b.message(md)
	b.finish()
	return p
}

// extPlanFor returns the cached plan for an extension field.
func extPlanFor(xd protoreflect.ExtensionTypeDescriptor) *fieldPlan {
	key := xd.Descriptor()
	if p, ok := extPlans.Load(key); ok {
		return p.(*fieldPlan)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := extPlans.Load(key); ok {
		return p.(*fieldPlan)
	}
	b := &builder{msgs: map[protoreflect.MessageDescriptor]*msgPlan{}, enums: map[protoreflect.EnumDescriptor]*enumPlan{}}
	fp := b.field(xd, -1)
	b.finish()
	extPlans.Store(key, fp)
	return fp
}

type builder struct {
	msgs  map[protoreflect.MessageDescriptor]*msgPlan
	enums map[protoreflect.EnumDescriptor]*enumPlan
	order []*msgPlan
}

func (b *builder) finish() {
	// Fallback is transitive: a message falls back when anything reachable
	// from it does. Iterate to a fixed point (cycles are possible).
	for changed := true; changed; {
		changed = false
		for _, p := range b.order {
			if p.fallback {
				continue
			}
			for _, f := range p.fields {
				if (f.msg != nil && f.msg.fallback) || (f.val != nil && f.val.msg != nil && f.val.msg.fallback) {
					p.fallback = true
					changed = true
					break
				}
			}
		}
	}
	for _, p := range b.order {
		plans.Store(p.md, p)
	}
}

func wktOf(name protoreflect.FullName) wktKind {
	if name.Parent() != "google.protobuf" {
		return wktNone
	}
	switch name.Name() {
	case "Any":
		return wktAny
	case "Timestamp":
		return wktTimestamp
	case "Duration":
		return wktDuration
	case "BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
		"FloatValue", "DoubleValue", "StringValue", "BytesValue":
		return wktWrapper
	case "Struct":
		return wktStruct
	case "ListValue":
		return wktListValue
	case "Value":
		return wktValue
	case "FieldMask":
		return wktFieldMask
	case "Empty":
		return wktEmpty
	}
	return wktNone
}

func (b *builder) message(md protoreflect.MessageDescriptor) *msgPlan {
	if p, ok := plans.Load(md); ok {
		return p.(*msgPlan)
	}
	if p := b.msgs[md]; p != nil {
		return p
	}
	p := &msgPlan{md: md, fullName: md.FullName(), wkt: wktOf(md.FullName()), mapEntry: md.IsMapEntry()}
	b.msgs[md] = p
	b.order = append(b.order, p)
	if opts, ok := md.Options().(interface{ GetMessageSetWireFormat() bool }); ok && opts.GetMessageSetWireFormat() {
		p.msgSet = true
	}
	if md.ExtensionRanges().Len() > 0 {
		p.extRanges = md.ExtensionRanges()
	}
	fds := md.Fields()
	n := fds.Len()
	p.fields = make([]*fieldPlan, n)
	maxNum := protowire.Number(0)
	oneofIdx := map[protoreflect.OneofDescriptor]int{}
	for i := 0; i < md.Oneofs().Len(); i++ {
		od := md.Oneofs().Get(i)
		if !od.IsSynthetic() {
			oneofIdx[od] = p.numOneofs
			p.numOneofs++
		}
	}
	for i := 0; i < n; i++ {
		fd := fds.Get(i)
		fp := b.field(fd, i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			fp.oneof = oneofIdx[od]
		}
		if fp.required {
			fp.reqBit = len(p.required)
			p.required = append(p.required, fp)
		}
		p.fields[i] = fp
		if fp.num > maxNum {
			maxNum = fp.num
		}
	}
	if maxNum < 256 || int(maxNum) < 4*n {
		p.dense = make([]*fieldPlan, maxNum+1)
		for _, f := range p.fields {
			p.dense[f.num] = f
		}
	} else {
		p.sparse = make(map[protowire.Number]*fieldPlan, n)
		for _, f := range p.fields {
			p.sparse[f.num] = f
		}
	}
	// Name lookup exactly as protojson: Fields().ByJSONName, then ByTextName.
	p.byName = make(map[string]*fieldPlan, 2*n)
	for i := 0; i < n; i++ {
		fd := fds.Get(i)
		for _, c := range []string{fd.JSONName(), fd.TextName(), strings.ToLower(fd.JSONName()), strings.ToLower(fd.TextName())} {
			if _, ok := p.byName[c]; ok {
				continue
			}
			r := fds.ByJSONName(c)
			if r == nil {
				r = fds.ByTextName(c)
			}
			if r != nil {
				p.byName[c] = p.fields[r.Index()]
			}
		}
	}
	p.seenWords = (n + 63) / 64
	p.oneWords = (p.numOneofs + 63) / 64
	if len(p.required) > 64 {
		// Presence of required fields is tracked in one uint64.
		p.fallback = true
	}
	return p
}

func quotedKey(s string) []byte {
	b, _ := appendJSONString(nil, []byte(s))
	return append(b, ':')
}

func wireTypeOf(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	default:
		return protowire.BytesType
	}
}

// enforceUTF8 mirrors protobuf-go's internal strs.EnforceUTF8.
func enforceUTF8(fd protoreflect.FieldDescriptor) bool {
	if fd.Syntax() == protoreflect.Editions {
		if x, ok := fd.(interface{ EnforceUTF8() bool }); ok {
			return x.EnforceUTF8()
		}
	}
	return fd.Syntax() == protoreflect.Proto3
}

func (b *builder) field(fd protoreflect.FieldDescriptor, index int) *fieldPlan {
	fp := &fieldPlan{
		fd:         fd,
		num:        fd.Number(),
		index:      index,
		kind:       fd.Kind(),
		list:       fd.IsList(),
		isMap:      fd.IsMap(),
		presence:   fd.HasPresence(),
		oneof:      -1,
		inAnyOneof: fd.ContainingOneof() != nil,
		isExt:      fd.IsExtension(),
		required:   fd.Cardinality() == protoreflect.Required,
		jsonName:   fd.JSONName(),
		fullName:   string(fd.FullName()),
	}
	fp.wtyp = wireTypeOf(fp.kind)
	fp.jsonKey = quotedKey(fd.JSONName())
	fp.protoKey = quotedKey(fd.TextName())
	if fp.kind == protoreflect.StringKind {
		fp.enforceUTF8 = enforceUTF8(fd)
	}
	if fp.list && fp.wtyp != protowire.BytesType && fp.wtyp != protowire.StartGroupType {
		fp.packable = true
		fp.packed = fd.IsPacked()
	}
	fp.tag = protowire.AppendTag(nil, fp.num, fp.wtyp)
	fp.tagLD = protowire.AppendTag(nil, fp.num, protowire.BytesType)
	if fp.wtyp == protowire.StartGroupType {
		fp.tagEnd = protowire.AppendTag(nil, fp.num, protowire.EndGroupType)
	}
	switch fp.kind {
	case protoreflect.EnumKind:
		ed := fd.Enum()
		fp.nullValue = ed.FullName() == "google.protobuf.NullValue"
		fp.enum = b.enumPlan(ed)
		if !fp.list {
			fp.defEnum = fd.Default().Enum()
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		fp.valueMsg = fd.Message().FullName() == "google.protobuf.Value"
		if fp.isMap {
			fp.key = b.field(fd.MapKey(), -1)
			fp.val = b.field(fd.MapValue(), -1)
		} else {
			fp.msg = b.message(fd.Message())
		}
	}
	return fp
}

func (b *builder) enumPlan(ed protoreflect.EnumDescriptor) *enumPlan {
	if e := b.enums[ed]; e != nil {
		return e
	}
	e := &enumPlan{ed: ed, byName: map[string]int32{}}
	b.enums[ed] = e
	vals := ed.Values()
	lo, hi := int64(math.MaxInt32), int64(math.MinInt32)
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		n := int64(v.Number())
		lo, hi = min(lo, n), max(hi, n)
		e.byName[string(v.Name())] = int32(v.Number())
	}
	name := func(n int32) string {
		v := vals.ByNumber(protoreflect.EnumNumber(n)) // first declared wins, as protojson
		b, _ := appendJSONString(nil, []byte(v.Name()))
		return string(b)
	}
	if vals.Len() > 0 && hi-lo < 1024 {
		e.lo = int32(lo)
		e.dense = make([]string, hi-lo+1)
		for i := 0; i < vals.Len(); i++ {
			n := int32(vals.Get(i).Number())
			e.dense[int64(n)-lo] = name(n)
		}
	} else {
		e.sparse = map[int32]string{}
		for i := 0; i < vals.Len(); i++ {
			n := int32(vals.Get(i).Number())
			e.sparse[n] = name(n)
		}
	}
	return e
}

// lookup returns the plan of field num, or nil.
func (p *msgPlan) lookup(num protowire.Number) *fieldPlan {
	if p.dense != nil {
		if int(num) < len(p.dense) {
			return p.dense[num]
		}
		return nil
	}
	return p.sparse[num]
}
