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
	if it.Next() || it.Name() != nil || it.Kind() != 0 {
		t.Fatal("a finished walk goes on")
	}
	if sub := it.Members(); sub.Next() {
		t.Fatal("a finished walk descends")
	}
}

func TestKind(t *testing.T) {
	var kinds []byte
	for it := Elements([]byte(`[{},[],"",true,false,null,-1,2]`)); it.Next(); {
		kinds = append(kinds, it.Kind())
	}
	if string(kinds) != `{["tfn-2` {
		t.Fatalf("kinds %q", kinds)
	}
}

// TestDescend: a walk into a value that ran to its end hands the value's
// end back with Resume, so the outer walk does not skip it again; the
// outer walk goes on correctly whether or not there is such a walk.
func TestDescend(t *testing.T) {
	doc := []byte(`{"a":{"x":1,"y":[1,2,{"z":"}"}]},"b":[[1],[2]],"c":3,"d":{"e":1}}`)
	it := Members(doc)
	var got []string
	for it.Next() {
		switch string(it.Name()) {
		case "a":
			sub := it.Members()
			for sub.Next() {
				if string(sub.Name()) == "y" {
					el := sub.Elements()
					got = append(got, "y:"+walk(el))
					sub.Resume(el) // a copy of el ran, not el: nothing to take
				}
			}
			it.Resume(sub)
			if it.end < 0 {
				t.Errorf("Resume did not take where a ends")
			} else if string(it.Value()) != `{"x":1,"y":[1,2,{"z":"}"}]}` {
				t.Errorf("a = %s", it.Value())
			}
		case "b":
			// Stopped early: the outer walk must skip b itself.
			sub := it.Elements()
			sub.Next()
			got = append(got, "b0:"+string(sub.Value()))
			it.Resume(sub)
			if it.end >= 0 {
				t.Errorf("an unfinished walk gave where b ends")
			}
		case "c":
			got = append(got, "c:"+string(it.Value()))
			// A walk of another value gives nothing.
			other := Members(doc)
			for other.Next() {
			}
			it.Resume(other)
			if string(it.Value()) != "3" {
				t.Errorf("c = %s after resuming from another walk", it.Value())
			}
		case "d":
			// Not an object: nothing walked, nothing given.
			sub := it.Elements()
			for sub.Next() {
				t.Error("Elements walked an object")
			}
			it.Resume(sub)
			got = append(got, "d:"+string(it.Value()))
		}
	}
	if s := strings.Join(got, " "); s != `y:1 2 {"z":"}"} b0:[1] c:3 d:{"e":1}` {
		t.Fatalf("got %s", s)
	}

	// A walk finished after the outer walk moved on gives nothing.
	it = Members([]byte(`{"a":{"x":1},"b":2}`))
	it.Next()
	stale := it.Members()
	it.Next() // to b, skipping a
	for stale.Next() {
	}
	it.Resume(stale)
	if string(it.Name()) != "b" || string(it.Value()) != "2" {
		t.Fatalf("stale walk moved the outer one: %s=%s", it.Name(), it.Value())
	}
	if it.Next() {
		t.Fatal("a walk goes on past its end")
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
	if string(Path(doc)) != string(doc) {
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
				el := it.Elements()
				for el.Next() {
					for m := el.Members(); m.Next(); {
						_ = Is(m.Value(), "text")
						_ = AppendUnquote(buf[:0], m.Value())
					}
				}
				it.Resume(el)
			}
		}
		_ = Count(Path(doc, "usage", "output_tokens"))
		_ = Len(Member(doc, "content"))
	})
	if n != 0 {
		t.Fatalf("%v allocs, want 0", n)
	}
}
