package openai

import (
	"strconv"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// MaxDepth is the deepest nesting of objects and arrays a request body may
// have; the top-level object counts as one level. encoding/json allows
// 10000, which lets a small body cost a lot of stack and time; no real
// request comes close to 64.
const MaxDepth = 64

// The validator keeps one bit per open container in a uint64; this fails
// to compile if MaxDepth is raised beyond what that can hold.
const _ = uint(64 - MaxDepth)

// RequestError is a client error found in a request body: invalid JSON, a
// body that is not UTF-8, or a wrong type for a parameter the gateway
// reads. Message is meant for the client as is; Param names the parameter
// when one is at fault; Offset is the 0-based byte index in the body where
// the problem was found.
type RequestError struct {
	Message string
	Param   string
	Offset  int
}

func (e *RequestError) Error() string { return e.Message }

func syntaxError(i int, what string) *RequestError {
	return &RequestError{Message: "invalid JSON at byte " + strconv.Itoa(i) + ": " + what, Offset: i}
}

// unexpected describes the byte at b[i] (or the end of input) for a
// syntax error; a byte that is not valid UTF-8 gets the more useful
// encoding error instead.
func unexpected(b []byte, i int) *RequestError {
	if i >= len(b) {
		return syntaxError(i, "unexpected end of input")
	}
	c := b[i]
	if c >= utf8.RuneSelf {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return utf8Error(i)
		}
		return syntaxError(i, "unexpected "+strconv.QuoteRune(r))
	}
	return syntaxError(i, "unexpected "+strconv.QuoteRune(rune(c)))
}

func utf8Error(i int) *RequestError {
	return &RequestError{Message: "request body is not valid UTF-8 at byte " + strconv.Itoa(i), Offset: i}
}

func depthError(i int) *RequestError {
	return &RequestError{Message: "JSON nested deeper than " + strconv.Itoa(MaxDepth) + " levels", Offset: i}
}

// scanString validates the string whose opening quote is at b[i] and
// returns the index just past its closing quote and whether it contains
// escapes (callers that need its value must then unescape it).
func scanString(b []byte, i int) (end int, esc bool, err *RequestError) {
	start := i
	i++
	for {
		if i = rawjson.SkipPlain(b, i); i >= len(b) {
			return i, esc, syntaxError(start, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			if i, err = scanEscape(b, i); err != nil {
				return i, esc, err
			}
		case c < 0x20:
			return i, esc, syntaxError(i, "control character "+strconv.QuoteRune(rune(c))+" in string (escape it)")
		case c < utf8.RuneSelf:
			i++ // a plain byte of the last few, which SkipPlain leaves
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return i, esc, utf8Error(i)
			}
			i += n
		}
	}
}

