package messages

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// The converters read JSON by walking raw bytes (internal/rawjson) and
// write it with appends: encoding/json alone would spend the whole budget
// of a request, or many times that of a streamed event. They promise the
// bytes encoding/json wrote before (the golden files are those bytes), so
// what is copied from the input is first put in the form encoding/json
// gives a value it decoded and encoded again. Each fast path runs on a
// document that openai.Valid accepts, and hands anything it is not sure
// to write identically (an error to report, a member name encoding/json
// would match case-insensitively, a duplicate, a wrong type) to the
// encoding/json path, which stays the reference.

const hexDigits = "0123456789abcdef"

// appendText appends the string literal lit (a whole literal from a valid
// document, or nil for "") as encoding/json encodes the text it decodes
// to. html is json.Marshal's escaping of <, > and &, which content parts
// get (openai.Content marshals them with json.Marshal).
func appendText(dst, lit []byte, html bool) []byte {
	dst = append(dst, '"')
	if len(lit) >= 2 {
		dst = appendInner(dst, lit[1:len(lit)-1], html)
	}
	return append(dst, '"')
}

// appendInner is appendText for the inside of a literal, without quotes.
// Most text needs no change at all: the common escapes (\n, \", \\, \t)
// are already encoding/json's, and only \/, \u escapes, U+2028, U+2029
// and, for html, <, > and & are rewritten.
func appendInner(dst, s []byte, html bool) []byte {
	if html && hasHTML(s) {
		return appendInnerHTML(dst, s)
	}
	start := 0 // s[start:i] is pending, unchanged
	for i := rawjson.SkipPlain(s, 0); i < len(s); i = rawjson.SkipPlain(s, i) {
		switch c := s[i]; {
		case c == '\\':
			switch s[i+1] {
			case '/', 'u':
				dst = append(dst, s[start:i]...)
				r, n := decodeEscape(s[i:])
				dst = appendRune(dst, r, html)
				i += n
				start = i
			default:
				i += 2
			}
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xA8:
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[s[i+2]&0xF])
			i += 3
			start = i
		default:
			i++
		}
	}
	return append(dst, s[start:]...)
}

func hasHTML(s []byte) bool {
	return bytes.IndexByte(s, '<') >= 0 || bytes.IndexByte(s, '>') >= 0 || bytes.IndexByte(s, '&') >= 0
}

// appendInnerHTML decodes and encodes every character: text with <, > or
// & in a content part, which is rare.
func appendInnerHTML(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			r, n := decodeEscape(s[i:])
			dst = appendRune(dst, r, true)
			i += n
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			i++
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xA8:
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[s[i+2]&0xF])
			i += 3
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// decodeEscape decodes the escape at e[0] == '\\' of a valid literal
// (openai.Valid refuses lone surrogates).
func decodeEscape(e []byte) (r rune, n int) {
	switch c := e[1]; c {
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r, _ = rawjson.Hex4(e, 2)
		if utf16.IsSurrogate(r) && len(e) >= 12 {
			r2, _ := rawjson.Hex4(e, 8)
			return utf16.DecodeRune(r, r2), 12
		}
		return r, 6
	default: // '"', '\\', '/'
		return rune(c), 2
	}
}

// appendRune appends r inside a literal as encoding/json writes it.
func appendRune(dst []byte, r rune, html bool) []byte {
	switch {
	case r == '"' || r == '\\':
		return append(dst, '\\', byte(r))
	case r < 0x20:
		switch r {
		case '\b':
			return append(dst, '\\', 'b')
		case '\f':
			return append(dst, '\\', 'f')
		case '\n':
			return append(dst, '\\', 'n')
		case '\r':
			return append(dst, '\\', 'r')
		case '\t':
			return append(dst, '\\', 't')
		}
		return append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF])
	case html && (r == '<' || r == '>' || r == '&'):
		return append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF])
	case r == '\u2028' || r == '\u2029':
		return append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
	}
	return utf8.AppendRune(dst, r)
}

// textLen is the length in bytes of the text the literal lit decodes to.
func textLen(lit []byte) int {
	if len(lit) < 2 {
		return 0
	}
	s := lit[1 : len(lit)-1]
	n := 0
	for {
		k := bytes.IndexByte(s, '\\')
		if k < 0 {
			return n + len(s)
		}
		r, m := decodeEscape(s[k:])
		n += k + utf8.RuneLen(r)
		s = s[k+m:]
	}
}

