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
// A walk that reads nested values as it goes, in a single pass, threads an
// index through NextMember, NextElement and Skip instead.
type Iter struct {
	b []byte
	// The current member's name is b[name:nameEnd] (name is 0 in an
	// array) and its value b[value:end]. Indexes rather than slices: Next
	// then stores no pointer through its receiver, which would make
	// escape analysis move every document walked to the heap.
	name, nameEnd, value, end int
	closer                    byte // '}' or ']'; 0 once the walk is over
}

// Members walks the members of the object doc; anything else has none.
func Members(doc []byte) *Iter { return open(doc, '{') }

// Elements walks the elements of the array doc; anything else has none.
func Elements(doc []byte) *Iter { return open(doc, '[') }

// open hands the walk out as a pointer: a loop variable whose address is
// taken (as Next's receiver) is copied on every iteration, and a pointer
// is cheap to copy. Inlined, the Iter itself stays on the caller's stack.
func open(doc []byte, opener byte) *Iter {
	if i := SkipSpace(doc, 0); i < len(doc) && doc[i] == opener {
		return &Iter{b: doc, end: i + 1, closer: opener + 2} // '}' and ']' follow '{' and '[' by 2
	}
	return &Iter{}
}

// Next moves to the next member or element and reports whether there is
// one. It stops at the closing bracket and at anything it cannot read as
// the next member or element.
func (it *Iter) Next() bool {
	var name, nameEnd, v int
	var ok bool
	switch it.closer {
	case '}':
		name, nameEnd, v, ok = nextMember(it.b, it.end)
	case ']':
		v, ok = NextElement(it.b, it.end)
	}
	if !ok {
		*it = Iter{}
		return false
	}
	it.name, it.nameEnd, it.value, it.end = name, nameEnd, v, Skip(it.b, v)
	return true
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
func (it *Iter) NameIs(s string) bool { return it.name != 0 && textIs(it.b[it.name:it.nameEnd], s) }

// Value returns the current member's or element's raw value.
func (it *Iter) Value() []byte { return it.b[it.value:it.end] }

// NextMember reads the next member of an object, from i just after its
// '{' or after the previous member's value: it returns the member's raw
// name (as Iter.Name) and the index of its value, which the caller reads
// or Skips to go on from its end. At the closing '}' ok is false and value
// is the index just past it; at anything it cannot read, ok is false and
// value is where it stopped.
func NextMember(b []byte, i int) (name []byte, value int, ok bool) {
	ns, ne, value, ok := nextMember(b, i)
	return b[ns:ne], value, ok
}

// nextMember is NextMember with the name as indexes (both 0 when !ok).
func nextMember(b []byte, i int) (name, nameEnd, value int, ok bool) {
	i = SkipSpace(b, i)
	if i < len(b) && b[i] == ',' {
		i = SkipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		if i < len(b) && b[i] == '}' {
			return 0, 0, i + 1, false
		}
		return 0, 0, i, false
	}
	end, closed := skipString(b, i)
	if !closed {
		return 0, 0, end, false
	}
	name, nameEnd = i+1, end-1
	i = SkipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return 0, 0, i, false
	}
	if i = SkipSpace(b, i+1); !startsValue(b, i) {
		return 0, 0, i, false
	}
	return name, nameEnd, i, true
}

// NextElement is NextMember for the elements of an array.
func NextElement(b []byte, i int) (value int, ok bool) {
	i = SkipSpace(b, i)
	if i < len(b) && b[i] == ',' {
		i = SkipSpace(b, i+1)
	}
	if i < len(b) && b[i] == ']' {
		return i + 1, false
	}
	return i, startsValue(b, i)
}

// startsValue reports whether a value can start at b[i]: what cannot is
// read as the end of a malformed walk rather than as a value.
func startsValue(b []byte, i int) bool {
	if i >= len(b) {
		return false
	}
	switch b[i] {
	case ',', ':', '}', ']':
		return false
	}
	return true
}

// Member returns the raw value of the first member of obj called name, or
// nil. Names are compared as written: a name spelled with escapes is not
// found under its decoded spelling.
func Member(obj []byte, name string) []byte {
	if v, ok := find(obj, SkipSpace(obj, 0), name); ok {
		return obj[v:Skip(obj, v)]
	}
	return nil
}

// Path follows nested members: Path(b, "delta", "message") is the value of
// b.delta.message, or nil. Only the last value's end is looked for: the
// objects on the way are read up to the member wanted and no further.
func Path(doc []byte, names ...string) []byte {
	i := SkipSpace(doc, 0)
	for _, name := range names {
		var ok bool
		if i, ok = find(doc, i, name); !ok {
			return nil
		}
	}
	return doc[i:Skip(doc, i)]
}

// find returns the index of the value of the first member called name of
// the object at doc[i].
func find(doc []byte, i int, name string) (int, bool) {
	if i >= len(doc) || doc[i] != '{' {
		return 0, false
	}
	for i++; ; i = Skip(doc, i) {
		n, v, ok := NextMember(doc, i)
		if !ok {
			return 0, false
		}
		if i = v; string(n) == name {
			return v, true
		}
	}
}

// Len returns the number of elements of the array doc, 0 for anything else.
func Len(doc []byte) int {
	n := 0
	for it := Elements(doc); it.Next(); {
		n++
	}
	return n
}

// Skip returns the index just after the value that starts at b[i], which
// is more than i whenever i < len(b), so that every walk makes progress.
// Brackets are counted, not matched, and an unterminated string or
// container runs to the end of b.
func Skip(b []byte, i int) int {
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
