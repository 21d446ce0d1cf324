package openai

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

func addRequestSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "requests", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{}`, `{"model":"a","stream":true,"stream_options":null}`,
		`{"stream":true,"stream_options":{"include_usage":false,"x":1}}`,
		`{"stream":true,"stream_options":{ }, "model" : "x" }`,
		`{"mod\u0065l":"a","messages":[{"role":"user","content":"\ud83d\ude00"}]}`,
		`{"model":"a","MODEL":"b"}`, `{"max_tokens":1.0,"n":-0}`, `{"n":2.50e1}`, `[1,2]`, `{"a":01}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzParseEnvelope: never panics; accepts only what encoding/json also
// accepts (and only UTF-8); rejects everything encoding/json rejects; and
// the patched body of an accepted request is valid JSON with the new
// model, forced usage, and every other member unchanged.
func FuzzParseEnvelope(f *testing.F) {
	addRequestSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var e Envelope
		err := ParseEnvelope(body, &e)
		valid := json.Valid(body)
		if err != nil {
			if _, ok := err.(*RequestError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted what encoding/json rejects: %q", body)
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted invalid UTF-8: %q", body)
		}
		// The extracted fields agree with encoding/json.
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if raw, ok := top["model"]; ok {
			var m string
			if json.Unmarshal(raw, &m) != nil || m != e.Model || !e.HasModel {
				t.Fatalf("model %q, encoding/json %s", e.Model, raw)
			}
		} else if e.HasModel {
			t.Fatalf("model %q found, encoding/json sees none", e.Model)
		}
		if raw, ok := top["stream"]; ok {
			var s *bool
			_ = json.Unmarshal(raw, &s)
			if (s != nil && *s) != e.Stream {
				t.Fatalf("stream %v, encoding/json %s", e.Stream, raw)
			}
		}
		if raw, ok := top["n"]; ok && string(raw) != "null" {
			var f float64
			if json.Unmarshal(raw, &f) != nil || f != float64(e.N) {
				t.Fatalf("n %d, encoding/json %s", e.N, raw)
			}
		}
		for _, model := range []string{"gpt-4o", "", "é\"\\\n\u2028😀"} {
			for _, force := range []bool{false, true} {
				out := e.AppendPatched(nil, body, model, force)
				checkPatched(t, body, out, &e, model, force)
				// The patched body parses again, to the new model.
				var e2 Envelope
				if err := ParseEnvelope(out, &e2); err != nil {
					t.Fatalf("patched body rejected: %v\n%s", err, out)
				}
				if e2.Model != model || force && e.Stream && !e2.IncludeUsage {
					t.Fatalf("patched body reads model %q include_usage %v", e2.Model, e2.IncludeUsage)
				}
			}
		}
	})
}

// FuzzScanChunk: no panic on anything, and a usage that ScanUsage finds
// in a valid object matches what encoding/json sees.
func FuzzScanChunk(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "streams", "*.sse"))
	for _, file := range files {
		for _, p := range streamPayloads(f, filepath.Base(file)) {
			f.Add(p)
		}
	}
	f.Add([]byte(`{"usage":{"prompt_tokens":1.5e2,"completion_tokens":-1,"prompt_tokens_details":{"cached_tokens":null}}}`))
	f.Add([]byte(`{"choices":[{"finish_reason":"stop"},{]],"x_groq":{"usage":{"total_tokens":3}}}`))
	f.Fuzz(func(t *testing.T, obj []byte) {
		ci := ScanChunk(obj)
		u, ok := ScanUsage(obj)
		if ok != ci.HasUsage || u != ci.Usage {
			t.Fatalf("ScanUsage %+v %v, ScanChunk %+v", u, ok, ci)
		}
		if !json.Valid(obj) {
			return
		}
		// Compare with encoding/json on valid objects whose member names
		// are unique and unescaped (ScanChunk matches names as raw bytes).
		var top map[string]json.RawMessage
		if json.Unmarshal(obj, &top) != nil || bytes.IndexByte(obj, '\\') >= 0 || hasDuplicateKeys(obj) {
			return
		}
		if raw, ok := top["choices"]; ok {
			var choices []json.RawMessage
			if json.Unmarshal(raw, &choices) == nil && choices != nil && ci.EmptyChoices != (len(choices) == 0) {
				t.Fatalf("EmptyChoices %v for %s", ci.EmptyChoices, raw)
			}
		}
		if raw, ok := top["error"]; ok && ci.IsError != (string(raw) != "null") {
			t.Fatalf("IsError %v for %s", ci.IsError, raw)
		}
		if raw, ok := top["usage"]; ok && raw[0] == '{' {
			var fields map[string]json.RawMessage
			if json.Unmarshal(raw, &fields) != nil || hasDuplicateKeys(raw) {
				return
			}
			if !ci.HasUsage {
				t.Fatalf("usage %s not found", raw)
			}
			var pt int64
			if json.Unmarshal(fields["prompt_tokens"], &pt) == nil && pt >= 0 && pt != ci.Usage.PromptTokens {
				t.Fatalf("prompt_tokens %d, encoding/json %d", ci.Usage.PromptTokens, pt)
			}
		}
	})
}

// hasDuplicateKeys reports whether the top-level object repeats a key,
// which makes "what encoding/json sees" (the last one) and "what a
// one-pass scan sees" legitimately differ.
func hasDuplicateKeys(obj []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		k, _ := t.(string)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

// FuzzValid: Valid accepts only what encoding/json accepts, only UTF-8,
// and every body the envelope parser accepts.
func FuzzValid(f *testing.F) {
	addRequestSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		valid := Valid(b)
		if valid && (!json.Valid(b) || !utf8.Valid(b)) {
			t.Fatalf("Valid accepts %q", b)
		}
		var e Envelope
		if ParseEnvelope(b, &e) == nil && !valid {
			t.Fatalf("Valid refuses a body the envelope parser accepts: %q", b)
		}
	})
}
