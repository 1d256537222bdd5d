package jsonwire

import (
	"errors"
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func (d *decoder) wkt(p *msgPlan, limit int, checkReq bool) error {
	switch p.wkt {
	case wktAny:
		return d.anyMsg(limit)
	case wktTimestamp, wktDuration:
		t, err := d.next()
		if err != nil {
			return err
		}
		if t.kind != tString {
			return d.unexpected(t)
		}
		var secs int64
		var nanos int32
		var ok bool
		if p.wkt == wktTimestamp {
			secs, nanos, ok = parseTimestamp(t.str)
			if !ok {
				return d.errorf(t.pos, "invalid %v value %s", p.fullName, t.raw)
			}
			if secs < minTimestampSeconds || secs > maxTimestampSeconds {
				return d.errorf(t.pos, "%v value out of range: %s", p.fullName, t.raw)
			}
		} else {
			secs, nanos, ok = parseDuration(t.str)
			if !ok {
				return d.errorf(t.pos, "invalid %v value %s", p.fullName, t.raw)
			}
			if secs < -maxDurationSeconds || secs > maxDurationSeconds {
				return d.errorf(t.pos, "%v value out of range: %s", p.fullName, t.raw)
			}
		}
		if secs != 0 {
			d.out = append(d.out, 1<<3|byte(protowire.VarintType))
			d.out = protowire.AppendVarint(d.out, uint64(secs))
		}
		if nanos != 0 {
			d.out = append(d.out, 2<<3|byte(protowire.VarintType))
			d.out = protowire.AppendVarint(d.out, uint64(int64(nanos)))
		}
		return nil
	case wktWrapper:
		_, err := d.singular(p.fields[0], limit, checkReq)
		return err
	case wktStruct:
		return d.mapField(p.fields[0], limit, checkReq)
	case wktListValue:
		return d.list(p.fields[0], limit, checkReq)
	case wktValue:
		return d.value(p, limit, checkReq)
	case wktFieldMask:
		t, err := d.next()
		if err != nil {
			return err
		}
		if t.kind != tString {
			return d.unexpected(t)
		}
		str := strings.TrimSpace(string(t.str))
		if str == "" {
			return nil
		}
		for _, s0 := range strings.Split(str, ",") {
			s := jsonSnakeCase(s0)
			if strings.Contains(s0, "_") || !protoreflect.FullName(s).IsValid() {
				return d.errorf(t.pos, "google.protobuf.FieldMask.paths contains invalid path: %q", s0)
			}
			d.out = append(d.out, 1<<3|byte(protowire.BytesType))
			d.out = protowire.AppendVarint(d.out, uint64(len(s)))
			d.out = append(d.out, s...)
		}
		return nil
	case wktEmpty:
		t, err := d.next()
		if err != nil {
			return err
		}
		if t.kind != tObjectOpen {
			return d.unexpected(t)
		}
		return d.emptyBody(limit)
	}
	return errors.New("unexpected well-known type " + string(p.fullName))
}

// emptyBody parses the members of an object where every member is
// unknown (google.protobuf.Empty).
func (d *decoder) emptyBody(limit int) error {
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
		if !d.opts.DiscardUnknown {
			return d.errorf(t.pos, "unknown field %s", t.raw)
		}
		if err := d.skipValue(limit); err != nil {
			return err
		}
	}
}

// value parses google.protobuf.Value.
func (d *decoder) value(p *msgPlan, limit int, checkReq bool) error {
	switch d.peek() {
	case '{':
		sp := p.lookup(5)
		d.out = append(d.out, sp.tagLD...)
		m := d.beginLen()
		if err := d.mapField(sp.msg.fields[0], limit, checkReq); err != nil {
			return err
		}
		d.endLen(m)
		return nil
	case '[':
		lp := p.lookup(6)
		d.out = append(d.out, lp.tagLD...)
		m := d.beginLen()
		if err := d.list(lp.msg.fields[0], limit, checkReq); err != nil {
			return err
		}
		d.endLen(m)
		return nil
	}
	t, err := d.next()
	if err != nil {
		return err
	}
	switch t.kind {
	case tNull:
		d.out = append(d.out, 1<<3|byte(protowire.VarintType), 0)
	case tBool:
		v := byte(0)
		if t.b {
			v = 1
		}
		d.out = append(d.out, 4<<3|byte(protowire.VarintType), v)
	case tNumber:
		f, ok := parseFloatToken(t, 64)
		if !ok {
			return d.errorf(t.pos, "invalid google.protobuf.Value: %s", t.raw)
		}
		d.out = append(d.out, 2<<3|byte(protowire.Fixed64Type))
		d.out = protowire.AppendFixed64(d.out, math.Float64bits(f))
	case tString:
		d.out = append(d.out, 3<<3|byte(protowire.BytesType))
		d.out = protowire.AppendVarint(d.out, uint64(len(t.str)))
		d.out = append(d.out, t.str...)
	default:
		if t.kind == tEOF {
			return errUnexpectedEOF
		}
		return d.errorf(t.pos, "invalid google.protobuf.Value: %s", t.raw)
	}
	return nil
}

