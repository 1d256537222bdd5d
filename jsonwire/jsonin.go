package jsonwire

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON tokenizer with protojson's exact acceptance rules (RFC 8259
// plus protojson's delimiter rule after literals and numbers).

type tkind uint8

const (
	tNone tkind = iota
	tNull
	tBool
	tNumber
	tString
	tObjectOpen
	tObjectClose
	tArrayOpen
	tArrayClose
	tComma
	tColon
	tEOF
)

type token struct {
	kind tkind
	pos  int
	raw  []byte // literal / number text, or quoted string text
	str  []byte // parsed string (valid until the next string is read)
	b    bool
}

var errUnexpectedEOF = errors.New("unexpected EOF")

// posErr is an error with a line:column position, like protojson's.
func (d *decoder) errorf(pos int, f string, args ...any) error {
	line, col := position(d.in, pos)
	return fmt.Errorf("(line %d:%d): %s", line, col, fmt.Sprintf(f, args...))
}

func (d *decoder) syntaxErr(pos int, f string, args ...any) error {
	line, col := position(d.in, pos)
	return fmt.Errorf("syntax error (line %d:%d): %s", line, col, fmt.Sprintf(f, args...))
}

func position(in []byte, pos int) (line, col int) {
	if pos > len(in) {
		pos = len(in)
	}
	b := in[:pos]
	line = bytes.Count(b, []byte("\n")) + 1
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return line, utf8.RuneCount(b) + 1
}

func (d *decoder) unexpected(t token) error {
	if t.kind == tEOF {
		return errUnexpectedEOF
	}
	return d.syntaxErr(t.pos, "unexpected token %s", t.raw)
}

