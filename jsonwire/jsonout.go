package jsonwire

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

var errInvalidUTF8 = errors.New("invalid UTF-8")

const hexDigits = "0123456789abcdef"

// needEscape[c] is set for ASCII bytes that must be escaped, and for every
// byte >= 0x80 (which needs UTF-8 validation).
var needEscape = func() (t [256]bool) {
	for i := 0; i < 256; i++ {
		t[i] = i < ' ' || i == '"' || i == '\\' || i >= utf8.RuneSelf
	}
	return t
}()

// appendJSONString appends s as a JSON string exactly as protojson does
// (only control characters, '"' and '\\' are escaped); invalid UTF-8 is an
// error.
func appendJSONString(out []byte, s []byte) ([]byte, error) {
	out = append(out, '"')
	i := 0
	for i < len(s) {
		// Fast run of bytes that need nothing.
		j := i
		for j < len(s) && !needEscape[s[j]] {
			j++
		}
		out = append(out, s[i:j]...)
		i = j
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				return out, errInvalidUTF8
			}
			out = append(out, s[i:i+n]...)
			i += n
			continue
		}
		out = append(out, '\\')
		switch c {
		case '"', '\\':
			out = append(out, c)
		case '\b':
			out = append(out, 'b')
		case '\f':
			out = append(out, 'f')
		case '\n':
			out = append(out, 'n')
		case '\r':
			out = append(out, 'r')
		case '\t':
			out = append(out, 't')
		default:
			out = append(out, 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
	}
	return append(out, '"'), nil
}

// appendFloat formats a float exactly as protojson does.
func appendFloat(out []byte, n float64, bitSize int) []byte {
	switch {
	case math.IsNaN(n):
		return append(out, `"NaN"`...)
	case math.IsInf(n, +1):
		return append(out, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(out, `"-Infinity"`...)
	}
	f := byte('f')
	if abs := math.Abs(n); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			f = 'e'
		}
	}
	out = strconv.AppendFloat(out, n, f, -1, bitSize)
	if f == 'e' {
		// Clean up e-09 to e-9.
		k := len(out)
		if k >= 4 && out[k-4] == 'e' && out[k-3] == '-' && out[k-2] == '0' {
			out[k-2] = out[k-1]
			out = out[:k-1]
		}
	}
	return out
}
