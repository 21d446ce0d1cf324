package rawjson

import (
	"bytes"
	"math"
	"strings"
	"unicode/utf8"
)

// IsNull reports an absent (empty) or null value.
func IsNull(v []byte) bool { return len(v) == 0 || string(v) == "null" }

// IsObject, IsArray and IsNumber look at the first byte only: on a valid
// document that is the value's kind, on anything else the kind it would be.
func IsObject(v []byte) bool { return len(v) > 0 && v[0] == '{' }

// IsArray: see IsObject.
func IsArray(v []byte) bool { return len(v) > 0 && v[0] == '[' }

// IsNumber: see IsObject.
func IsNumber(v []byte) bool { return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') }

// IsString reports whether v is a whole string literal: it ends with a
// quote that no backslash escapes. (A string the walk hands out ends at
// its first unescaped quote, so that quote is the last byte only when the
// string is terminated; raw bytes are copied into output only then.)
func IsString(v []byte) bool {
	n := len(v)
	if n < 2 || v[0] != '"' || v[n-1] != '"' {
		return false
	}
	k := n - 2
	for k > 0 && v[k] == '\\' {
		k--
	}
	return (n-2-k)&1 == 0
}

// Inner returns what lies between a string literal's quotes, escapes not
// decoded; ok is false when v is not a string.
func Inner(v []byte) (s []byte, ok bool) {
	if !IsString(v) {
		return nil, false
	}
	return v[1 : len(v)-1], true
}

// Is reports whether v is a string literal whose text (as AppendUnquote
// decodes it) is s, valid UTF-8 without U+FFFD (which only a broken
// literal decodes to). An escape always makes a literal longer than its
// text, which keeps the usual cases to a length check or one comparison.
func Is(v []byte, s string) bool {
	n := len(v)
	if n == len(s)+2 && v[0] == '"' && v[n-1] == '"' && string(v[1:n-1]) == s {
		// Equal bytes, unless they hold escapes, which make the text shorter.
		return strings.IndexByte(s, '\\') < 0
	}
	// A longer literal can only match through escapes, which each decode
	// to at least a sixth of their length (\u0041).
	if n-2 <= len(s) || n-2 > 6*len(s) || !IsString(v) || bytes.IndexByte(v, '\\') < 0 {
		return false
	}
	return textIs(v[1:n-1], s)
}

// textIs compares the text of a string literal's inside with s, decoding
// it as it goes, so that a long string costs no buffer.
func textIs(in []byte, s string) bool {
	var buf [utf8.UTFMax]byte
	for len(in) > 0 {
		var text []byte
		n := 1
		switch c := in[0]; {
		case c == '\\':
			var r rune
			r, n = unescape(in)
			text = utf8.AppendRune(buf[:0], r)
		case c < utf8.RuneSelf:
			for n < len(in) && in[n] != '\\' && in[n] < utf8.RuneSelf {
				n++
			}
			text = in[:n]
		default:
			var r rune
			if r, n = utf8.DecodeRune(in); r == utf8.RuneError && n == 1 {
				text = utf8.AppendRune(buf[:0], r)
			} else {
				text = in[:n]
			}
		}
		if len(s) < len(text) || string(text) != s[:len(text)] {
			return false
		}
		s, in = s[len(text):], in[n:]
	}
	return len(s) == 0
}

// Int reads an integer literal: an optional minus and at most 18 digits
// (no count or limit comes near), without the allocation strconv makes.
// ok is false for anything else, fractions and exponents included.
func Int(v []byte) (n int64, ok bool) {
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// Count reads a token count. Anything that is not a number (null, a
// string, nothing) reads as 0, and so do negative numbers: a count below
// zero would only ever make usage and spend go backwards. Some upstreams
// write counts as floats, so fractions are truncated and exponents
// applied, saturating at MaxInt64.
func Count(v []byte) int64 {
	if len(v) <= 18 {
		// Plain integers, which nearly every count is, need no
		// parseCount.
		n, plain := int64(0), len(v) > 0
		for _, c := range v {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if plain {
			return n
		}
	}
	return parseCount(v)
}

// parseCount is Count for numbers with a fraction or an exponent, and for
// what is not a number at all.
func parseCount(v []byte) int64 {
	if len(v) == 0 || v[0] < '0' || v[0] > '9' {
		return 0
	}
	var (
		m      int64
		digits int // significant digits held in m
		scale  int // the value is m * 10^scale
	)
	add := func(d byte, frac bool) {
		switch {
		case digits < 18:
			m = m*10 + int64(d-'0')
			if m != 0 {
				digits++
			}
			if frac {
				scale--
			}
		case !frac:
			scale++
		}
	}
	i := 0
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		add(v[i], false)
	}
	if i < len(v) && v[i] == '.' {
		for i++; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
			add(v[i], true)
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		neg := false
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			neg = v[i] == '-'
			i++
		}
		exp := 0
		for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
			if exp < 1000 {
				exp = exp*10 + int(v[i]-'0')
			}
		}
		if neg {
			exp = -exp
		}
		scale += exp
	}
	for ; scale > 0 && m != 0; scale-- {
		if m > math.MaxInt64/10 {
			return math.MaxInt64
		}
		m *= 10
	}
	for ; scale < 0 && m != 0; scale++ {
		m /= 10
	}
	return m
}
