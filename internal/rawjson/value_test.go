package rawjson

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestKinds(t *testing.T) {
	for _, tt := range []struct {
		v                                string
		str, null, object, array, number bool
	}{
		{v: `""`, str: true},
		{v: `"a"`, str: true},
		{v: `"a\"b"`, str: true},
		{v: `"\\"`, str: true},
		{v: `"\\\""`, str: true},
		{v: `"\"`},   // the closing quote is escaped
		{v: `"\\\"`}, // so is this one
		{v: `"`},
		{v: `"abc`},
		{v: `abc"`},
		{v: ``, null: true},
		{v: `null`, null: true},
		{v: `nul`},
		{v: `{}`, object: true},
		{v: `{"a":1}`, object: true},
		{v: `[]`, array: true},
		{v: `-1`, number: true},
		{v: `0.5e3`, number: true},
		{v: `true`},
		{v: ` {}`}, // values the walk hands out carry no whitespace
	} {
		v := []byte(tt.v)
		if IsString(v) != tt.str || IsNull(v) != tt.null || IsObject(v) != tt.object || IsArray(v) != tt.array || IsNumber(v) != tt.number {
			t.Errorf("%s: string %v null %v object %v array %v number %v", tt.v, IsString(v), IsNull(v), IsObject(v), IsArray(v), IsNumber(v))
		}
		in, ok := Inner(v)
		if ok != tt.str || ok && string(in) != tt.v[1:len(tt.v)-1] {
			t.Errorf("Inner(%s) = %q %v", tt.v, in, ok)
		}
	}
	if in, ok := Inner([]byte(`""`)); !ok || in == nil {
		t.Error("the inside of an empty string is not an empty slice")
	}
}

func TestIs(t *testing.T) {
	for _, tt := range []struct {
		v, s string
		want bool
	}{
		{`"text"`, "text", true},
		{`"text"`, "tex", false},
		{`"text"`, "texts", false},
		{`"te\u0078t"`, "text", true},
		{`"\u0074\u0065\u0078\u0074"`, "text", true},
		{`"\u0074\u0065\u0078\u0074"`, "texT", false},
		{`"\u0074\u0065\u0078\u0074"`, "tex", false},
		{`"a\"b"`, `a"b`, true},
		{`"\u0061\u0062"`, "ab", true},
		{`"a\u0062c"`, "abc", true},
		{`"été"`, "été", true},
		{`"été"`, "ete", false},
		{`"a\nb"`, "a\nb", true},
		{`"a\nb"`, `a\nb`, false},
		{`"a\\b"`, `a\b`, true},
		{`"a\\b"`, `a\\b`, false},
		{`"\ud83d\ude00"`, "😀", true},
		{`"\u00e9t\u00e9"`, "été", true},
		{`text`, "text", false},
		{`"text`, "text", false},
		{`"tex\"`, `tex"`, false},
		{``, "", false},
		{`""`, "", true},
		{`null`, "null", false},
		{`"` + strings.Repeat(`\u0061`, 100) + `"`, strings.Repeat("a", 100), true},
		{`"` + strings.Repeat(`\u0061`, 100) + `"`, strings.Repeat("a", 99), false},
	} {
		if got := Is([]byte(tt.v), tt.s); got != tt.want {
			t.Errorf("Is(%s, %q) = %v, want %v", tt.v, tt.s, got, tt.want)
		}
	}
}

func TestInt(t *testing.T) {
	for _, tt := range []struct {
		v  string
		n  int64
		ok bool
	}{
		{"0", 0, true}, {"42", 42, true}, {"-7", -7, true}, {"007", 7, true},
		{"999999999999999999", 999999999999999999, true},
		{"1000000000000000000", 0, false}, // 19 digits
		{"1.0", 0, false}, {"1e3", 0, false}, {"", 0, false}, {"-", 0, false},
		{"null", 0, false}, {`"7"`, 0, false}, {"+1", 0, false}, {" 1", 0, false},
	} {
		if n, ok := Int([]byte(tt.v)); n != tt.n || ok != tt.ok {
			t.Errorf("Int(%q) = %d %v, want %d %v", tt.v, n, ok, tt.n, tt.ok)
		}
	}
}

