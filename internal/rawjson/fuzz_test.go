package rawjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	`{}`, `[]`, `""`, `null`, `12.5e-1`, `{"a":1,"b":[true,false,null],"c":{"d":"e\"f"}}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"h\u00e9\ud83d\ude00"}]}],"n":1}`,
	`{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":" Language"}}}}`,
	` [ 1 , [ 2 , { "x" : [ ] } ] , "\\" ] `, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":[1,2}`, `{"a`,
	`[{"usage":{"prompt_tokens":1.5e3}}]`, `{"a\\"b":1}`, `{,,}`, `[[[[`, `{"a":"\`,
}

// FuzzWalk: on any input every walk ends, never panics and never leaves
// the input; the Iter walk and the single-pass index walk see the same
// values on valid JSON; and on valid JSON both agree with encoding/json.
func FuzzWalk(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		valid := json.Valid(doc)
		budget := (len(doc) + 2) * 70
		byIter := traceIter(t, doc, &budget)
		budget = (len(doc) + 2) * 70
		byIndex := traceIndex(t, doc, &budget)
		if valid && byIter != byIndex {
			t.Fatalf("walks disagree on %q:\n%s\n%s", doc, byIter, byIndex)
		}
		_ = Len(doc)
		_ = Path(doc, "a", "b")
		if !valid {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, doc); err != nil {
			t.Fatal(err)
		}
		if got := AppendCompact(nil, doc); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("AppendCompact(%q) = %q, encoding/json %q", doc, got, want.Bytes())
		}
		checkAgainstEncodingJSON(t, TrimSpace(doc))
	})
}

// traceIter walks doc depth first with Iter, reading every value, and
// renders what it saw. The budget bounds the steps: a walk that made no
// progress would exhaust it.
func traceIter(t *testing.T, doc []byte, budget *int) string {
	var out strings.Builder
	var rec func(it *Iter, depth int)
	rec = func(it *Iter, depth int) {
		for it.Next() {
			if *budget--; *budget < 0 {
				t.Fatalf("no progress walking %q", doc)
			}
			v := it.Value()
			check(t, v)
			out.Write(it.Name())
			out.WriteByte('=')
			if depth < 64 && (v[0] == '{' || v[0] == '[') {
				out.WriteByte('(')
				if v[0] == '{' {
					rec(Members(v), depth+1)
				} else {
					rec(Elements(v), depth+1)
				}
				out.WriteByte(')')
			}
			out.Write(v)
			out.WriteByte(';')
		}
	}
	rec(Members(doc), 0)
	rec(Elements(doc), 0)
	return out.String()
}

// traceIndex renders what traceIter does, in one pass over doc with
// NextMember, NextElement and Skip.
func traceIndex(t *testing.T, doc []byte, budget *int) string {
	var out strings.Builder
	// rec walks the container whose opening bracket is at b[i] and
	// returns the index just past it.
	var rec func(i, depth int) int
	rec = func(i, depth int) int {
		closer := doc[i] + 2
		for i++; ; {
			if *budget--; *budget < 0 {
				t.Fatalf("no progress walking %q", doc)
			}
			var name []byte
			var v int
			var ok bool
			if closer == '}' {
				name, v, ok = NextMember(doc, i)
			} else {
				v, ok = NextElement(doc, i)
			}
			if !ok {
				return v
			}
			out.Write(name)
			out.WriteByte('=')
			if depth < 64 && (doc[v] == '{' || doc[v] == '[') {
				out.WriteByte('(')
				i = rec(v, depth+1)
				out.WriteByte(')')
			} else {
				i = Skip(doc, v)
			}
			out.Write(doc[v:i])
			out.WriteByte(';')
		}
	}
	if i := SkipSpace(doc, 0); i < len(doc) && doc[i] == '{' {
		rec(i, 0)
	}
	if i := SkipSpace(doc, 0); i < len(doc) && doc[i] == '[' {
		rec(i, 0)
	}
	return out.String()
}

func check(t *testing.T, v []byte) {
	if len(v) == 0 {
		t.Fatal("an empty value")
	}
	text := AppendUnquote(nil, v)
	if !utf8.Valid(text) {
		t.Fatalf("AppendUnquote(%q) = %q, not UTF-8", v, text)
	}
	if !IsString(v) && len(text) > 0 {
		t.Fatalf("AppendUnquote(%q) decoded what is not a string", v)
	}
	if IsString(v) && isPlain(string(text)) && !Is(v, string(text)) {
		t.Fatalf("Is(%q, %q) = false", v, text)
	}
	_ = Count(v)
	_, _ = Int(v)
	_ = AppendCompact(nil, v)
}

// checkAgainstEncodingJSON compares the walk of valid JSON with
// encoding/json's reading of it, member by member and element by element.
func checkAgainstEncodingJSON(t *testing.T, doc []byte) {
	switch {
	case IsObject(doc):
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		for it := Members(doc); it.Next(); {
			key, err := dec.Token()
			if err != nil {
				t.Fatalf("encoding/json has fewer members than the walk of %q", doc)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				t.Fatal(err)
			}
			if name := string(AppendUnescape(nil, it.Name())); name != key.(string) {
				t.Fatalf("name %q, encoding/json %q", name, key)
			}
			compareValue(t, it.Value(), raw)
		}
		if dec.More() {
			t.Fatalf("the walk of %q missed members", doc)
		}
	case IsArray(doc):
		var elems []json.RawMessage
		if err := json.Unmarshal(doc, &elems); err != nil {
			t.Fatal(err)
		}
		n := 0
		for it := Elements(doc); it.Next(); n++ {
			if n >= len(elems) {
				t.Fatalf("the walk of %q has too many elements", doc)
			}
			compareValue(t, it.Value(), elems[n])
		}
		if n != len(elems) || Len(doc) != n {
			t.Fatalf("the walk of %q saw %d elements, encoding/json %d", doc, n, len(elems))
		}
	default:
		compareValue(t, doc, doc)
	}
}

func compareValue(t *testing.T, v, raw []byte) {
	if !bytes.Equal(v, bytes.TrimSpace(raw)) {
		t.Fatalf("value %q, encoding/json %q", v, raw)
	}
	if IsString(v) {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			t.Fatal(err)
		}
		if got := string(AppendUnquote(nil, v)); got != s {
			t.Fatalf("AppendUnquote(%q) = %q, encoding/json %q", v, got, s)
		}
	}
}

// FuzzAppendQuote: the literal is valid JSON whatever the text, and reads
// back as the text (with U+FFFD for invalid UTF-8).
func FuzzAppendQuote(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c\n\x00\u2028", "é中😀", "\xff\xe4\xb8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := AppendQuote(nil, s)
		if !json.Valid(q) || !utf8.Valid(q) || !IsString(q) {
			t.Fatalf("AppendQuote(%q) = %q", s, q)
		}
		var back string
		if err := json.Unmarshal(q, &back); err != nil {
			t.Fatal(err)
		}
		if text := string(AppendUnquote(nil, q)); text != back {
			t.Fatalf("AppendUnquote(%q) = %q, encoding/json %q", q, text, back)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("AppendQuote(%q) reads back as %q", s, back)
		}
		if isPlain(back) && !Is(q, back) {
			t.Fatalf("Is(%q, %q) = false", q, back)
		}
	})
}

// isPlain: what Is may be asked about (see Is).
func isPlain(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, utf8.RuneError) }