// appendCompactHTML is json.Marshal's compaction of a json.RawMessage:
// whitespace out, and <, >, &, U+2028 and U+2029 escaped.
func appendCompactHTML(dst, v []byte) []byte {
	start := 0
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			dst = append(dst, v[start:i]...)
			i = rawjson.SkipSpace(v, i)
			start = i
		case c == '"':
			// Inside a string: only the escapes matter.
			for i++; i < len(v) && v[i] != '"'; {
				switch c := v[i]; {
				case c == '\\':
					i += 2
				case c == '<' || c == '>' || c == '&':
					dst = append(dst, v[start:i]...)
					dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
					i++
					start = i
				case c == 0xE2 && i+2 < len(v) && v[i+1] == 0x80 && v[i+2]&^1 == 0xA8:
					dst = append(dst, v[start:i]...)
					dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[v[i+2]&0xF])
					i += 3
					start = i
				default:
					i++
				}
			}
			i++
		default:
			i++
		}
	}
	return append(dst, v[start:]...)
}

// appendCompact is appendCompactHTML without the escaping: what the
// gateway's own encoder (SetEscapeHTML(false)) and json.Compact do.
func appendCompactTo(dst, v []byte, html bool) []byte {
	if html {
		return appendCompactHTML(dst, v)
	}
	return rawjson.AppendCompact(dst, v)
}

// appendQuotedCompact appends the valid JSON value v, compacted, as a JSON
// string: a tool call's arguments.
func appendQuotedCompact(dst, v []byte) []byte {
	dst = append(dst, '"')
	start := 0
	inString := false
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '"':
			dst = append(dst, v[start:i]...)
			dst = append(dst, '\\', '"')
			inString = !inString
			i++
			start = i
		case c == '\\':
			dst = append(dst, v[start:i]...)
			dst = append(dst, '\\', '\\')
			switch v[i+1] {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			default:
				dst = append(dst, v[i+1])
			}
			i += 2
			start = i
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			dst = append(dst, v[start:i]...)
			i = rawjson.SkipSpace(v, i)
			start = i
		case c == 0xE2 && i+2 < len(v) && v[i+1] == 0x80 && v[i+2]&^1 == 0xA8:
			dst = append(dst, v[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[v[i+2]&0xF])
			i += 3
			start = i
		default:
			i++
		}
	}
	dst = append(dst, v[start:]...)
	return append(dst, '"')
}

// appendFloat writes the number literal v as encoding/json writes the
// float64 it decodes to; ok is false when it does not decode (out of
// range).
func appendFloat(dst, v []byte) ([]byte, bool) {
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(v), len(v)), 64)
	if err != nil {
		return dst, false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

// isStr, isNull and the like classify a raw value by its first byte, on a
// valid document.
func isStr(v []byte) bool  { return len(v) > 0 && v[0] == '"' }
func isNull(v []byte) bool { return len(v) > 0 && v[0] == 'n' }

// strField reads a member decoded into a Go string: a literal, or null
// (nil, as absent); ok is false for any other type.
func strField(v []byte) (lit []byte, ok bool) {
	switch {
	case isStr(v):
		return v, true
	case isNull(v):
		return nil, true
	}
	return nil, false
}

// boolField reads a member decoded into a bool (null is false).
func boolField(v []byte) (b, ok bool) {
	switch {
	case len(v) > 0 && v[0] == 't':
		return true, true
	case len(v) > 0 && (v[0] == 'f' || v[0] == 'n'):
		return false, true
	}
	return false, false
}

// is reports whether the literal lit (nil: "") decodes to s.
func is(lit []byte, s string) bool {
	if lit == nil {
		return s == ""
	}
	return rawjson.Is(lit, s)
}

// empty reports a literal (nil: "") that decodes to "".
func empty(lit []byte) bool { return len(lit) <= 2 }

// strictName reports whether a member name that is none of the names
// known is also not one encoding/json would match to one of them (it
// folds case, and decodes escapes): such a name is ignored by both.
func strictName(name []byte, known ...string) bool {
	for _, c := range name {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	for _, k := range known {
		if asciiEqualFold(name, k) {
			return false
		}
	}
	return true
}

func asciiEqualFold(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
