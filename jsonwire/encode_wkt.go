package jsonwire

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const (
	maxDurationSeconds  = 315576000000
	maxTimestampSeconds = 253402300799
	minTimestampSeconds = -62135596800
	maxNanos            = 999999999
)

// entriesOf returns the occurrences of field num in sorted ents.
func entriesOf(ents []entry, num protowire.Number) []entry {
	for i := range ents {
		if ents[i].fp.num == num {
			j := i
			for j < len(ents) && ents[j].fp.num == num {
				j++
			}
			return ents[i:j]
		}
	}
	return nil
}

func lastU(ents []entry, num protowire.Number) uint64 {
	fe := entriesOf(ents, num)
	if len(fe) == 0 {
		return 0
	}
	return fe[len(fe)-1].u
}

func (e *encoder) wkt(p *msgPlan, ents []entry, obase, limit int, checkReq bool) error {
	switch p.wkt {
	case wktAny:
		return e.anyJSON(p, ents)
	case wktTimestamp:
		secs, nanos := int64(lastU(ents, 1)), int64(int32(lastU(ents, 2)))
		if secs < minTimestampSeconds || secs > maxTimestampSeconds {
			return fmt.Errorf("%s: seconds out of range %v", p.fullName, secs)
		}
		if nanos < 0 || nanos > maxNanos {
			return fmt.Errorf("%s: nanos out of range %v", p.fullName, nanos)
		}
		out := append(e.out, '"')
		mark := len(out)
		out = time.Unix(secs, nanos).UTC().AppendFormat(out, "2006-01-02T15:04:05.000000000")
		out = trimFrac(out, mark)
		e.out = append(out, 'Z', '"')
		return nil
	case wktDuration:
		secs, nanos := int64(lastU(ents, 1)), int64(int32(lastU(ents, 2)))
		if secs < -maxDurationSeconds || secs > maxDurationSeconds {
			return fmt.Errorf("%s: seconds out of range %v", p.fullName, secs)
		}
		if nanos < -maxNanos || nanos > maxNanos {
			return fmt.Errorf("%s: nanos out of range %v", p.fullName, nanos)
		}
		if (secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
			return fmt.Errorf("%s: signs of seconds and nanos do not match", p.fullName)
		}
		out := append(e.out, '"')
		mark := len(out)
		if secs < 0 || nanos < 0 {
			out = append(out, '-')
			secs, nanos = -secs, -nanos
		}
		out = strconv.AppendInt(out, secs, 10)
		out = append(out, '.')
		var frac [9]byte
		for i, n := 8, nanos; i >= 0; i-- {
			frac[i] = byte('0' + n%10)
			n /= 10
		}
		out = append(out, frac[:]...)
		out = trimFrac(out, mark)
		e.out = append(out, 's', '"')
		return nil
	case wktWrapper:
		f := p.fields[0]
		fe := entriesOf(ents, 1)
		if len(fe) == 0 {
			return e.scalar(f, 0, nil)
		}
		if err := e.validateEntries(f, fe[:len(fe)-1], limit); err != nil {
			return err
		}
		return e.scalar(f, fe[len(fe)-1].u, fe[len(fe)-1].val)
	case wktStruct:
		_, err := e.mapValue(p.fields[0], entriesOf(ents, 1), limit, checkReq)
		return err
	case wktListValue:
		_, err := e.listValue(p.fields[0], entriesOf(ents, 1), limit, checkReq)
		return err
	case wktValue:
		st := e.oneofs[obase]
		for _, f := range p.fields {
			fe := entriesOf(ents, f.num)
			if f != st.cur {
				if err := e.validateEntries(f, fe, limit); err != nil {
					return err
				}
				continue
			}
			i := 0
			for i < len(fe) && fe[i].seq < st.runStart {
				i++
			}
			if err := e.validateEntries(f, fe[:i], limit); err != nil {
				return err
			}
			fe = fe[i:]
			if f.kind == protoreflect.DoubleKind {
				if v := math.Float64frombits(fe[len(fe)-1].u); math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("google.protobuf.Value.number_value: invalid %v value", v)
				}
			}
			if f.kind != protoreflect.MessageKind {
				if err := e.validateEntries(f, fe[:len(fe)-1], limit); err != nil {
					return err
				}
			}
			if err := e.singular(f, fe, limit, checkReq); err != nil {
				return err
			}
		}
		if st.cur == nil {
			return errors.New("google.protobuf.Value: none of the oneof fields is set")
		}
		return nil
	case wktFieldMask:
		out := append(e.out, '"')
		for i, ent := range entriesOf(ents, 1) {
			s := string(ent.val)
			if !protoreflect.FullName(s).IsValid() {
				return fmt.Errorf("google.protobuf.FieldMask.paths contains invalid path: %q", s)
			}
			cc := jsonCamelCase(s)
			if s != jsonSnakeCase(cc) {
				return fmt.Errorf("google.protobuf.FieldMask.paths contains irreversible value %q", s)
			}
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, cc...)
		}
		e.out = append(out, '"')
		return nil
	}
	return fmt.Errorf("unexpected well-known type %s", p.fullName)
}