// scanEscape validates the escape sequence at b[i] == '\\' and returns
// the index after it. A \u escape must encode a Unicode scalar value: a
// high surrogate must be followed by a low one, and a lone low surrogate
// is refused, so that every accepted string decodes to valid UTF-8 (the
// same rule as for raw bytes, instead of encoding/json's silent U+FFFD).
func scanEscape(b []byte, i int) (int, *RequestError) {
	if i+1 >= len(b) {
		return i, syntaxError(i, "unterminated string")
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, nil
	case 'u':
		r, ok := rawjson.Hex4(b, i+2)
		if !ok {
			return i, syntaxError(i, `invalid \u escape`)
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return i, syntaxError(i, `\u escape is a lone low surrogate`)
		case r >= 0xD800 && r <= 0xDBFF:
			if i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if r2, ok := rawjson.Hex4(b, i+8); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
					return i + 12, nil
				}
			}
			return i, syntaxError(i, `\u escape is a high surrogate not followed by a low surrogate`)
		}
		return i + 6, nil
	}
	c := b[i+1]
	if c >= utf8.RuneSelf {
		return i, syntaxError(i, "invalid escape")
	}
	return i, syntaxError(i, "invalid escape "+strconv.Quote(`\`+string(rune(c))))
}

// scanNumber validates the number starting at b[i] (RFC 8259 grammar).
func scanNumber(b []byte, i int) (int, *RequestError) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, unexpected(b, i)
	case b[i] == '0':
		i++
		if i < len(b) && isDigit(b[i]) {
			return i, syntaxError(i-1, "numbers must not have leading zeros")
		}
	case isDigit(b[i]):
		i = skipDigits(b, i+1)
	default:
		return i, unexpected(b, i)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, unexpected(b, i)
		}
		i = skipDigits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, unexpected(b, i)
		}
		i = skipDigits(b, i+1)
	}
	return i, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// scanLiteral checks that b[i:] starts with lit (true, false or null).
func scanLiteral(b []byte, i int, lit string) (int, *RequestError) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return i + k, unexpected(b, i+k)
		}
	}
	return i + len(lit), nil
}

// scanKey expects a member name at b[i] (after whitespace), then the
// colon, and returns the index after the colon.
func scanKey(b []byte, i int) (int, *RequestError) {
	i = rawjson.SkipSpace(b, i)
	if i >= len(b) || b[i] != '"' {
		return i, unexpected(b, i)
	}
	i, _, err := scanString(b, i)
	if err != nil {
		return i, err
	}
	i = rawjson.SkipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, unexpected(b, i)
	}
	return i + 1, nil
}

// Valid reports whether b is one JSON value by the rules the envelope
// parser holds client bodies to (RFC 8259, UTF-8 throughout, at most
// MaxDepth levels deep). It is several times faster than encoding/json's
// Valid, for translators that read an upstream answer with internal/rawjson
// and must not take a truncated or garbled one for a complete answer.
func Valid(b []byte) bool {
	i, err := skipValue(b, 0, 0)
	return err == nil && rawjson.SkipSpace(b, i) == len(b)
}

// skipValue validates the value at b[i] (after whitespace) and returns
// the index after it. depth is the number of containers already open
// around the value. It is iterative, so hostile nesting costs no stack.
func skipValue(b []byte, i, depth int) (int, *RequestError) {
	var (
		objs uint64 // bit k set: the k-th container opened here is an object
		n    int    // containers opened here and still open
		err  *RequestError
	)
	for {
		// A value is expected at i.
		i = rawjson.SkipSpace(b, i)
		if i >= len(b) {
			return i, unexpected(b, i)
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth+n+1 > MaxDepth {
				return i, depthError(i)
			}
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			i = rawjson.SkipSpace(b, i+1)
			if i < len(b) && b[i] == closer {
				i++
				break
			}
			if c == '{' {
				objs |= 1 << n
				if i, err = scanKey(b, i); err != nil {
					return i, err
				}
			} else {
				objs &^= 1 << n
			}
			n++
			continue
		case '"':
			if i, _, err = scanString(b, i); err != nil {
				return i, err
			}
		case 't':
			if i, err = scanLiteral(b, i, "true"); err != nil {
				return i, err
			}
		case 'f':
			if i, err = scanLiteral(b, i, "false"); err != nil {
				return i, err
			}
		case 'n':
			if i, err = scanLiteral(b, i, "null"); err != nil {
				return i, err
			}
		default:
			if c != '-' && !isDigit(c) {
				return i, unexpected(b, i)
			}
			if i, err = scanNumber(b, i); err != nil {
				return i, err
			}
		}
		// A value ended at i: close containers until a comma asks for
		// another value.
		for {
			if n == 0 {
				return i, nil
			}
			i = rawjson.SkipSpace(b, i)
			if i >= len(b) {
				return i, unexpected(b, i)
			}
			inObj := objs&(1<<(n-1)) != 0
			if b[i] == ',' {
				i++
				if inObj {
					if i, err = scanKey(b, i); err != nil {
						return i, err
					}
				}
				break
			}
			if inObj && b[i] != '}' || !inObj && b[i] != ']' {
				return i, unexpected(b, i)
			}
			i++
			n--
		}
	}
}
