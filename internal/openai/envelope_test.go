package openai

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readRequest(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "requests", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fields is the exported part of an Envelope, for comparisons.
type fields struct {
	Model            string
	HasModel         bool
	Stream           bool
	HasStreamOptions bool
	IncludeUsage     bool
	MaxTokens        int
	N                int
	User             string
	Tags             []string
}

func fieldsOf(e *Envelope) fields {
	return fields{e.Model, e.HasModel, e.Stream, e.HasStreamOptions, e.IncludeUsage, e.MaxTokens, e.N, e.User, e.Tags}
}

func TestParseEnvelopeFields(t *testing.T) {
	tests := []struct {
		name string
		body string
		want fields
	}{
		{"minimal", `{"model":"gpt-4o","messages":[]}`, fields{Model: "gpt-4o", HasModel: true}},
		{"empty object", `{}`, fields{}},
		{"whitespace", " \t\r\n{ \"model\" : \"m\" , \"stream\" : true } \n", fields{Model: "m", HasModel: true, Stream: true}},
		{"empty model", `{"model":""}`, fields{HasModel: true}},
		{"escaped model", `{"model":"a\"b\\c\u00e9\ud83d\ude00\n"}`, fields{Model: "a\"b\\cé😀\n", HasModel: true}},
		{"escaped key", `{"mod\u0065l":"m","str\u0065am":true}`, fields{Model: "m", HasModel: true, Stream: true}},
		{"long escaped model", `{"model":"` + strings.Repeat(`\u00e9`, 100) + `"}`, fields{Model: strings.Repeat("é", 100), HasModel: true}},
		{"unicode model", `{"model":"模型-😀"}`, fields{Model: "模型-😀", HasModel: true}},
		{"stream false", `{"stream":false}`, fields{}},
		{"stream null", `{"stream":null}`, fields{}},
		{"stream options", `{"stream":true,"stream_options":{"include_usage":true}}`, fields{Stream: true, HasStreamOptions: true, IncludeUsage: true}},
		{"stream options other", `{"stream_options":{"include_obfuscation":false,"x":{"y":[1]}}}`, fields{HasStreamOptions: true}},
		{"stream options null", `{"stream_options":null}`, fields{}},
		{"include_usage null", `{"stream_options":{"include_usage":null}}`, fields{HasStreamOptions: true}},
		{"max_tokens", `{"max_tokens":100}`, fields{MaxTokens: 100}},
		{"max_completion_tokens wins", `{"max_tokens":100,"max_completion_tokens":200}`, fields{MaxTokens: 200}},
		{"max_completion_tokens wins either order", `{"max_completion_tokens":200,"max_tokens":100}`, fields{MaxTokens: 200}},
		{"max_completion_tokens null", `{"max_completion_tokens":null,"max_tokens":100}`, fields{MaxTokens: 100}},
		{"max_tokens float whole", `{"max_tokens":100.00}`, fields{MaxTokens: 100}},
		{"max_tokens exponent", `{"max_tokens":1e3}`, fields{MaxTokens: 1000}},
		{"max_tokens exponent and fraction", `{"max_tokens":1.25E+2}`, fields{MaxTokens: 125}},
		{"max_tokens negative exponent", `{"max_tokens":1500e-1}`, fields{MaxTokens: 150}},
		{"max_tokens zero exponent", `{"max_tokens":0e999999}`, fields{}},
		{"max_tokens minus zero float", `{"max_tokens":-0.0e-5}`, fields{}},
		{"max_tokens zero", `{"max_tokens":0}`, fields{}},
		{"max_tokens minus zero", `{"max_tokens":-0}`, fields{}},
		{"max_tokens max", `{"max_tokens":2147483647}`, fields{MaxTokens: 2147483647}},
		{"n", `{"n":3}`, fields{N: 3}},
		{"user", `{"user":"u-1"}`, fields{User: "u-1"}},
		{"user null", `{"user":null}`, fields{}},
		{"tags", `{"metadata":{"a":"b","tags":["x","y\u00e9"],"c":[{}]}}`, fields{Tags: []string{"x", "yé"}}},
		{"empty tags", `{"metadata":{"tags":[]}}`, fields{Tags: []string{}}},
		{"null tags", `{"metadata":{"tags":null}}`, fields{}},
		{"null metadata", `{"metadata":null}`, fields{}},
		{"nested keys ignored", `{"x":{"model":"no","stream":true,"model":"dup"},"messages":[{"model":1}]}`, fields{}},
		{"other types", `{"a":[1,-2.5e+10,0.0,-0,1E3,true,false,null,"s",{},[]],"b":{"c":{"d":[[[]]]}}}`, fields{}},
		{"deep", `{"x":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`, fields{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Envelope
			if err := ParseEnvelope([]byte(tt.body), &e); err != nil {
				t.Fatalf("ParseEnvelope(%s): %v", tt.body, err)
			}
			if got := fieldsOf(&e); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseEnvelope(%s)\n got %+v\nwant %+v", tt.body, got, tt.want)
			}
		})
	}
}

