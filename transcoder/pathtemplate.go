package transcoder

import (
	"fmt"
	"strings"
)

// This file parses the path templates of google.api.HttpRule:
//
//	Template  = "/" Segments [ Verb ] ;
//	Segments  = Segment { "/" Segment } ;
//	Segment   = "*" | "**" | LITERAL | Variable ;
//	Variable  = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb      = ":" LITERAL ;
//
// Decisions the grammar leaves open:
//
//   - A template needs at least one segment, so "/" alone is rejected, as is
//     any empty segment ("/a//b", "/a/", "{x=}").
//   - A LITERAL is a non-empty run of bytes other than '/', '{', '}', '*' and
//     ASCII control characters. It is kept verbatim (no percent-decoding); the
//     router compares it with the percent-decoded request segment.
//   - ':' is an ordinary literal byte except in the final segment outside
//     braces, where the LAST ':' introduces the verb. So "/v1/a:b" is the
//     literal "a" plus the verb "b", "/v1/a:b:c" is the literal "a:b" plus the
//     verb "c", "/v1/a:b/c" has the literal "a:b", and "/v1/{x=a:b}" has the
//     literal "a:b" and no verb. The router splits the request's last segment
//     at its last ':' too, so the two agree.
//   - "{name}" is shorthand for "{name=*}".
//   - "**" may only be the last segment of the template (before the verb),
//     whether or not it is inside a variable.
//   - Variables cannot nest, and two variables cannot bind the same field path.
//   - IDENT is [A-Za-z_][A-Za-z0-9_]*.

// segmentKind says what a template segment matches.
type segmentKind uint8

const (
	segmentLiteral        segmentKind = iota // exactly the literal text
	segmentWildcard                          // "*": any one non-empty segment
	segmentDoubleWildcard                    // "**": zero or more segments; always last
)

// templateSegment is one '/'-separated element of a template.
type templateSegment struct {
	kind    segmentKind
	literal string // only for segmentLiteral
}

// templateVariable binds segments [start, end) of the template to a field
// path. For a variable whose last segment is "**", the capture extends over
// every request segment the "**" matched.
type templateVariable struct {
	fieldPath []string
	start     int
	end       int
}

// pathTemplate is a parsed HttpRule path template.
type pathTemplate struct {
	raw       string
	segments  []templateSegment
	verb      string // custom verb without ':' ("" if none)
	variables []templateVariable
}

// parsePathTemplate parses s. Errors are prefixed `path template "s": ` and
// give the byte offset in s of the problem.
func parsePathTemplate(s string) (*pathTemplate, error) {
	p := templateParser{src: s, tmpl: &pathTemplate{raw: s}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.tmpl, nil
}

type templateParser struct {
	src  string
	body string // src without the verb
	pos  int
	tmpl *pathTemplate
	// segOffsets[i] is the offset in src of template segment i.
	segOffsets []int
}

func (p *templateParser) errf(off int, format string, args ...any) error {
	return fmt.Errorf("path template %q: %s at offset %d", p.src, fmt.Sprintf(format, args...), off)
}

func (p *templateParser) parse() error {
	s := p.src
	if s == "" || s[0] != '/' {
		return p.errf(0, "must start with '/'")
	}

	// Locate the verb: the last ':' outside braces after the last '/'
	// outside braces. Unbalanced braces are reported by the main pass.
	depth, colon := 0, -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
			}
		case '/':
			if depth == 0 {
				colon = -1
			}
		case ':':
			if depth == 0 {
				colon = i
			}
		}
	}
	p.body = s
	if colon >= 0 {
		p.body = s[:colon]
		verb := s[colon+1:]
		if verb == "" {
			return p.errf(colon+1, "empty verb after ':'")
		}
		for i := 0; i < len(verb); i++ {
			if !isLiteralByte(verb[i]) {
				return p.errf(colon+1+i, "invalid character %q in verb", verb[i])
			}
		}
		p.tmpl.verb = verb
	}

	p.pos = 1
	for {
		if err := p.segment(false); err != nil {
			return err
		}
		if p.pos == len(p.body) {
			break
		}
		switch c := p.body[p.pos]; c {
		case '/':
			p.pos++
		case '}':
			return p.errf(p.pos, "unexpected '}' outside a variable")
		default:
			return p.errf(p.pos, "unexpected character %q", c)
		}
	}

	// "**" may stand anywhere (Google's own APIs put it mid-template, as in
	// "/v1/{parent=projects/*/databases/*/documents/*/**}/{collection_id}"),
	// but only once: with two, which segments each takes would be ambiguous.
	seen := false
	for i, seg := range p.tmpl.segments {
		if seg.kind == segmentDoubleWildcard {
			if seen {
				return p.errf(p.segOffsets[i], "a template may have only one '**'")
			}
			seen = true
		}
	}
	return nil
}

