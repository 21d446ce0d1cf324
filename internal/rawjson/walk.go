// Package rawjson walks and copies raw JSON without decoding it.
//
// Translating a request or an answer member by member over its bytes costs
// a fraction of what decoding it into structs does, and lets values be
// copied into the other side's JSON as they are. Everything here is lax:
// it never allocates while walking, never fails and never panics, whatever
// the input. Malformed input reads as if it ended where it stopped making
// sense, so a value looked for there is simply absent. Where raw values
// are copied into output that must be valid JSON, callers validate the
// document first (the envelope parser has checked every client body).
//
// Values handed out by the walk are sub-slices of the input, without the
// whitespace around them. The functions that take a "value" expect one
// such; the ones that take a document (Members, Elements, Member, Path,
// Len) also skip leading whitespace.
package rawjson

import "bytes"

// Iter walks the members of an object or the elements of an array:
//
//	for it := rawjson.Members(obj); it.Next(); {
//		switch string(it.Name()) {
//		case "usage":
//			readUsage(it.Value())
//		}
//	}
//
// A value's end is found only when something needs it: Value, or the next
// call to Next. A walk into the current value (it.Members, it.Elements)
// that ran to its closing bracket can hand that end back with Resume, so
// that a single pass reads nested objects without scanning them twice.
type Iter struct {
	b []byte
	// The current member's name is b[name:nameEnd]; name is 0 while
	// walking an array. Indexes rather than slices: Next then stores
	// nothing through its receiver that escape analysis would follow.
	name, nameEnd int
	start         int  // the current value's first byte
	end           int  // just past the current value; -1 until needed
	close         byte // '}' or ']'; 0 once the walk is over
	origin        int  // where the walked value starts (its bracket)
	closed        int  // just past the closing bracket, once reached
}

// Members walks the members of the object doc; anything else has none.
func Members(doc []byte) *Iter { return new(Iter).open(doc, SkipSpace(doc, 0), '{') }

// Elements walks the elements of the array doc; anything else has none.
func Elements(doc []byte) *Iter { return new(Iter).open(doc, SkipSpace(doc, 0), '[') }

// open starts a walk of the value at b[i], which must begin with opener.
// Walks are handed out as pointers: a loop variable whose address is taken
// is copied on every iteration, and a pointer is cheap to copy.
func (it *Iter) open(b []byte, i int, opener byte) *Iter {
	*it = Iter{}
	if i < len(b) && b[i] == opener {
		*it = Iter{b: b, start: i, end: i + 1, close: opener + 2, origin: i} // '}' and ']' follow '{' and '[' by 2
	}
	return it
}

// Next moves to the next member or element and reports whether there is
// one. It stops at the closing bracket and at anything it cannot read as
// the next member or element.
func (it *Iter) Next() bool {
	if it.close == 0 {
		return false
	}
	b := it.b
	if it.end < 0 {
		it.end = skip(b, it.start)
	}
	i := SkipSpace(b, it.end)
	if i < len(b) && b[i] == ',' {
		i = SkipSpace(b, i+1)
	}
	if i < len(b) && b[i] == it.close {
		it.stop()
		it.closed = i + 1
		return false
	}
	if it.close == '}' {
		if i >= len(b) || b[i] != '"' {
			return it.stop()
		}
		end, closed := skipString(b, i)
		if !closed {
			return it.stop()
		}
		it.name, it.nameEnd = i+1, end-1
		i = SkipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return it.stop()
		}
		i = SkipSpace(b, i+1)
	}
	if i >= len(b) {
		return it.stop()
	}
	switch b[i] {
	case ',', ':', '}', ']':
		return it.stop()
	}
	it.start, it.end = i, -1
	return true
}

func (it *Iter) stop() bool {
	it.close, it.name, it.nameEnd = 0, 0, 0
	return false
}

// Name returns the current member's name as written: without its quotes,
// escapes not decoded. It is nil while walking an array.
func (it *Iter) Name() []byte {
	if it.name == 0 {
		return nil
	}
	return it.b[it.name:it.nameEnd]
}

