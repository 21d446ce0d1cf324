package ollama

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// A small strict JSON reader for Ollama's answers. Every streamed line goes
// through it, so it walks the bytes in place instead of decoding with
// encoding/json: members are visited in order, values are validated while
// they are skipped, and only the strings the translation needs are
// unescaped, into buffers the caller reuses.

var errSyntax = errors.New("malformed JSON")

// maxDepth bounds nesting so a hostile upstream cannot exhaust the stack.
const maxDepth = 64

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// members iterates over the members of one JSON object.
type members struct {
	b     []byte
	i     int
	first bool
	done  bool
	// inner: the object is a value inside b, so what follows its closing
	// brace is the enclosing iterator's business.
	inner bool
	err   error
}

// openObject starts iterating the object that is the whole of b.
func openObject(b []byte) members {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return members{b: b, err: errSyntax}
	}
	return members{b: b, i: i + 1, first: true}
}

// next returns the next member: its raw key (between the quotes, escapes
// kept) and its raw value. ok is false at the end of the object or at an
// error, which err then holds.
func (m *members) next() (key, val []byte, ok bool) {
	if key, ok = m.key(); !ok {
		return nil, nil, false
	}
	val, ok = m.value()
	return key, val, ok
}

// key returns the next member's raw key and leaves m at its value, which
// the caller then reads with value or enter.
func (m *members) key() ([]byte, bool) {
	if m.err != nil || m.done {
		return nil, false
	}
	b := m.b
	i := skipWS(b, m.i)
	if i >= len(b) {
		m.err = errSyntax
		return nil, false
	}
	if b[i] == '}' {
		m.done = true
		// A whole line (or a value cut out of one) may only be followed
		// by space.
		if m.i = i + 1; !m.inner && skipWS(b, m.i) != len(b) {
			m.err = errSyntax
		}
		return nil, false
	}
	if !m.first {
		if b[i] != ',' {
			m.err = errSyntax
			return nil, false
		}
		i = skipWS(b, i+1)
	}
	m.first = false
	if i >= len(b) || b[i] != '"' {
		m.err = errSyntax
		return nil, false
	}
	kEnd, err := skipString(b, i)
	if err != nil {
		m.err = err
		return nil, false
	}
	key := b[i+1 : kEnd-1]
	i = skipWS(b, kEnd)
	if i >= len(b) || b[i] != ':' {
		m.err = errSyntax
		return nil, false
	}
	m.i = skipWS(b, i+1)
	return key, true
}

// value skips the value key left m at, checking it, and returns it raw.
func (m *members) value() ([]byte, bool) {
	end, err := skipValue(m.b, m.i, 1)
	if err != nil {
		m.err = err
		return nil, false
	}
	v := m.b[m.i:end]
	m.i = end
	return v, true
}

// isObject reports whether the value key left m at is an object.
func (m *members) isObject() bool { return m.i < len(m.b) && m.b[m.i] == '{' }

// enter iterates over the object value key left m at, in place: the
// caller reads it to its end and hands it back with leave, so a nested
// object is read once instead of being checked first and read after.
func (m *members) enter() members {
	return members{b: m.b, i: m.i + 1, first: true, inner: true}
}

// leave resumes m after the nested object sub, read to its end.
func (m *members) leave(sub *members) {
	if sub.err != nil || !sub.done {
		m.err = errSyntax
		return
	}
	m.i = sub.i
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, errSyntax
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{':
		return skipContainer(b, i, depth, '}')
	case c == '[':
		return skipContainer(b, i, depth, ']')
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(b, i)
	}
	return i, errSyntax
}

func skipContainer(b []byte, i, depth int, closer byte) (int, error) {
	if depth > maxDepth {
		return i, errSyntax
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, nil
	}
	for {
		var err error
		if closer == '}' {
			if i >= len(b) || b[i] != '"' {
				return i, errSyntax
			}
			if i, err = skipString(b, i); err != nil {
				return i, err
			}
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return i, errSyntax
			}
			i = skipWS(b, i+1)
		}
		if i, err = skipValue(b, i, depth+1); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, errSyntax
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case closer:
			return i + 1, nil
		default:
			return i, errSyntax
		}
	}
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, errSyntax
	}
	return i + len(lit), nil
}

func skipNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return i, errSyntax
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return i, errSyntax
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return i, errSyntax
		}
		i = j
	}
	return i, nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i],