func TestParseEnvelopeFiles(t *testing.T) {
	want := map[string]fields{
		"chat_1k.json":                   {Model: "gpt-4o-mini", HasModel: true, Stream: true, MaxTokens: 400, User: "customer-8812"},
		"chat_tools.json":                {Model: "gpt-4o-mini", HasModel: true, Stream: true, MaxTokens: 512, User: "user-1234"},
		"chat_image_100k.json":           {Model: "gpt-4o", HasModel: true, Stream: true, HasStreamOptions: true, MaxTokens: 1000, Tags: []string{"vision", "team-a"}},
		"pretty.json":                    {Model: "llama-3.1-8b-instant", HasModel: true, Stream: true, HasStreamOptions: true, N: 1, Tags: []string{"a", "bé"}},
		"escapes.json":                   {Model: "gpt-é😀", HasModel: true, Stream: true},
		"completion.json":                {Model: "gpt-3.5-turbo-instruct", HasModel: true, MaxTokens: 7, N: 2},
		"embeddings_no_model_first.json": {Model: "text-embedding-3-small", HasModel: true},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "requests", "*.json"))
	if len(files) != len(want) {
		t.Fatalf("%d files, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		name := filepath.Base(f)
		body := readRequest(t, name)
		var e Envelope
		if err := ParseEnvelope(body, &e); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := fieldsOf(&e); !reflect.DeepEqual(got, want[name]) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want[name])
		}
	}
}

