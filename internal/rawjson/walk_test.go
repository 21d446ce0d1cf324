package rawjson

import (
	"strings"
	"testing"
)

// walk renders every member or element of doc as name=value (or value).
func walk(it *Iter) string {
	var parts []string
	for it.Next() {
		if it.Name() != nil {
			parts = append(parts, string(it.Name())+"="+string(it.Value()))
		} else {
			parts = append(parts, string(it.Value()))
		}
	}
	return strings.Join(parts, " ")
}

func TestMembers(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{`{}`, ``},
		{` { } `, ``},
		{`{"a":1}`, `a=1`},
		{" {\n \"a\" : 1 ,\t\"b\":\"x\"\r\n}", `a=1 b="x"`},
		{`{"a":1, "b" : {"x":[1,"}"]},"c":"d\"e","e":null}`, `a=1 b={"x":[1,"}"]} c="d\"e" e=null`},
		{`{"a\"b":true,"\\":false}`, `a\"b=true \\=false`},
		{`{"a":"\\","b":"\"x\":1","c":[{},[]]}`, `a="\\" b="\"x\":1" c=[{},[]]`},
		{`{"a":-1.5e+3,"b":[ 1 , 2 ]}`, `a=-1.5e+3 b=[ 1 , 2 ]`},
		{`{"a":1,"a":2}`, `a=1 a=2`},
		// Not objects.
		{``, ``}, {`[1]`, ``}, {`"{}"`, ``}, {`null`, ``}, {`  `, ``},
		// Malformed: the walk stops where it stops making sense.
		{`{"a":1`, `a=1`},
		{`{"a":1,`, `a=1`},
		{`{"a":}`, ``},
		{`{"a":,"b":1}`, ``},
		{`{"a"`, ``},
		{`{"a":`, ``},
		{`{"a" 1}`, ``},
		{`{a:1}`, ``},
		{`{"a`, ``},
		{`{"a":"b`, `a="b`},
		{`{"a":{"b":1}`, `a={"b":1}`},
		{`{"a":1 "b":2}`, `a=1 b=2`},
		{`{,"a":1}`, `a=1`},
		{`{"a":1,,"b":2}`, `a=1`},
		{`{"a":[1,2}`, `a=[1,2}`},
		{`{"a":1]`, `a=1`},
	} {
		if got := walk(Members([]byte(tt.doc))); got != tt.want {
			t.Errorf("Members(%s) = %s, want %s", tt.doc, got, tt.want)
		}
	}
}

func TestElements(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{`[]`, ``},
		{` [ ] `, ``},
		{`[1]`, `1`},
		{`[1, "a" ,{"b":[2]} ,[],null,true,-0.5]`, `1 "a" {"b":[2]} [] null true -0.5`},
		{"[\n\"]\",\"\\\"]\"\n]", `"]" "\"]"`},
		{`{"a":1}`, ``}, {`"[]"`, ``}, {``, ``},
		{`[1,2`, `1 2`},
		{`[1,]`, `1`},
		{`[,1]`, `1`},
		{`[1,,2]`, `1`},
		{`[1 2]`, `1 2`},
		{`["a`, `"a`},
		{`[}`, ``},
		{`[:]`, ``},
	} {
		if got := walk(Elements([]byte(tt.doc))); got != tt.want {
			t.Errorf("Elements(%s) = %s, want %s", tt.doc, got, tt.want)
		}
	}
}

func TestIterAfterEnd(t *testing.T) {
	it := Members([]byte(`{"a":1}`))
	for it.Next() {
	}
	if it.Next() || it.Name() != nil || it.NameIs("a") {
		t.Fatal("a finished walk goes on")
	}
}

// TestNextMember walks nested objects in a single pass, threading the
// index through, as the usage tap on streamed chunks does.
func TestNextMember(t *testing.T) {
	doc := []byte(` {"a":{"x":1,"y":[1, 2,{"z":"}"}]} , "b":[],"c":"d"}x`)
	var got []string
	var walk func(i int, closer byte) int
	walk = func(i int, closer byte) int {
		for {
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
			switch doc[v] {
			case '{':
				got = append(got, string(name)+":{")
				i = walk(v+1, '}')
			case '[':
				got = append(got, string(name)+":[")
				i = walk(v+1, ']')
			default:
				i = Skip(doc, v)
				got = append(got, string(name)+"="+string(doc[v:i]))
			}
		}
	}
	end := walk(SkipSpace(doc, 0)+1, '}')
	if s := strings.Join(got, " "); s != `a:{ x=1 y:[ =1 =2 :{ z="}" b:[ c="d"` {
		t.Errorf("walk: %s", s)
	}
	if string(doc[end:]) != "x" {
		t.Errorf("the walk ended at %q, not just past the closing brace", doc[end:])
	}
	// Stopping at something unreadable says where.
	for _, tt := range []struct {
		doc  string
		stop int
	}{{`{"a":}`, 5}, {`{"a" 1}`, 5}, {`{a}`, 1}, {`{"a`, 3}, {``, 0}, {`{"a":`, 5}} {
		if _, v, ok := NextMember([]byte(tt.doc), 1); ok || v != tt.stop && tt.doc != "" {
			t.Errorf("NextMember(%s) = %d %v, want a stop at %d", tt.doc, v, ok, tt.stop)
		}
	}
	if v, ok := NextElement([]byte(`[1,]`), 2); ok || v != 4 {
		t.Errorf("NextElement at a trailing comma = %d %v, want the end of the array", v, ok)
	}
}