var (
	errEmptyObject = errors.New("empty object")
	errMissingType = errors.New(`missing "@type" field`)
)

// anyMsg parses google.protobuf.Any: the object is scanned once for
// "@type", then parsed as the embedded type. The embedded message is then
// re-encoded deterministically through its resolved type so that
// Any.value is byte-identical to protojson+proto.Marshal's.
func (d *decoder) anyMsg(limit int) error {
	if d.peek() != '{' {
		t, err := d.next()
		if err != nil {
			return err
		}
		return d.unexpected(t)
	}
	start := d.pos
	url, urlTok, err := d.findTypeURL(limit)
	switch err {
	case nil:
	case errEmptyObject:
		d.pos = start
		_, _ = d.next() // '{', already validated by findTypeURL
		_, _ = d.next() // '}'
		return nil
	case errMissingType:
		d.pos = start
		if d.opts.DiscardUnknown {
			return d.skipValue(limit)
		}
		return d.errorf(start, "%v", err)
	default:
		return err
	}
	d.pos = start
	mt, err := d.res.FindMessageByURL(url)
	if err != nil {
		return d.errorf(urlTok.pos, "unable to resolve %s: %q", urlTok.raw, err)
	}
	ep := planFor(mt.Descriptor())
	d.out = append(d.out, 1<<3|byte(protowire.BytesType))
	d.out = protowire.AppendVarint(d.out, uint64(len(url)))
	d.out = append(d.out, url...)
	vtag := len(d.out)
	d.out = append(d.out, 2<<3|byte(protowire.BytesType))
	vm := d.beginLen()
	vstart := len(d.out)
	if ep.wkt != wktNone {
		err = d.anyValue(ep, limit)
	} else {
		err = d.message(ep, limit, false, true)
	}
	if err != nil {
		return err
	}
	em := mt.New()
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: d.res}).Unmarshal(d.out[vstart:], em.Interface()); err != nil {
		return d.errorf(start, "error in marshaling Any.value field: %v", err)
	}
	b, err := proto.MarshalOptions{AllowPartial: true, Deterministic: true}.Marshal(em.Interface())
	if err != nil {
		return d.errorf(start, "error in marshaling Any.value field: %v", err)
	}
	if len(b) == 0 {
		d.out = d.out[:vtag]
		return nil
	}
	d.out = append(d.out[:vstart], b...)
	d.endLen(vm)
	return nil
}

func (d *decoder) findTypeURL(limit int) (string, token, error) {
	d.pos++ // '{'
	numFields := 0
	var url string
	var urlTok token
	for first := true; ; first = false {
		t, err := d.next()
		if err != nil {
			return "", token{}, err
		}
		if t.kind == tObjectClose {
			break
		}
		if !first {
			if t.kind != tComma {
				return "", token{}, d.unexpected(t)
			}
			if t, err = d.next(); err != nil {
				return "", token{}, err
			}
		}
		if t.kind != tString {
			return "", token{}, d.unexpected(t)
		}
		if err := d.colon(); err != nil {
			return "", token{}, err
		}
		numFields++
		if string(t.str) != "@type" {
			if err := d.skipValue(limit); err != nil {
				return "", token{}, err
			}
			continue
		}
		if url != "" {
			return "", token{}, d.errorf(t.pos, `duplicate "@type" field`)
		}
		vt, err := d.next()
		if err != nil {
			return "", token{}, err
		}
		if vt.kind != tString {
			return "", token{}, d.errorf(vt.pos, "@type field value is not a string: %s", vt.raw)
		}
		url = string(vt.str)
		if url == "" {
			return "", token{}, d.errorf(vt.pos, "@type field contains empty value")
		}
		urlTok = vt
	}
	if url == "" {
		if numFields > 0 {
			return "", token{}, errMissingType
		}
		return "", token{}, errEmptyObject
	}
	return url, urlTok, nil
}

