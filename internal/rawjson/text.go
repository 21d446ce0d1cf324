package rawjson

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
	"unsafe"
)

// AppendUnquote appends the decoded text of the string literal v to dst,
// and nothing when v is not a string. Bad escapes, lone surrogates and
// invalid UTF-8 decode to U+FFFD, so what it appends is always valid UTF-8.
func AppendUnquote(dst, v []byte) []byte {
	if s, ok := Inner(v); ok {
		return AppendUnescape(dst, s)
	}
	return dst
}

// Unquote returns the decoded text of the string literal v (nil when v is
// not one), as AppendUnquote decodes it, without copying when it can: when
// v holds no escape and is valid UTF-8, text is the inside of v itself.
// Otherwise the text is appended to buf, and grown is buf after that.
func Unquote(v, buf []byte) (text, grown []byte) {
	s, ok := Inner(v)
	if !ok {
		return nil, buf
	}
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s, buf
	}
	n := len(buf)
	buf = AppendUnescape(buf, s)
	return buf[n:], buf
}

// AppendUnescape appends the decoded text of s, the inside of a string
// literal (see Inner), as AppendUnquote does.
func AppendUnescape(dst, s []byte) []byte {
	for {
		k := bytes.IndexByte(s, '\\')
		if k < 0 {
			return appendValidUTF8(dst, s)
		}
		dst = appendValidUTF8(dst, s[:k])
		r, n := unescape(s[k:])
		dst = utf8.AppendRune(dst, r)
		s = s[k+n:]
	}
}

// unescape decodes the escape sequence at e[0] == '\\' and returns its
// rune and length. A lone surrogate is U+FFFD; so is a malformed escape,
// taken as the backslash and one byte, so that what follows reads as text.
func unescape(e []byte) (r rune, n int) {
	if len(e) < 2 {
		return utf8.RuneError, len(e)
	}
	switch c := e[1]; c {
	case '"', '\\', '/':
		return rune(c), 2
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
		r, ok := Hex4(e, 2)
		switch {
		case !ok:
			return utf8.RuneError, 2
		case r >= 0xD800 && r <= 0xDBFF:
			if len(e) >= 12 && e[6] == '\\' && e[7] == 'u' {
				if r2, ok := Hex4(e, 8); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
					return 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00), 12
				}
			}
			return utf8.RuneError, 6
		case r >= 0xDC00 && r <= 0xDFFF:
			return utf8.RuneError, 6
		}
		return r, 6
	}
	return utf8.RuneError, 2
}

// Hex4 returns the value of the four hex digits at b[i:], the UTF-16 code
// unit of a \u escape; ok is false when there are not four hex digits.
// (The strict validator of client bodies shares it.)
func Hex4(b []byte, i int) (r rune, ok bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func appendValidUTF8(dst, b []byte) []byte {
	if utf8.Valid(b) {
		return append(dst, b...)
	}
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// AppendQuote appends s as a JSON string literal. Quotes, backslashes and
// control characters are escaped, and so are U+2028 and U+2029 (valid
// JSON, but line terminators to JavaScript, which would break a client
// that evaluates the text or splits lines on them). Invalid UTF-8 is
// written as U+FFFD, so the output is always valid JSON.
func AppendQuote(dst []byte, s string) []byte {
	// SkipPlain reads s through a byte view, and only during the call.
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, needing no escape
	for i := SkipPlain(b, 0); i < len(s); i = SkipPlain(b, i) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++ // a plain byte of the last few
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		// A run of non-ASCII text (CJK, say) is read here rather than 8
		// bytes at a time, which would stop at every rune.
		for i < len(s) && s[i] >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && n == 1:
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			default:
				i += n
				continue
			}
			i += n
			start = i
		}
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendQuoteBytes is AppendQuote for text held in a byte slice, without
// copying it into a string first.
func AppendQuoteBytes(dst, b []byte) []byte {
	// AppendQuote only reads s, and only during the call.
	return AppendQuote(dst, unsafe.String(unsafe.SliceData(b), len(b)))
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special reports, in the high bit of each byte, which of the 8 bytes of
// x need a closer look inside a JSON string: '"', '\\', control bytes and
// non-ASCII. Only the lowest flagged byte is exact (borrows can flag
// bytes above it), which is all SkipPlain uses.
func special(x uint64) uint64 {
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return (((q - lsb) &^ q) | ((s - lsb) &^ s) | ((x - lsb*0x20) &^ x) | x) & msb
}

// SkipPlain skips plain bytes of a JSON string, 8 at a time: it returns
// the index of the first byte at or after i that a string cannot hold as
// it is (a quote, a backslash, a control byte) or that needs a closer look
// (a byte of a multi-byte UTF-8 sequence), or, when fewer than 8 bytes are
// left before that, where those begin; the caller looks at the bytes from
// there one by one. Most text is plain, and writing strings and the strict
// validator of client bodies both spend their time here. Small enough to
// inline into their loops.
func SkipPlain(b []byte, i int) int {
	for i+8 <= len(b) {
		if m := special(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	return i
}

// AppendCompact appends the value v without the whitespace between its
// tokens: the form OpenAI gives tool call arguments in, and a client
// answer is one compact object whatever an upstream pretty-printed.
func AppendCompact(dst, v []byte) []byte {
	start := 0 // v[start:i] is pending
	for i := 0; i < len(v); {
		switch v[i] {
		case ' ', '\t', '\n', '\r':
			dst = append(dst, v[start:i]...)
			i = SkipSpace(v, i)
			start = i
		case '"':
			i, _ = skipString(v, i)
		default:
			i++
		}
	}
	return append(dst, v[start:]...)
}