func TestCount(t *testing.T) {
	for v, want := range map[string]int64{
		"71": 71, "0": 0, "5.0": 5, "12.0": 12, "1.5e3": 1500, "1.5e1": 15, "15E-1": 1, "2.5e+2": 250,
		"0.9": 0, "1e-400": 0, "1e400": math.MaxInt64, "99999999999999999999": math.MaxInt64,
		"9223372036854775807": 9223372036854775800, // 18 significant digits "123456789012345678901234e-6": 123456789012345678,
		"-3":                  0, "-0": 0, "null": 0, "": 0, `"7"`: 0, "true": 0, "[1]": 0,
	} {
		if got := Count([]byte(v)); got != want {
			t.Errorf("Count(%q) = %d, want %d", v, got, want)
		}
	}
}

func TestAppendUnquote(t *testing.T) {
	for _, tt := range []struct{ v, want string }{
		{`"plain"`, "plain"},
		{`""`, ""},
		{`"a\nb\"c\\\/\b\f\r\t"`, "a\nb\"c\\/\b\f\r\t"},
		{`"\u00e9\u4e2D"`, "é中"},
		{`"\ud83d\ude00!"`, "😀!"},
		{`"é😀"`, "é😀"},
		// Malformed: U+FFFD in place of what cannot be decoded.
		{`"\ud83d!"`, "\uFFFD!"},
		{`"\ude00"`, "\uFFFD"},
		{`"\ud83d\u0041"`, "\uFFFDA"},
		{`"\ud83d\ud83d\ude00"`, "\uFFFD😀"},
		{`"bad\u00zz"`, "bad\uFFFD00zz"},
		{`"bad\u00"`, "bad\uFFFD00"},
		{`"\x41"`, "\uFFFD41"},
		{"\"a\xffb\"", "a\uFFFDb"},
		{"\"\xe4\xb8\"", "\uFFFD\uFFFD"},
		{"\"\\\xe4\xb8\xad\"", "\uFFFD\uFFFD\uFFFD"},
		// Not strings: nothing.
		{`"unterminated`, ""},
		{`"\"`, ""},
		{`null`, ""},
		{`12`, ""},
		{``, ""},
	} {
		got := AppendUnquote([]byte("x"), []byte(tt.v))
		if string(got) != "x"+tt.want {
			t.Errorf("AppendUnquote(%s) = %q, want %q", tt.v, got[1:], tt.want)
		}
		if !utf8.Valid(got) {
			t.Errorf("AppendUnquote(%s) is not UTF-8: %q", tt.v, got)
		}
	}
	// A trailing lone backslash, which only AppendUnescape can be given.
	if got := string(AppendUnescape(nil, []byte(`a\`))); got != "a\uFFFD" {
		t.Errorf("trailing backslash: %q", got)
	}
}

// TestAppendUnquoteMatchesEncodingJSON on valid strings, lone surrogates
// and invalid UTF-8 included.
func TestAppendUnquoteMatchesEncodingJSON(t *testing.T) {
	for _, v := range []string{`"a\u0000b"`, `"\ud800\udc00"`, `"\udbff\udfff"`, `"\ud800x"`, `"\udc00\ud800"`,
		"\"\xff\xfe\"", "\"\xc3\"", `"\u2028"`, `"\/"`} {
		var want string
		if err := json.Unmarshal([]byte(v), &want); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if got := string(AppendUnquote(nil, []byte(v))); got != want {
			t.Errorf("AppendUnquote(%s) = %q, encoding/json %q", v, got, want)
		}
	}
}

func TestHex4(t *testing.T) {
	for _, tt := range []struct {
		b  string
		i  int
		r  rune
		ok bool
	}{
		{`\u00e9`, 2, 0xe9, true}, {`\uABCD`, 2, 0xabcd, true}, {`\uabcd`, 2, 0xabcd, true},
		{`\u00e`, 2, 0, false}, {`\u00eg`, 2, 0, false}, {`0000`, 0, 0, true}, {`0000`, 1, 0, false}, {`0000`, -1, 0, false},
	} {
		if r, ok := Hex4([]byte(tt.b), tt.i); r != tt.r || ok != tt.ok {
			t.Errorf("Hex4(%s, %d) = %x %v", tt.b, tt.i, r, ok)
		}
	}
}

func TestAppendQuote(t *testing.T) {
	for _, tt := range []struct{ s, want string }{
		{"", `""`},
		{"plain text, long enough to take the 8-byte path", `"plain text, long enough to take the 8-byte path"`},
		{"a\"b\\c", `"a\"b\\c"`},
		{"\n\r\t\b\f\x00\x1f\x7f", `"\n\r\t\b\f\u0000\u001f` + "\x7f" + `"`},
		{"é中😀", `"é中😀"`},
		{"\u2028 and \u2029", `"\u2028 and \u2029"`},
		{"bad \xff byte \xe4\xb8", `"bad \ufffd byte \ufffd\ufffd"`},
		{"12345678\"12345678\n", `"12345678\"12345678\n"`},
	} {
		got := AppendQuote([]byte("x"), tt.s)
		if string(got) != "x"+tt.want {
			t.Errorf("AppendQuote(%q) = %s, want %s", tt.s, got[1:], tt.want)
		}
		if b := AppendQuoteBytes(nil, []byte(tt.s)); string(b) != tt.want {
			t.Errorf("AppendQuoteBytes(%q) = %s, want %s", tt.s, b, tt.want)
		}
		var back string
		if err := json.Unmarshal(got[1:], &back); err != nil || back != strings.ToValidUTF8(tt.s, "\uFFFD") && utf8.ValidString(tt.s) {
			t.Errorf("AppendQuote(%q) does not decode back: %q %v", tt.s, back, err)
		}
	}
}

func TestSkipPlain(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf }
	for _, s := range []string{"", "abc", "abcdefgh", "abcdefghi", "abcdefg\"", "abcdefgh\\", "a\x01", "0123456789abcdef\n",
		"é", "abcdefghé", "\x1f\x20\x21", `!"#$%&'()*+,-./`, "[\\]^_`{|}~\x7f", "0123456789abcdef0123456789\"", strings.Repeat("x", 40)} {
		b := []byte(s)
		for i := 0; i <= len(b); i++ {
			got := SkipPlain(b, i)
			first := i // the first byte needing a look, or len(b)
			for first < len(b) && plain(b[first]) {
				first++
			}
			// It stops there, or earlier but only among the last 7 bytes.
			if got > first || got < first && got+8 <= len(b) || got < i {
				t.Errorf("SkipPlain(%q, %d) = %d; the first byte needing a look is at %d", s, i, got, first)
			}
		}
	}
}

func TestAppendCompact(t *testing.T) {
	for _, tt := range []struct{ v, want string }{
		{`{}`, `{}`},
		{"{ \"a\" : [ 1 , 2 ] ,\n\t\"b\" : \"x y\\\" z \" }", `{"a":[1,2],"b":"x y\" z "}`},
		{` "  " `, `"  "`},
		{`[ "a\\", " b " ]`, `["a\\"," b "]`},
		{`{"a": "unterminated  `, `{"a":"unterminated  `},
		{`1`, `1`},
		{``, ``},
	} {
		if got := string(AppendCompact(nil, []byte(tt.v))); got != tt.want {
			t.Errorf("AppendCompact(%s) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

func TestUnquote(t *testing.T) {
	buf := make([]byte, 0, 64)
	for _, tt := range []struct {
		v, want string
		copied  bool
	}{
		{`"plain"`, "plain", false},
		{`""`, "", false},
		{`"a\nb"`, "a\nb", true},
		{"\"a\xffb\"", "a\uFFFDb", true},
		{`null`, "", false},
	} {
		text, grown := Unquote([]byte(tt.v), buf[:0])
		if string(text) != tt.want {
			t.Errorf("Unquote(%s) = %q, want %q", tt.v, text, tt.want)
		}
		if copied := len(grown) > 0; copied != tt.copied {
			t.Errorf("Unquote(%s) copied: %v", tt.v, copied)
		}
	}
	// Appends after what buf holds, and the text is only the new part.
	text, grown := Unquote([]byte(`"\u0041"`), []byte("xy"))
	if string(text) != "A" || string(grown) != "xyA" {
		t.Errorf("Unquote after xy: %q %q", text, grown)
	}
	if text, _ := Unquote([]byte(`1`), nil); text != nil {
		t.Error("Unquote of a number is not nil")
	}
}

func TestNameIs(t *testing.T) {
	var got []string
	for it := Members([]byte(`{"type":1,"typ\u0065":2,"types":3,"\u0074ype":4}`)); it.Next(); {
		if it.NameIs("type") {
			got = append(got, string(it.Value()))
		}
	}
	if strings.Join(got, ",") != "1,2,4" {
		t.Fatalf("NameIs(type) matched %v", got)
	}
	if it := Elements([]byte(`["type"]`)); it.Next() && it.NameIs("type") {
		t.Fatal("an element has a name")
	}
}