// anyValue parses {"@type": ..., "value": <custom JSON>} for a well-known
// embedded type.
func (d *decoder) anyValue(ep *msgPlan, limit int) error {
	_, _ = d.next() // '{', already validated by the caller
	found := false
	for first := true; ; first = false {
		t, err := d.next()
		if err != nil {
			return err
		}
		if t.kind == tObjectClose {
			if !found && ep.wkt != wktEmpty {
				return d.errorf(t.pos, `missing "value" field`)
			}
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
		switch string(t.str) {
		case "@type":
			if _, err := d.next(); err != nil {
				return err
			}
		case "value":
			if found {
				return d.errorf(t.pos, `duplicate "value" field`)
			}
			if err := d.wkt(ep, limit, false); err != nil {
				return err
			}
			found = true
		default:
			if !d.opts.DiscardUnknown {
				return d.errorf(t.pos, "unknown field %s", t.raw)
			}
			if err := d.skipValue(limit); err != nil {
				return err
			}
		}
	}
}

// parseTimestamp parses an RFC 3339 timestamp as protojson does
// (time.Parse with RFC3339Nano, at most 9 fractional digits). The canonical
// UTC form is parsed without allocating.
func parseTimestamp(s []byte) (int64, int32, bool) {
	if secs, nanos, ok := parseTimestampFast(s); ok {
		return secs, nanos, true
	}
	str := string(s)
	t, err := time.Parse(time.RFC3339Nano, str)
	if err != nil {
		return 0, 0, false
	}
	i := strings.LastIndexByte(str, '.')
	j := strings.LastIndexAny(str, "Z-+")
	if i >= 0 && j >= i && j-i > len(".999999999") {
		return 0, 0, false
	}
	return t.Unix(), int32(t.Nanosecond()), true
}

func digits(s []byte) (int, bool) {
	v := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseTimestampFast accepts only "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" with
// in-range components; anything else goes to time.Parse.
func parseTimestampFast(s []byte) (int64, int32, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return 0, 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return 0, 0, false
	}
	if day > daysIn(month, year) {
		return 0, 0, false
	}
	nanos := 0
	rest := s[19 : len(s)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return 0, 0, false
		}
		f, ok := digits(rest[1:])
		if !ok {
			return 0, 0, false
		}
		for i := len(rest) - 1; i < 9; i++ {
			f *= 10
		}
		nanos = f
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	return t.Unix(), int32(nanos), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDuration mirrors protojson's Duration grammar: optional sign,
// integer and/or fraction (at most 9 digits), suffix "s".
func parseDuration(b []byte) (int64, int32, bool) {
	if len(b) < 2 || b[len(b)-1] != 's' {
		return 0, 0, false
	}
	b = b[:len(b)-1]
	neg := false
	switch b[0] {
	case '-':
		neg = true
		b = b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, 0, false
	}
	var intp []byte
	switch {
	case b[0] == '0':
		b = b[1:]
	case '1' <= b[0] && b[0] <= '9':
		n := 1
		for n < len(b) && '0' <= b[n] && b[n] <= '9' {
			n++
		}
		intp, b = b[:n], b[n:]
	case b[0] == '.':
	default:
		return 0, 0, false
	}
	var nanos int64
	if len(b) > 0 {
		if b[0] != '.' {
			return 0, 0, false
		}
		b = b[1:]
		n := 0
		for len(b) > 0 && n < 9 && '0' <= b[0] && b[0] <= '9' {
			nanos = nanos*10 + int64(b[0]-'0')
			n++
			b = b[1:]
		}
		if len(b) > 0 {
			return 0, 0, false
		}
		for ; n < 9; n++ {
			nanos *= 10
		}
	}
	var secs int64
	if len(intp) > 0 {
		v, ok := parseUintDigits(intp, math.MaxInt64)
		if !ok {
			return 0, 0, false
		}
		secs = int64(v)
	}
	if neg {
		secs, nanos = -secs, -nanos
	}
	return secs, int32(nanos), true
}