func TestSkip(t *testing.T) {
	for _, tt := range []struct {
		b    string
		want string
	}{
		{`"a\"b" x`, `"a\"b"`}, {`"a\\" x`, `"a\\"`}, {`"a\\\" x" y`, `"a\\\" x"`}, {`{"a":[1,"]"]},`, `{"a":[1,"]"]}`}, {`[[]]]`, `[[]]`},
		{`123,`, `123`}, {`true}`, `true`}, {`null `, `null`}, {`"open`, `"open`}, {`{"a":[`, `{"a":[`},
		{`}`, `}`}, {`,`, `,`}, {`-`, `-`},
	} {
		if end := Skip([]byte(tt.b), 0); tt.b[:end] != tt.want {
			t.Errorf("Skip(%s) = %s, want %s", tt.b, tt.b[:end], tt.want)
		}
	}
	if Skip(nil, 0) != 0 || Skip([]byte("ab"), 2) != 2 {
		t.Error("Skip at the end moved")
	}
}

func TestMemberAndPath(t *testing.T) {
	doc := []byte(` {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":" Lang","n":[1,{"a":2}]}}},"x":{"message":1}}`)
	for _, tt := range []struct {
		names []string
		want  string
	}{
		{[]string{"type"}, `"content-delta"`},
		{[]string{"index"}, `0`},
		{[]string{"delta", "message", "content", "text"}, `" Lang"`},
		{[]string{"delta", "message", "content", "n"}, `[1,{"a":2}]`},
		{[]string{"delta", "message", "content"}, `{"text":" Lang","n":[1,{"a":2}]}`},
		{[]string{"x", "message"}, `1`},
		{[]string{"delta", "text"}, ``},
		{[]string{"index", "a"}, ``},
		{[]string{"missing"}, ``},
		{[]string{"delta", "message", "content", "n", "a"}, ``},
	} {
		if got := string(Path(doc, tt.names...)); got != tt.want {
			t.Errorf("Path(%v) = %s, want %s", tt.names, got, tt.want)
		}
		if len(tt.names) == 1 {
			if got := string(Member(doc, tt.names[0])); got != tt.want {
				t.Errorf("Member(%s) = %s, want %s", tt.names[0], got, tt.want)
			}
		}
	}
	if string(Path(doc)) != string(TrimSpace(doc)) {
		t.Error("an empty path is not the document")
	}
	if Member([]byte(`{"a\u0062":1}`), "ab") != nil {
		t.Error("an escaped name was found under its decoded spelling")
	}
	if Member(nil, "a") != nil || Path([]byte(`[{"a":1}]`), "a") != nil {
		t.Error("found a member outside an object")
	}
}

func TestLen(t *testing.T) {
	for doc, want := range map[string]int{
		`[]`: 0, `[1]`: 1, ` [1,[2,3],{"a":[4]}] `: 3, `{}`: 0, `{"a":1,"b":{"c":2}}`: 0,
		`"[1,2]"`: 0, `null`: 0, ``: 0, `[1,2`: 2, `[1,,2]`: 1,
	} {
		if got := Len([]byte(doc)); got != want {
			t.Errorf("Len(%s) = %d, want %d", doc, got, want)
		}
	}
}

func TestSpace(t *testing.T) {
	if got := SkipSpace([]byte(" \t\r\nx "), 0); got != 4 {
		t.Errorf("SkipSpace = %d", got)
	}
	if got := SkipSpace([]byte("  "), 1); got != 2 {
		t.Errorf("SkipSpace at the end = %d", got)
	}
	for in, want := range map[string]string{"": "", " ": "", " \n{ }\t\r": "{ }", "\va\f": "\va\f", "a": "a"} {
		if got := string(TrimSpace([]byte(in))); got != want {
			t.Errorf("TrimSpace(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWalkAllocs: walking, looking up and reading never allocate.
func TestWalkAllocs(t *testing.T) {
	doc := []byte(`{"id":"msg_1","content":[{"type":"text","text":"hi \u00e9"},{"type":"tool_use","input":{"a":[1,2]}}],"usage":{"input_tokens":12,"output_tokens":3.0}}`)
	var buf [64]byte
	n := testing.AllocsPerRun(100, func() {
		for it := Members(doc); it.Next(); {
			if string(it.Name()) == "content" {
				for el := Elements(it.Value()); el.Next(); {
					for m := Members(el.Value()); m.Next(); {
						_ = Is(m.Value(), "text")
						_ = AppendUnquote(buf[:0], m.Value())
					}
				}
			}
		}
		_ = Count(Path(doc, "usage", "output_tokens"))
		_ = Len(Member(doc, "content"))
	})
	if n != 0 {
		t.Fatalf("%v allocs, want 0", n)
	}
}