func TestParseEnvelopeErrors(t *testing.T) {
	tests := []struct {
		body   string
		msg    string // exact message
		param  string
		offset int
	}{
		{``, "request body is empty; expected a JSON object", "", 0},
		{"  \n", "request body is empty; expected a JSON object", "", 0},
		{`[]`, "request body must be a JSON object", "", 0},
		{`"x"`, "request body must be a JSON object", "", 0},
		{`null`, "request body must be a JSON object", "", 0},
		{`[1,]`, "invalid JSON at byte 3: unexpected ']'", "", 3},
		{`{"model":"m",}`, "invalid JSON at byte 13: unexpected '}'", "", 13},
		{`{"a":[1,2,]}`, "invalid JSON at byte 10: unexpected ']'", "", 10},
		{`{"a":{"b":1,}}`, "invalid JSON at byte 12: unexpected '}'", "", 12},
		{`{"a":1`, "invalid JSON at byte 6: unexpected end of input", "", 6},
		{`{"a":1}}`, "invalid JSON at byte 7: unexpected '}' after the top-level value", "", 7},
		{`{"a":1} x`, "invalid JSON at byte 8: unexpected 'x' after the top-level value", "", 8},
		{`{"a":1}{}`, "invalid JSON at byte 7: unexpected '{' after the top-level value", "", 7},
		{`{"a" 1}`, "invalid JSON at byte 5: unexpected '1'", "", 5},
		{`{a:1}`, "invalid JSON at byte 1: unexpected 'a'", "", 1},
		{`{'a':1}`, "invalid JSON at byte 1: unexpected '\\''", "", 1},
		{`{"a":1 /* c */}`, "invalid JSON at byte 7: unexpected '/'", "", 7},
		{`{"a":NaN}`, "invalid JSON at byte 5: unexpected 'N'", "", 5},
		{`{"a":Infinity}`, "invalid JSON at byte 5: unexpected 'I'", "", 5},
		{`{"a":-Infinity}`, "invalid JSON at byte 6: unexpected 'I'", "", 6},
		{`{"a":01}`, "invalid JSON at byte 5: numbers must not have leading zeros", "", 5},
		{`{"a":-01}`, "invalid JSON at byte 6: numbers must not have leading zeros", "", 6},
		{`{"a":1.}`, "invalid JSON at byte 7: unexpected '}'", "", 7},
		{`{"a":.5}`, "invalid JSON at byte 5: unexpected '.'", "", 5},
		{`{"a":1e}`, "invalid JSON at byte 7: unexpected '}'", "", 7},
		{`{"a":+1}`, "invalid JSON at byte 5: unexpected '+'", "", 5},
		{`{"a":0x10}`, "invalid JSON at byte 6: unexpected 'x'", "", 6},
		{`{"a":tru}`, "invalid JSON at byte 8: unexpected '}'", "", 8},
		{`{"a":True}`, "invalid JSON at byte 5: unexpected 'T'", "", 5},
		{`{"a":nul`, "invalid JSON at byte 8: unexpected end of input", "", 8},
		{`{"a":"x`, "invalid JSON at byte 5: unterminated string", "", 5},
		{"{\"a\":\"x\ny\"}", "invalid JSON at byte 7: control character '\\n' in string (escape it)", "", 7},
		{"{\"a\":\"x\x00\"}", "invalid JSON at byte 7: control character '\\x00' in string (escape it)", "", 7},
		{`{"a":"\x"}`, "invalid JSON at byte 6: invalid escape \"\\\\x\"", "", 6},
		{`{"a":"\u12"}`, "invalid JSON at byte 6: invalid \\u escape", "", 6},
		{`{"a":"\u12g4"}`, "invalid JSON at byte 6: invalid \\u escape", "", 6},
		{`{"a":"\ud800"}`, "invalid JSON at byte 6: \\u escape is a high surrogate not followed by a low surrogate", "", 6},
		{`{"a":"\ud800\u0041"}`, "invalid JSON at byte 6: \\u escape is a high surrogate not followed by a low surrogate", "", 6},
		{`{"a":"\udc00"}`, "invalid JSON at byte 6: \\u escape is a lone low surrogate", "", 6},
		{"{\"a\":\"\xff\"}", "request body is not valid UTF-8 at byte 6", "", 6},
		{"{\"a\":\"\xc3\"}", "request body is not valid UTF-8 at byte 6", "", 6},
		{"{\"a\":\"\xed\xa0\x80\"}", "request body is not valid UTF-8 at byte 6", "", 6}, // UTF-8 encoded surrogate
		{"{\"a\":\"\xc0\xaf\"}", "request body is not valid UTF-8 at byte 6", "", 6},     // overlong
		{"{\"a\":1,\xff}", "request body is not valid UTF-8 at byte 7", "", 7},
		{"{\"a\":1,é}", "invalid JSON at byte 7: unexpected 'é'", "", 7},
		{"\xef\xbb\xbf{}", `invalid JSON at byte 0: unexpected '\ufeff'`, "", 0}, // a BOM is not JSON
		{`{"x":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`, "JSON nested deeper than 64 levels", "", 5 + MaxDepth - 1},
		{`{"x":` + strings.Repeat(`{"a":`, MaxDepth) + `1` + strings.Repeat("}", MaxDepth) + `}`, "JSON nested deeper than 64 levels", "", 5 + 5*(MaxDepth-1)},
		{`{"model":1}`, "'model' must be a string", "model", 9},
		{`{"model":null}`, "'model' must be a string", "model", 9},
		{`{"model":["a"]}`, "'model' must be a string", "model", 9},
		{`{"model":[1,]}`, "invalid JSON at byte 12: unexpected ']'", "", 12},
		{`{"model":"a","model":"b"}`, "duplicate parameter 'model' in request body", "model", 13},
		{`{"model":"a","mod\u0065l":"b"}`, "duplicate parameter 'model' in request body", "model", 13},
		{`{"model":"a","MODEL":"b"}`, `unsupported parameter "MODEL" (parameter names are case-sensitive; did you mean 'model'?)`, "MODEL", 13},
		{`{"Stream":true}`, `unsupported parameter "Stream" (parameter names are case-sensitive; did you mean 'stream'?)`, "Stream", 1},
		{`{"ſtream":true}`, `unsupported parameter "ſtream" (parameter names are case-sensitive; did you mean 'stream'?)`, "ſtream", 1},
		{`{"max_completion_toKens":1}`, `unsupported parameter "max_completion_toKens" (parameter names are case-sensitive; did you mean 'max_completion_tokens'?)`, "max_completion_toKens", 1},
		{`{"stream":true,"stream":false}`, "duplicate parameter 'stream' in request body", "stream", 15},
		{`{"max_tokens":1,"max_tokens":2}`, "duplicate parameter 'max_tokens' in request body", "max_tokens", 16},
		{`{"stream":"true"}`, "'stream' must be a boolean", "stream", 10},
		{`{"stream":1}`, "'stream' must be a boolean", "stream", 10},
		{`{"stream_options":true}`, "'stream_options' must be an object", "stream_options", 18},
		{`{"stream_options":{"include_usage":"yes"}}`, "'stream_options.include_usage' must be a boolean", "stream_options.include_usage", 35},
		{`{"stream_options":{"include_usage":true,"include_usage":false}}`, "duplicate parameter 'stream_options.include_usage' in request body", "stream_options.include_usage", 40},
		{`{"max_tokens":"100"}`, "'max_tokens' must be an integer", "max_tokens", 14},
		{`{"max_tokens":1.5}`, "'max_tokens' must be an integer", "max_tokens", 14},
		{`{"max_tokens":1.5e0}`, "'max_tokens' must be an integer", "max_tokens", 14},
		{`{"max_tokens":15e-1}`, "'max_tokens' must be an integer", "max_tokens", 14},
		{`{"max_tokens":1e-99999999999}`, "'max_tokens' must be an integer", "max_tokens", 14},
		{`{"max_tokens":-1e3}`, "'max_tokens' must not be negative", "max_tokens", 14},
		{`{"max_tokens":-1e999}`, "'max_tokens' must not be negative", "max_tokens", 14},
		{`{"max_tokens":1e10}`, "'max_tokens' is too large (at most 2147483647)", "max_tokens", 14},
		{`{"max_tokens":1e99999999999}`, "'max_tokens' is too large (at most 2147483647)", "max_tokens", 14},
		{`{"max_tokens":-1}`, "'max_tokens' must not be negative", "max_tokens", 14},
		{`{"max_tokens":2147483648}`, "'max_tokens' is too large (at most 2147483647)", "max_tokens", 14},
		{`{"max_tokens":99999999999999999999999}`, "'max_tokens' is too large (at most 2147483647)", "max_tokens", 14},
		{`{"max_completion_tokens":true}`, "'max_completion_tokens' must be an integer", "max_completion_tokens", 25},
		{`{"n":[]}`, "'n' must be an integer", "n", 5},
		{`{"user":5}`, "'user' must be a string", "user", 8},
		{`{"metadata":[]}`, "'metadata' must be an object", "metadata", 12},
		{`{"metadata":{"tags":"a"}}`, "'metadata.tags' must be an array of strings", "metadata.tags", 20},
		{`{"metadata":{"tags":["a",1]}}`, "'metadata.tags' must be an array of strings", "metadata.tags", 25},
		{`{"metadata":{"tags":[],"tags":[]}}`, "duplicate parameter 'metadata.tags' in request body", "metadata.tags", 23},
		{`{"messages":{}}`, "'messages' must be an array", "messages", 12},
		{`{"messages":"hi"}`, "'messages' must be an array", "messages", 12},
	}
	for _, tt := range tests {
		var e Envelope
		err := ParseEnvelope([]byte(tt.body), &e)
		var re *RequestError
		if !errors.As(err, &re) {
			t.Errorf("ParseEnvelope(%q) = %v, want a *RequestError", tt.body, err)
			continue
		}
		if re.Message != tt.msg || re.Param != tt.param || re.Offset != tt.offset {
			t.Errorf("ParseEnvelope(%q)\n got %q param %q offset %d\nwant %q param %q offset %d", tt.body, re.Message, re.Param, re.Offset, tt.msg, tt.param, tt.offset)
		}
		if re.Error() != re.Message {
			t.Errorf("Error() = %q", re.Error())
		}
	}
}