// trimFrac drops trailing zero groups of a 9-digit fraction as protojson:
// 0, 3, 6 or 9 fractional digits.
func trimFrac(out []byte, mark int) []byte {
	s := out[mark:]
	n := len(s)
	if n >= 3 && string(s[n-3:]) == "000" {
		n -= 3
		if n >= 3 && string(s[n-3:n]) == "000" {
			n -= 3
			if n >= 4 && string(s[n-4:n]) == ".000" {
				n -= 4
			}
		}
	}
	return out[:mark+n]
}

func jsonCamelCase(s string) string {
	var b []byte
	var wasUnderscore bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' {
			if wasUnderscore && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b = append(b, c)
		}
		wasUnderscore = c == '_'
	}
	return string(b)
}

func jsonSnakeCase(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			b = append(b, '_')
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

func (e *encoder) anyJSON(p *msgPlan, ents []entry) error {
	tf, vf := entriesOf(ents, 1), entriesOf(ents, 2)
	if len(tf) > 0 {
		if err := e.validateEntries(tf[0].fp, tf, 0); err != nil {
			return err
		}
	}
	var url, val []byte
	if len(tf) > 0 {
		url = tf[len(tf)-1].val
	}
	if len(vf) > 0 {
		val = vf[len(vf)-1].val
	}
	if len(url) == 0 {
		if len(val) == 0 {
			e.out = append(e.out, '{', '}')
			return nil
		}
		return errors.New("google.protobuf.Any: type_url is not set")
	}
	mt, err := e.res.FindMessageByURL(string(url))
	if err != nil {
		return fmt.Errorf("google.protobuf.Any: unable to resolve %q: %w", url, err)
	}
	ep := planFor(mt.Descriptor())
	if ep.fallback {
		return e.anyFallback(mt, ep, url, val)
	}
	sbase := len(e.segs)
	e.segs = append(e.segs, val)
	segs := e.segs[sbase : sbase+1]
	if ep.wkt != wktNone && ep.wkt != wktEmpty {
		e.out = append(e.out, `{"@type":`...)
		if e.out, err = appendJSONString(e.out, url); err != nil {
			return err
		}
		e.out = append(e.out, `,"value":`...)
		err = e.message(ep, segs, defaultRecursionLimit, false, nil)
		e.out = append(e.out, '}')
	} else {
		err = e.message(ep, segs, defaultRecursionLimit, false, url)
	}
	e.segs = e.segs[:sbase]
	if err != nil {
		return fmt.Errorf("google.protobuf.Any: unable to unmarshal %q: %w", url, err)
	}
	return nil
}

// anyFallback renders an Any payload whose type needs the dynamic fallback.
func (e *encoder) anyFallback(mt protoreflect.MessageType, ep *msgPlan, url, val []byte) error {
	em := mt.New()
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: e.res}).Unmarshal(val, em.Interface()); err != nil {
		return fmt.Errorf("google.protobuf.Any: unable to unmarshal %q: %w", url, err)
	}
	j, err := protojson.MarshalOptions{
		AllowPartial: true, UseProtoNames: e.opts.UseProtoNames,
		EmitUnpopulated: e.opts.EmitUnpopulated, UseEnumNumbers: e.opts.UseEnumNumbers, Resolver: e.res,
	}.Marshal(em.Interface())
	if err != nil {
		return err
	}
	e.out = append(e.out, `{"@type":`...)
	if e.out, err = appendJSONString(e.out, url); err != nil {
		return err
	}
	// j is a JSON object: splice its members after "@type".
	body := trimSpace(j)
	if len(body) >= 2 {
		inner := trimSpace(body[1 : len(body)-1])
		if len(inner) > 0 {
			e.out = append(e.out, ',')
			e.out = append(e.out, inner...)
		}
	}
	e.out = append(e.out, '}')
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