func (d *decoder) ws() {
	for d.pos < len(d.in) {
		switch d.in[d.pos] {
		case ' ', '\n', '\r', '\t':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the first byte of the next token (0 at EOF).
func (d *decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.in) {
		return 0
	}
	return d.in[d.pos]
}

func isNotDelim(c byte) bool {
	return c == '-' || c == '+' || c == '.' || c == '_' ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func matchLit(lit string, b []byte) int {
	if len(b) < len(lit) || string(b[:len(lit)]) != lit {
		return 0
	}
	if len(lit) < len(b) && isNotDelim(b[len(lit)]) {
		return 0
	}
	return len(lit)
}

// next reads the next token.
func (d *decoder) next() (token, error) {
	d.ws()
	pos := d.pos
	in := d.in[pos:]
	if len(in) == 0 {
		return token{kind: tEOF, pos: pos}, nil
	}
	one := func(k tkind) (token, error) {
		d.pos++
		return token{kind: k, pos: pos, raw: in[:1]}, nil
	}
	switch in[0] {
	case '{':
		return one(tObjectOpen)
	case '}':
		return one(tObjectClose)
	case '[':
		return one(tArrayOpen)
	case ']':
		return one(tArrayClose)
	case ',':
		return one(tComma)
	case ':':
		return one(tColon)
	case 'n':
		if n := matchLit("null", in); n > 0 {
			d.pos += n
			return token{kind: tNull, pos: pos, raw: in[:n]}, nil
		}
	case 't':
		if n := matchLit("true", in); n > 0 {
			d.pos += n
			return token{kind: tBool, pos: pos, raw: in[:n], b: true}, nil
		}
	case 'f':
		if n := matchLit("false", in); n > 0 {
			d.pos += n
			return token{kind: tBool, pos: pos, raw: in[:n]}, nil
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if n, ok := scanNumber(in); ok {
			d.pos += n
			return token{kind: tNumber, pos: pos, raw: in[:n]}, nil
		}
	case '"':
		s, n, err := d.parseString(in, pos)
		if err != nil {
			return token{}, err
		}
		d.pos += n
		return token{kind: tString, pos: pos, raw: in[:n], str: s}, nil
	}
	return token{}, d.syntaxErr(pos, "invalid value %s", errSnippet(in))
}

func errSnippet(in []byte) []byte {
	n := 0
	for n < len(in) && n < 32 && isNotDelim(in[n]) {
		n++
	}
	if n == 0 {
		_, n = utf8.DecodeRune(in)
	}
	return in[:n]
}

// scanNumber returns the length of the JSON number at the start of s,
// following protojson's grammar (including its delimiter check).
func scanNumber(s []byte) (int, bool) {
	n := 0
	if len(s) == 0 {
		return 0, false
	}
	if s[0] == '-' {
		n++
		if len(s) == n {
			return 0, false
		}
	}
	switch {
	case s[n] == '0':
		n++
	case '1' <= s[n] && s[n] <= '9':
		n++
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
	default:
		return 0, false
	}
	if len(s)-n >= 2 && s[n] == '.' && '0' <= s[n+1] && s[n+1] <= '9' {
		n += 2
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
	}
	if len(s)-n >= 2 && (s[n] == 'e' || s[n] == 'E') {
		n++
		if s[n] == '+' || s[n] == '-' {
			n++
			if len(s) == n {
				return 0, false
			}
		}
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
	}
	if n < len(s) && isNotDelim(s[n]) {
		return 0, false
	}
	return n, true
}

// parseString parses the JSON string at the start of in; it returns the
// unescaped contents (a subslice of in when there are no escapes, else
// d.strBuf) and the number of bytes consumed.
func (d *decoder) parseString(in []byte, pos int) ([]byte, int, error) {
	i := 1
	for i < len(in) {
		c := in[i]
		if c == '"' {
			return in[1:i], i + 1, nil
		}
		if c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	out := append(d.strBuf[:0], in[1:i]...)
	for i < len(in) {
		c := in[i]
		switch {
		case c == '"':
			d.strBuf = out
			return out, i + 1, nil
		case c < ' ':
			return nil, 0, d.syntaxErr(pos+i, "invalid character %q in string", rune(c))
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && n == 1 {
				return nil, 0, d.syntaxErr(pos+i, "invalid UTF-8 in string")
			}
			out = append(out, in[i:i+n]...)
			i += n
		case c == '\\':
			if len(in)-i < 2 {
				return nil, 0, errUnexpectedEOF
			}
			switch e := in[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
				i += 2
			case 'b':
				out = append(out, '\b')
				i += 2
			case 'f':
				out = append(out, '\f')
				i += 2
			case 'n':
				out = append(out, '\n')
				i += 2
			case 'r':
				out = append(out, '\r')
				i += 2
			case 't':
				out = append(out, '\t')
				i += 2
			case 'u':
				if len(in)-i < 6 {
					return nil, 0, errUnexpectedEOF
				}
				v, ok := hex4(in[i+2 : i+6])
				if !ok {
					return nil, 0, d.syntaxErr(pos+i, "invalid escape code %q in string", in[i:i+6])
				}
				i += 6
				r := rune(v)
				if utf16.IsSurrogate(r) {
					if len(in)-i < 6 {
						return nil, 0, errUnexpectedEOF
					}
					v2, ok := hex4(in[i+2 : i+6])
					r = utf16.DecodeRune(r, rune(v2))
					if in[i] != '\\' || in[i+1] != 'u' || r == unicode.ReplacementChar || !ok {
						return nil, 0, d.syntaxErr(pos+i, "invalid escape code %q in string", in[i:i+6])
					}
					i += 6
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, 0, d.syntaxErr(pos+i, "invalid escape code %q in string", in[i:i+2])
			}
		default:
			j := i + 1
			for j < len(in) && in[j] != '"' && in[j] != '\\' && in[j] >= ' ' && in[j] < utf8.RuneSelf {
				j++
			}
			out = append(out, in[i:j]...)
			i = j
		}
	}
	d.strBuf = out
	return nil, 0, errUnexpectedEOF
}

func hex4(b []byte) (uint16, bool) {
	var v uint16
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(c)
	}
	return v, true
}

// ---- number conversions (protojson's rules) ----

// intDigits returns the sign and the decimal digits of the integer value of
// a JSON number, or ok=false when it is not an integer (protojson's
// normalizeToIntString).
func intDigits(raw []byte, buf *[24]byte) (neg bool, digits []byte, ok bool) {
	s := raw
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	var intp, frac, exp []byte
	if s[0] == '0' {
		s = s[1:]
	} else {
		n := 1
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		intp, s = s[:n], s[n:]
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		n := 2
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		frac, s = s[1:n], s[n:]
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		exp = s[1:]
	}
	frac = bytes.TrimRight(frac, "0")
	if len(intp) == 0 && len(frac) == 0 {
		return false, append(buf[:0], '0'), true
	}
	e := 0
	if len(exp) > 0 {
		v, err := strconv.ParseInt(string(exp), 10, 32)
		if err != nil {
			return false, nil, false
		}
		e = int(v)
	}
	if e >= 0 {
		if len(frac) > e || len(intp)+e > 20 {
			return false, nil, false
		}
		d := append(buf[:0], intp...)
		d = append(d, frac...)
		for i := 0; i < e-len(frac); i++ {
			d = append(d, '0')
		}
		return neg, d, true
	}
	if len(frac) > 0 {
		return false, nil, false
	}
	idx := len(intp) + e
	if idx < 0 {
		return false, nil, false
	}
	for _, c := range intp[idx:] {
		if c != '0' {
			return false, nil, false
		}
	}
	return neg, intp[:idx], true
}

// parseUintDigits parses decimal digits with an upper bound.
func parseUintDigits(digits []byte, max uint64) (uint64, bool) {
	if len(digits) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range digits {
		if v > (max-uint64(c-'0'))/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

func numberToInt(raw []byte, bits int) (int64, bool) {
	var buf [24]byte
	neg, digits, ok := intDigits(raw, &buf)
	if !ok {
		return 0, false
	}
	lim := uint64(1) << (bits - 1)
	if !neg {
		lim--
	}
	v, ok := parseUintDigits(digits, lim)
	if !ok {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

func numberToUint(raw []byte, bits int) (uint64, bool) {
	var buf [24]byte
	neg, digits, ok := intDigits(raw, &buf)
	if !ok || neg {
		// "-0" normalizes to "0" (neg=false) in protojson too.
		return 0, false
	}
	lim := uint64(1)<<bits - 1
	if bits == 64 {
		lim = ^uint64(0)
	}
	return parseUintDigits(digits, lim)
}

// numberInString returns s when it is exactly one JSON number token.
func numberInString(s []byte) ([]byte, bool) {
	if len(s) == 0 {
		return nil, false
	}
	switch c := s[0]; {
	case c == '-' || ('0' <= c && c <= '9'):
	default:
		return nil, false
	}
	n, ok := scanNumber(s)
	if !ok || n != len(s) {
		return nil, false
	}
	return s, true
}
