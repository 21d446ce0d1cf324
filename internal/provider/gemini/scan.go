package gemini

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// scanner walks one upstream JSON document in place. Gemini answers are
// read on the streaming hot path, once per event, so they are not decoded
// with encoding/json: the walker hands out raw slices of the input, and
// string bodies are copied to the client still escaped (a valid JSON string
// body stays valid inside another JSON string). For that to be safe the
// walker is strict: every value it passes over is checked against the JSON
// grammar, and the first fault marks the whole document bad.
type scanner struct {
	b     []byte
	i     int
	bad   bool
	depth int
}

// maxDepth bounds nesting, so a hostile document cannot exhaust the stack.
const maxDepth = 256

func (s *scanner) reset(b []byte) { *s = scanner{b: b} }

func (s *scanner) fail() {
	s.bad = true
	s.i = len(s.b)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		if c := s.b[s.i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return
		}
		s.i++
	}
}

// peek returns the next significant byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// enter consumes the opening bracket c ('{' or '[') of a container.
func (s *scanner) enter(c byte) bool {
	if s.peek() != c {
		s.fail()
		return false
	}
	s.i++
	s.depth++
	if s.depth > maxDepth {
		s.fail()
		return false
	}
	return true
}

// more steps to the next element of the container closed by end: it
// consumes the separating comma (n counts the elements seen so far) or the
// closing bracket, after which it reports false.
func (s *scanner) more(end byte, n *int) bool {
	if s.bad {
		return false
	}
	c := s.peek()
	if c == end {
		s.i++
		s.depth--
		return false
	}
	if *n > 0 {
		if c != ',' {
			s.fail()
			return false
		}
		s.i++
		s.ws()
	}
	*n++
	return true
}

// key reads a member name and its colon, returning the raw name.
func (s *scanner) key() []byte {
	k := s.str()
	if s.peek() != ':' {
		s.fail()
		return nil
	}
	s.i++
	return k
}

// str reads a string and returns its body, escapes kept.
func (s *scanner) str() []byte {
	if s.peek() != '"' {
		s.fail()
		return nil
	}
	start := s.i + 1
	i := start
	for {
		// Eight bytes at a time up to the next byte that needs a look.
		for i+8 <= len(s.b) {
			if m := special(binary.LittleEndian.Uint64(s.b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(s.b) {
			s.fail()
			return nil
		}
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return s.b[start:i]
		case c < 0x20:
			s.fail()
			return nil
		case c == '\\':
			if i+1 >= len(s.b) {
				s.fail()
				return nil
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(s.b) || !isHex(s.b[i+2]) || !isHex(s.b[i+3]) || !isHex(s.b[i+4]) || !isHex(s.b[i+5]) {
					s.fail()
					return nil
				}
				i += 6
			default:
				s.fail()
				return nil
			}
		default:
			i++
		}
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special flags, in the high bit of each byte, the bytes of x a string
// scan must stop at: '"', '\\' and control bytes. Only the lowest flag is
// exact (borrows may flag bytes above it), which is all str uses.
func special(x uint64) uint64 {
	q := x ^ (lsb * '"')
	b := x ^ (lsb * '\\')
	return (((q - lsb) &^ q) | ((b - lsb) &^ b) | ((x - lsb*0x20) &^ x)) & msb
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// num reads a number and returns its text.
func (s *scanner) num() []byte {
	s.ws()
	start, i := s.i, s.i
	if i < len(s.b) && s.b[i] == '-' {
		i++
	}
	switch {
	case i < len(s.b) && s.b[i] == '0':
		i++
	case i < len(s.b) && isDigit(s.b[i]):
		for i < len(s.b) && isDigit(s.b[i]) {
			i++
		}
	default:
		s.fail()
		return nil
	}
	if i < len(s.b) && s.b[i] == '.' {
		i++
		if i >= len(s.b) || !isDigit(s.b[i]) {
			s.fail()
			return nil
		}
		for i < len(s.b) && isDigit(s.b[i]) {
			i++
		}
	}
	if i < len(s.b) && (s.b[i] == 'e' || s.b[i] == 'E') {
		i++
		if i < len(s.b) && (s.b[i] == '+' || s.b[i] == '-') {
			i++
		}
		if i >= len(s.b) || !isDigit(s.b[i]) {
			s.fail()
			return nil
		}
		for i < len(s.b) && isDigit(s.b[i]) {
			i++
		}
	}
	s.i = i
	return s.b[start:i]
}

// int reads a token count. Counts are whole and non-negative; anything
// else (a fraction, a negative, a string) reads as 0 rather than failing
// the answer, since it only affects accounting.
func (s *scanner) int() int64 {
	if c := s.peek(); c != '-' && !isDigit(c) {
		s.skip()
		return 0
	}
	raw := s.num()
	var v int64
	for _, c := range raw {
		if !isDigit(c) {
			return 0
		}
		if v > (1<<62)/10 {
			return 1 << 62
		}
		v = v*10 + int64(c-'0')
	}
	return v
}

// boolean reads true or false; any other value reads as false.
func (s *scanner) boolean() bool {
	switch s.peek() {
	case 't':
		return s.literal("true")
	case 'f':
		s.literal("false")
		return false
	}
	s.skip()
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		s.fail()
		return false
	}
	s.i += len(lit)
	return true
}

// null consumes a null and reports whether there was one.
func (s *scanner) null() bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	return false
}

// skip passes over any value, checking it.
func (s *scanner) skip() {
	switch s.peek() {
	case '{':
		if !s.enter('{') {
			return
		}
		for n := 0; s.more('}', &n); {
			s.key()
			s.skip()
		}
	case '[':
		if !s.enter('[') {
			return
		}
		for n := 0; s.more(']', &n); {
			s.skip()
		}
	case '"':
		s.str()
	case 't':
		s.literal("true")
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	default:
		s.num()
	}
}

// raw passes over any value and returns its text.
func (s *scanner) raw() []byte {
	s.ws()
	start := s.i
	s.skip()
	if s.bad {
		return nil
	}
	return s.b[start:s.i]
}

// end checks that nothing but whitespace follows the document.
func (s *scanner) end() bool {
	s.ws()
	return !s.bad && s.i == len(s.b)
}

// isObject reports whether b is exactly one JSON object.
func isObject(b []byte) bool {
	var s scanner
	s.reset(b)
	if s.peek() != '{' {
		return false
	}
	s.skip()
	return s.end()
}

// appendUnescaped appends the text a JSON string body stands for. The
// body has been validated, so every escape is well-formed.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if i+4 >= len(raw) {
				return dst
			}
			r := rune(hexVal(raw[i+1 : i+5]))
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo := rune(hexVal(raw[i+3 : i+7])); lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[i])
		}
	}
	return dst
}

func hexVal(h []byte) int {
	v := 0
	for _, c := range h {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		case c >= 'a' && c <= 'f':
			v |= int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v |= int(c-'A') + 10
		}
	}
	return v
}