// TestAgreesWithEncodingJSON runs a catalogue of JSON edge cases (in the
// spirit of JSONTestSuite) as the value of a member and checks that
// ParseEnvelope accepts exactly what encoding/json accepts, except where
// it is deliberately stricter: invalid UTF-8 and unpaired surrogates.
func TestAgreesWithEncodingJSON(t *testing.T) {
	values := []string{
		`0`, `-0`, `1`, `-1`, `1.5`, `-1.5e-10`, `1E+2`, `1e2`, `0.0`, `123456789012345678901234567890`, `1e999`,
		`01`, `-`, `--1`, `1.`, `.1`, `1e`, `1e+`, `+1`, `0x1`, `1_000`, `Infinity`, `NaN`, `- 1`, `1 2`,
		`""`, `"a"`, `"\""`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\u0000"`, `"\uFFFF"`, `"\uD834\uDD1E"`, `"\u00e9"`,
		`"\a"`, `"\u"`, `"\u00"`, `"\U0041"`, `"\'"`, `"a` + "\t" + `"`, `"a` + "\x7f" + `"`, `'a'`, `"`,
		`true`, `false`, `null`, `tru`, `nulll`, `True`, `NULL`,
		`[]`, `[1]`, `[1,2]`, `[ ]`, `[,]`, `[1,]`, `[,1]`, `[1 2]`, `[[]]`, `[`, `]`, `[}`,
		`{}`, `{"a":1}`, `{"a":1,"b":2}`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`, `{1:1}`, `{"a" "b"}`, `{"a":1 "b":2}`,
		`{"a":{"b":{"c":[{"d":null}]}}}`, `{"a":1}}`, `{"a":[}`,
		"\"\u2028\u2029\"", "\"日本語\"", "\"😀\"",
	}
	for _, v := range values {
		body := `{"x":` + v + `,"model":"m"}`
		var e Envelope
		ours := ParseEnvelope([]byte(body), &e) == nil
		theirs := json.Valid([]byte(body))
		if ours != theirs {
			t.Errorf("%s: ParseEnvelope accepts=%v, encoding/json accepts=%v", body, ours, theirs)
		}
	}
	stricter := []string{`"\ud800"`, `"\udc00"`, `"\ud800\ud800"`, "\"\xff\"", "\"\xed\xa0\x80\""}
	for _, v := range stricter {
		body := `{"x":` + v + `}`
		var e Envelope
		if ParseEnvelope([]byte(body), &e) == nil {
			t.Errorf("%s: accepted", body)
		}
	}
}

// TestEnvelopeReuse: a reused Envelope is fully reset, and the strings it
// hands out stay valid after the body is overwritten.
func TestEnvelopeReuse(t *testing.T) {
	var e Envelope
	body := []byte(`{"model":"first","stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"n":2,"user":"u","metadata":{"tags":["t"]}}`)
	if err := ParseEnvelope(body, &e); err != nil {
		t.Fatal(err)
	}
	model, user, tags := e.Model, e.User, e.Tags
	for i := range body {
		body[i] = 'X'
	}
	if model != "first" || user != "u" || tags[0] != "t" {
		t.Fatalf("strings alias the body: %q %q %q", model, user, tags)
	}
	if err := ParseEnvelope([]byte(`{"messages":[]}`), &e); err != nil {
		t.Fatal(err)
	}
	if got := fieldsOf(&e); !reflect.DeepEqual(got, fields{}) {
		t.Fatalf("not reset: %+v", got)
	}
	// An error leaves no stale model that a caller might trust.
	if err := ParseEnvelope([]byte(`{"model":"x","stream":true,"n":[]}`), &e); err == nil {
		t.Fatal("no error")
	}
	if got := fieldsOf(&e); !reflect.DeepEqual(got, fields{}) {
		t.Fatalf("not reset after an error: %+v", got)
	}
}

// TestParseEnvelopeAllocs pins the allocation counts the hot path relies
// on.
func TestParseEnvelopeAllocs(t *testing.T) {
	body := readRequest(t, "chat_1k.json")
	var e Envelope
	if n := testing.AllocsPerRun(100, func() {
		if err := ParseEnvelope(body, &e); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("reused Envelope: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		var e Envelope
		if err := ParseEnvelope(body, &e); err != nil {
			t.Fatal(err)
		}
	}); n > 2 {
		t.Errorf("fresh Envelope: %v allocs, want <= 2 (model and user strings)", n)
	}
}

func TestValid(t *testing.T) {
	for doc, want := range map[string]bool{
		`{}`: true, ` {"a":[1,2.5e3,"x\u00e9",true,null]} `: true, `"s"`: true, `0`: true, `[]`: true,
		``: false, ` `: false, `{`: false, `{"a":1,}`: false, `{} {}`: false, `{}x`: false, `01`: false,
		"\"\xff\"": false, `"\ud800"`: false, `{"a":"\x"}`: false,
		strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth):     true,
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1): false,
	} {
		if got := Valid([]byte(doc)); got != want {
			t.Errorf("Valid(%.40q) = %v, want %v", doc, got, want)
		}
		if want && !json.Valid([]byte(doc)) {
			t.Errorf("encoding/json refuses %.40q", doc)
		}
	}
}