// checking its escapes and that it holds no raw control character.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		// Eight bytes at a time while none of them needs a look.
		for j+8 <= len(b) && special(binary.LittleEndian.Uint64(b[j:])) == 0 {
			j += 8
		}
		if j >= len(b) {
			break
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, nil
		case c == '\\':
			if j+1 >= len(b) {
				return j, errSyntax
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if _, ok := hex4(b, j+2); !ok {
					return j, errSyntax
				}
				j += 5
			default:
				return j, errSyntax
			}
		case c < 0x20:
			return j, errSyntax
		}
	}
	return len(b), errSyntax
}

// special has the high bit set in each byte of x that is '"', '\\' or a
// control character (below 0x20), and in no other (the classic SWAR
// has-zero-byte tests, made exact by masking out bytes >= 0x80 first).
func special(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	ascii := ^x & highs // bytes below 0x80
	lt20 := (x - ones*0x20)
	quote := x ^ (ones * '"')
	bslash := x ^ (ones * '\\')
	hasQuote := (quote - ones) & ^quote
	hasBslash := (bslash - ones) & ^bslash
	return (lt20 | hasQuote | hasBslash) & ascii
}

func hex4(b []byte, i int) (rune, bool) {
	if len(b)-i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendUnquoted appends the text of the validated JSON string raw (quotes
// included). Lone surrogates become U+FFFD, as encoding/json does.
func appendUnquoted(dst, raw []byte) []byte {
	raw = raw[1 : len(raw)-1]
	for len(raw) > 0 {
		k := 0
		for k < len(raw) && raw[k] != '\\' {
			k++
		}
		dst = append(dst, raw[:k]...)
		if k == len(raw) {
			break
		}
		raw = raw[k:]
		c := raw[1]
		switch c {
		case 'u':
			r, _ := hex4(raw, 2)
			raw = raw[6:]
			if r >= 0xD800 && r <= 0xDBFF {
				if len(raw) >= 6 && raw[0] == '\\' && raw[1] == 'u' {
					if r2, ok := hex4(raw, 2); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
						r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
						raw = raw[6:]
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			} else if r >= 0xDC00 && r <= 0xDFFF {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		}
		dst = append(dst, c)
		raw = raw[2:]
	}
	return dst
}

// isString reports whether the raw value v is a JSON string.
func isString(v []byte) bool { return len(v) > 0 && v[0] == '"' }

// isNull reports whether the raw value v is null.
func isNull(v []byte) bool { return string(v) == "null" }

// parseCount reads a token count: a non-negative whole JSON number. Other
// values read as 0, since a count below zero could only make spend go
// backwards; ok is false for anything that is not a number.
func parseCount(v []byte) (n int64, ok bool) {
	if len(v) == 0 || v[0] < '0' || v[0] > '9' {
		return 0, len(v) > 0 && v[0] == '-'
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return n, true // a fraction or exponent: keep the whole part
		}
		if n > (1<<62)/10 {
			return 1 << 62, true
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// elements iterates over the values of one JSON array.
type elements struct {
	b     []byte
	i     int
	first bool
	done  bool
	err   error
}

// openArray starts iterating the array that is the whole of b.
func openArray(b []byte) elements {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return elements{b: b, err: errSyntax}
	}
	return elements{b: b, i: i + 1, first: true}
}

// next returns the next raw value; ok is false at the end or at an error.
func (e *elements) next() (val []byte, ok bool) {
	if e.err != nil || e.done {
		return nil, false
	}
	b := e.b
	i := skipWS(b, e.i)
	if i >= len(b) {
		e.err = errSyntax
		return nil, false
	}
	if b[i] == ']' {
		e.done = true
		if e.i = i + 1; skipWS(b, e.i) != len(b) {
			e.err = errSyntax
		}
		return nil, false
	}
	if !e.first {
		if b[i] != ',' {
			e.err = errSyntax
			return nil, false
		}
		i = skipWS(b, i+1)
	}
	e.first = false
	end, err := skipValue(b, i, 1)
	if err != nil {
		e.err = err
		return nil, false
	}
	e.i = end
	return b[i:end], true
}

// validObject reports whether b is one JSON object and nothing else.
func validObject(b []byte) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	end, err := skipValue(b, i, 0)
	return err == nil && skipWS(b, end) == len(b)
}
