package openai

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain ascii text that is long enough for the 8-byte loop", `"plain ascii text that is long enough for the 8-byte loop"`},
		{`"\`, `"\"\\"`},
		{"\n\r\t\b\f\x00\x1f\x7f", `"\n\r\t\b\f\u0000\u001f` + "\x7f" + `"`},
		{"é模😀", `"é模😀"`},
		{"a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"a\xffb", `"a\ufffdb"`},
		{"\xe6\xa8", `"\ufffd\ufffd"`},           // truncated 3-byte sequence
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // encoded surrogate
		{"</script>&", `"</script>&"`},
		{"\uFFFD", "\"\uFFFD\""},
	}
	for _, tt := range tests {
		if got := string(AppendString([]byte("x"), tt.in)); got != "x"+tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got[1:], tt.want)
		}
	}
}

// toValid is what a JSON round trip of AppendString must give back: each
// byte that does not start a valid UTF-8 sequence becomes U+FFFD.
func toValid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

func randomString(rng *rand.Rand) string {
	pieces := []string{"a", "Z", " ", `"`, `\`, "/", "\n", "\r", "\t", "\x00", "\x01", "\x1f", "\x7f", "é", "模", "😀",
		"\u2028", "\u2029", "\xff", "\xc3", "\xe6\xa8", "\xed\xa0\x80", "\xf0\x9f", "<", "&", "\uFFFD", "abcdefgh"}
	var b strings.Builder
	for range rng.IntN(40) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

func TestAppendStringRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		s := randomString(rng)
		if rng.IntN(4) == 0 {
			raw := make([]byte, rng.IntN(30))
			for i := range raw {
				raw[i] = byte(rng.Uint32())
			}
			s = string(raw)
		}
		out := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, out, err)
		}
		if got != toValid(s) {
			t.Fatalf("AppendString(%q) = %s, decodes to %q", s, out, got)
		}
		if !utf8.Valid(out) || strings.ContainsAny(string(out), "\u2028\u2029") {
			t.Fatalf("AppendString(%q) = %q", s, out)
		}
	}
}

func TestErrorAppendJSON(t *testing.T) {
	e := &Error{Status: 404, Message: "The model `gpt-5` does not exist", Type: "invalid_request_error", Code: "model_not_found"}
	want := `{"error":{"message":"The model ` + "`gpt-5`" + ` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}`
	if got := string(e.AppendJSON(nil)); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if e.Error() != e.Message {
		t.Fatalf("Error() = %q", e.Error())
	}

	rng := rand.New(rand.NewPCG(9, 10))
	for range 5000 {
		e := &Error{Message: randomString(rng), Type: randomString(rng), Param: randomString(rng), Code: randomString(rng)}
		out := e.AppendJSON(nil)
		var got struct {
			Error struct {
				Message *string `json:"message"`
				Type    *string `json:"type"`
				Param   *string `json:"param"`
				Code    *string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		check := func(name string, p *string, want string, nullable bool) {
			switch {
			case nullable && want == "":
				if p != nil {
					t.Fatalf("%s: %s = %q, want null", out, name, *p)
				}
			case p == nil || *p != toValid(want):
				t.Fatalf("%s: %s wrong, want %q", out, name, want)
			}
		}
		check("message", got.Error.Message, e.Message, false)
		check("type", got.Error.Type, e.Type, false)
		check("param", got.Error.Param, e.Param, true)
		check("code", got.Error.Code, e.Code, true)
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	e := &Error{Message: "Rate limit reached for key sk-...abc: 60 requests per minute", Type: "rate_limit_error", Code: "rate_limit_exceeded"}
	dst := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { dst = e.AppendJSON(dst[:0]) }); n != 0 {
		t.Errorf("%v allocs, want 0", n)
	}
}