// segment parses one Segment at p.pos. inVar reports whether it is inside a
// variable's "=" Segments.
func (p *templateParser) segment(inVar bool) error {
	b := p.body
	start := p.pos
	if start == len(b) || b[start] == '/' {
		return p.errf(start, "empty segment")
	}
	switch b[start] {
	case '{':
		if inVar {
			return p.errf(start, "nested variable")
		}
		return p.variable()
	case '}':
		if inVar {
			return p.errf(start, "empty segment")
		}
		return p.errf(start, "unexpected '}' outside a variable")
	case '*':
		kind := segmentWildcard
		p.pos++
		if p.pos < len(b) && b[p.pos] == '*' {
			kind = segmentDoubleWildcard
			p.pos++
		}
		if p.pos < len(b) && b[p.pos] != '/' && !(inVar && b[p.pos] == '}') {
			return p.errf(start, "'*' and '**' must be a whole segment")
		}
		p.add(templateSegment{kind: kind}, start)
		return nil
	}
	for p.pos < len(b) && isLiteralByte(b[p.pos]) {
		p.pos++
	}
	if p.pos < len(b) {
		switch c := b[p.pos]; c {
		case '/':
		case '}':
			if !inVar {
				return p.errf(p.pos, "unexpected '}' outside a variable")
			}
		case '{':
			return p.errf(p.pos, "'{' must start a segment")
		case '*':
			return p.errf(p.pos, "'*' and '**' must be a whole segment")
		default:
			return p.errf(p.pos, "invalid character %q in literal", c)
		}
	}
	p.add(templateSegment{kind: segmentLiteral, literal: b[start:p.pos]}, start)
	return nil
}

func (p *templateParser) add(seg templateSegment, off int) {
	p.tmpl.segments = append(p.tmpl.segments, seg)
	p.segOffsets = append(p.segOffsets, off)
}

// variable parses a Variable; p.pos is at its '{'.
func (p *templateParser) variable() error {
	b := p.body
	open := p.pos
	p.pos++
	var fieldPath []string
	for {
		identStart := p.pos
		for p.pos < len(b) && isIdentByte(b[p.pos], p.pos == identStart) {
			p.pos++
		}
		if p.pos == identStart {
			if p.pos == len(b) {
				return p.errf(open, "unterminated '{'")
			}
			return p.errf(p.pos, "invalid field path: expected identifier, found %q", b[p.pos])
		}
		fieldPath = append(fieldPath, b[identStart:p.pos])
		if p.pos < len(b) && b[p.pos] == '.' {
			p.pos++
			continue
		}
		break
	}
	v := templateVariable{fieldPath: fieldPath, start: len(p.tmpl.segments)}
	if p.pos == len(b) {
		return p.errf(open, "unterminated '{'")
	}
	switch c := b[p.pos]; c {
	case '}':
		p.add(templateSegment{kind: segmentWildcard}, p.pos)
	case '=':
		p.pos++
		for {
			if err := p.segment(true); err != nil {
				return err
			}
			if p.pos == len(b) {
				return p.errf(open, "unterminated '{'")
			}
			if b[p.pos] == '}' {
				break
			}
			if b[p.pos] != '/' {
				return p.errf(p.pos, "unexpected character %q in variable", b[p.pos])
			}
			p.pos++
		}
	default:
		return p.errf(p.pos, "invalid field path: unexpected character %q", c)
	}
	p.pos++ // '}'
	v.end = len(p.tmpl.segments)
	name := strings.Join(fieldPath, ".")
	for _, other := range p.tmpl.variables {
		if strings.Join(other.fieldPath, ".") == name {
			return p.errf(open, "duplicate variable %q", name)
		}
	}
	p.tmpl.variables = append(p.tmpl.variables, v)
	return nil
}

func isLiteralByte(c byte) bool {
	switch c {
	case '/', '{', '}', '*':
		return false
	}
	return c >= 0x20 && c != 0x7f
}

func isIdentByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// String returns the canonical form of t: "{name=*}" is written "{name}", and
// everything else as parsed. Parsing the result yields an equal template.
func (t *pathTemplate) String() string {
	var sb strings.Builder
	vi := 0
	for i := 0; i < len(t.segments); {
		sb.WriteByte('/')
		if vi < len(t.variables) && t.variables[vi].start == i {
			v := t.variables[vi]
			vi++
			sb.WriteByte('{')
			sb.WriteString(strings.Join(v.fieldPath, "."))
			if !(v.end-v.start == 1 && t.segments[v.start].kind == segmentWildcard) {
				sb.WriteByte('=')
				writeSegments(&sb, t.segments[v.start:v.end])
			}
			sb.WriteByte('}')
			i = v.end
			continue
		}
		writeSegments(&sb, t.segments[i:i+1])
		i++
	}
	if t.verb != "" {
		sb.WriteByte(':')
		sb.WriteString(t.verb)
	}
	return sb.String()
}

func writeSegments(sb *strings.Builder, segs []templateSegment) {
	for i, s := range segs {
		if i > 0 {
			sb.WriteByte('/')
		}
		switch s.kind {
		case segmentWildcard:
			sb.WriteByte('*')
		case segmentDoubleWildcard:
			sb.WriteString("**")
		default:
			sb.WriteString(s.literal)
		}
	}
}

// doubleWildcard returns the index of the template's "**" segment, or -1.
func (t *pathTemplate) doubleWildcard() int {
	for i, seg := range t.segments {
		if seg.kind == segmentDoubleWildcard {
			return i
		}
	}
	return -1
}