// NameIs reports whether the current member's name, escapes decoded, is s
// (see Is): for the few names that must not be missed however a client
// spelled them.
func (it *Iter) NameIs(s string) bool {
	return it.name != 0 && Is(it.b[it.name-1:it.nameEnd+1], s)
}

// Value returns the current member's or element's raw value.
func (it *Iter) Value() []byte {
	if it.end < 0 {
		it.end = skip(it.b, it.start)
	}
	return it.b[it.start:it.end]
}

// Kind returns the first byte of the current value, which tells its kind
// ('{', '[', '"', 't', 'f', 'n', '-' or a digit) without finding its end.
func (it *Iter) Kind() byte {
	if it.close == 0 {
		return 0
	}
	return it.b[it.start]
}

// Members walks the members of the current value (none if it is not an
// object); see Resume.
func (it *Iter) Members() *Iter { return new(Iter).open(it.b, it.at(), '{') }

// Elements walks the elements of the current value (none if it is not an
// array); see Resume.
func (it *Iter) Elements() *Iter { return new(Iter).open(it.b, it.at(), '[') }

// at is where the current value starts, or len(b) once the walk is over.
func (it *Iter) at() int {
	if it.close == 0 {
		return len(it.b)
	}
	return it.start
}

// Resume takes the end of the current value from sub, a walk of it made
// by it.Members or it.Elements: when sub reached its closing bracket, the
// next call to Next goes on from there instead of skipping the value
// again. Otherwise (sub stopped early, or walks something else) it does
// nothing, and Next skips the value as usual.
func (it *Iter) Resume(sub *Iter) {
	if it.close != 0 && it.end < 0 && sub.closed > 0 && sub.origin == it.start && &sub.b[0] == &it.b[0] {
		it.end = sub.closed
	}
}

// find moves to the member called name (compared as written).
func (it *Iter) find(name string) bool {
	for it.Next() {
		if string(it.Name()) == name {
			return true
		}
	}
	return false
}

// Member returns the raw value of the first member of obj called name, or
// nil. Names are compared as written: a name spelled with escapes is not
// found under its decoded spelling.
func Member(obj []byte, name string) []byte {
	it := Members(obj)
	if it.find(name) {
		return it.Value()
	}
	return nil
}

// Path follows nested members: Path(b, "delta", "message") is the value of
// b.delta.message, or nil. Only the last value's end is looked for: the
// objects on the way are read up to the member wanted and no further.
func Path(doc []byte, names ...string) []byte {
	it := Members(doc)
	for k, name := range names {
		if !it.find(name) {
			return nil
		}
		if k == len(names)-1 {
			return it.Value()
		}
		it.open(it.b, it.start, '{')
	}
	return doc
}

// Len returns the number of elements of the array doc, 0 for anything else.
func Len(doc []byte) int {
	n := 0
	for it := Elements(doc); it.Next(); {
		n++
	}
	return n
}

// SkipSpace returns the index of the first byte at or after i that is not
// JSON whitespace, or len(b).
func SkipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// TrimSpace returns b without the JSON whitespace around it.
func TrimSpace(b []byte) []byte {
	b = b[SkipSpace(b, 0):]
	j := len(b)
	for j > 0 && (b[j-1] == ' ' || b[j-1] == '\t' || b[j-1] == '\n' || b[j-1] == '\r') {
		j--
	}
	return b[:j]
}

// skip returns the index just after the value that starts at b[i], which
// is more than i whenever i < len(b), so that every walk makes progress.
// Brackets are counted, not matched, and an unterminated string or
// container runs to the end of b.
func skip(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		end, _ := skipString(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// skipString returns the index after the string whose opening quote is
// at b[i]. A quote is escaped when an odd run of backslashes precedes it.
// An unterminated string runs to the end of b, with closed false.
func skipString(b []byte, i int) (end int, closed bool) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b), false
		}
		j += k
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n&1 == 0 {
			return j + 1, true
		}
		j++
	}
}
