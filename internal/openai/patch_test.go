package openai

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/patch")

func TestAppendPatched(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		model      string
		forceUsage bool
		want       string
	}{
		{"replace model", `{"model":"smart","messages":[]}`, "gpt-4o", false,
			`{"model":"gpt-4o","messages":[]}`},
		{"replace model, not streaming, force ignored", `{"model":"smart","stream":false}`, "gpt-4o", true,
			`{"model":"gpt-4o","stream":false}`},
		{"model last", `{"messages":[],"model":"smart"}`, "x", false,
			`{"messages":[],"model":"x"}`},
		{"insert model", `{"messages":[]}`, "gpt-4o", false,
			`{"model":"gpt-4o","messages":[]}`},
		{"insert model into empty object", `{}`, "gpt-4o", false,
			`{"model":"gpt-4o"}`},
		{"insert model, whitespace", " { \n \"messages\" : [] } ", "m", false,
			` {"model":"m", ` + "\n" + ` "messages" : [] } `},
		{"model needs escaping", `{"model":"a"}`, "we\"ird\\\n\u2028\x01", false,
			`{"model":"we\"ird\\\n\u2028\u0001"}`},
		{"unicode model", `{"model":"a"}`, "模型/😀-é", false,
			`{"model":"模型/😀-é"}`},
		{"escaped model replaced", `{"mod\u0065l":"\u0061\ud83d\ude00","stream":true}`, "b", false,
			`{"mod\u0065l":"b","stream":true}`},
		{"no stream_options", `{"model":"a","stream":true}`, "b", true,
			`{"model":"b","stream":true,"stream_options":{"include_usage":true}}`},
		{"no stream_options, not forced", `{"model":"a","stream":true}`, "b", false,
			`{"model":"b","stream":true}`},
		{"no stream_options, no model", `{"stream":true}`, "b", true,
			`{"model":"b","stream":true,"stream_options":{"include_usage":true}}`},
		{"no stream_options, pretty", "{\n  \"model\": \"a\",\n  \"stream\": true\n}\n", "b", true,
			"{\n  \"model\": \"b\",\n  \"stream\": true,\"stream_options\":{\"include_usage\":true}\n}\n"},
		{"stream_options empty", `{"model":"a","stream":true,"stream_options":{}}`, "b", true,
			`{"model":"b","stream":true,"stream_options":{"include_usage":true}}`},
		{"stream_options empty with space", `{"model":"a","stream":true,"stream_options":{ }}`, "b", true,
			`{"model":"b","stream":true,"stream_options":{"include_usage":true }}`},
		{"stream_options without include_usage", `{"stream_options":{"include_obfuscation":false},"model":"a","stream":true}`, "b", true,
			`{"stream_options":{"include_usage":true,"include_obfuscation":false},"model":"b","stream":true}`},
		{"include_usage false", `{"model":"a","stream":true,"stream_options":{"include_usage":false}}`, "b", true,
			`{"model":"b","stream":true,"stream_options":{"include_usage":true}}`},
		{"include_usage null", `{"model":"a","stream":true,"stream_options":{"x":1,"include_usage" : null}}`, "b", true,
			`{"model":"b","stream":true,"stream_options":{"x":1,"include_usage" : true}}`},
		{"include_usage true unchanged", `{"model":"a","stream":true,"stream_options":{"include_usage":true}}`, "b", true,
			`{"model":"b","stream":true,"stream_options":{"include_usage":true}}`},
		{"stream_options null", `{"model":"a","stream":true,"stream_options":null}`, "b", true,
			`{"model":"b","stream":true,"stream_options":{"include_usage":true}}`},
		{"stream_options before model", `{"stream_options":null,"stream":true,"model":"a"}`, "bb", true,
			`{"stream_options":{"include_usage":true},"stream":true,"model":"bb"}`},
		{"stream_options before inserted model", `{"stream_options":{},"stream":true}`, "m", true,
			`{"model":"m","stream_options":{"include_usage":true},"stream":true}`},
		{"nested decoys untouched", `{"x":{"model":"no","stream_options":null},"model":"a","stream":true}`, "b", true,
			`{"x":{"model":"no","stream_options":null},"model":"b","stream":true,"stream_options":{"include_usage":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Envelope
			if err := ParseEnvelope([]byte(tt.body), &e); err != nil {
				t.Fatal(err)
			}
			got := e.AppendPatched([]byte("prefix:"), []byte(tt.body), tt.model, tt.forceUsage)
			if string(got) != "prefix:"+tt.want {
				t.Fatalf("\n got %s\nwant %s", got[len("prefix:"):], tt.want)
			}
			checkPatched(t, []byte(tt.body), got[len("prefix:"):], &e, tt.model, tt.forceUsage)
		})
	}
}

// TestAppendPatchedGolden patches the request files; the expected outputs
// live in testdata/patch (regenerate with -update and review the diff).
func TestAppendPatchedGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "requests", "*.json"))
	for _, f := range files {
		name := filepath.Base(f)
		body := readRequest(t, name)
		var e Envelope
		if err := ParseEnvelope(body, &e); err != nil {
			t.Fatal(err)
		}
		got := e.AppendPatched(nil, body, "deployment-Ω/\"v2\"", true)
		checkPatched(t, body, got, &e, "deployment-Ω/\"v2\"", true)
		golden := filepath.Join("testdata", "patch", strings.TrimSuffix(name, ".json")+".patched.json")
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: patched body differs from %s", name, golden)
		}
	}
}

func TestAppendPatchedAllocs(t *testing.T) {
	body := readRequest(t, "chat_1k.json")
	var e Envelope
	if err := ParseEnvelope(body, &e); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 2*len(body))
	if n := testing.AllocsPerRun(100, func() {
		dst = e.AppendPatched(dst[:0], body, "gpt-4o-mini-2024-07-18", true)
	}); n != 0 {
		t.Errorf("%v allocs, want 0", n)
	}
}

func TestAppendPatchedMismatchPanics(t *testing.T) {
	var e Envelope
	if err := ParseEnvelope([]byte(`{"model":"a"}`), &e); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	e.AppendPatched(nil, []byte(`{"model":"ab"}`), "x", false)
}

// checkPatched verifies a patched body through encoding/json: valid JSON,
// the new model, include_usage true when it had to be forced, and every
// other top-level member unchanged.
func checkPatched(t testing.TB, body, out []byte, e *Envelope, model string, forceUsage bool) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("patched body is not valid JSON: %s", out)
	}
	var before, after map[string]json.RawMessage
	if err := json.Unmarshal(body, &before); err != nil {
		t.Fatalf("original: %v", err)
	}
	if err := json.Unmarshal(out, &after); err != nil {
		t.Fatalf("patched: %v", err)
	}
	var gotModel string
	if err := json.Unmarshal(after["model"], &gotModel); err != nil || gotModel != strings.ToValidUTF8(model, "\uFFFD") {
		t.Fatalf("model = %s (%v), want %q", after["model"], err, model)
	}
	forced := forceUsage && e.Stream
	if forced {
		var so struct {
			IncludeUsage *bool `json:"include_usage"`
		}
		if err := json.Unmarshal(after["stream_options"], &so); err != nil || so.IncludeUsage == nil || !*so.IncludeUsage {
			t.Fatalf("stream_options = %s (%v), want include_usage true", after["stream_options"], err)
		}
		var soBefore, soAfter map[string]json.RawMessage
		_ = json.Unmarshal(before["stream_options"], &soBefore)
		_ = json.Unmarshal(after["stream_options"], &soAfter)
		for k, v := range soBefore {
			if k != "include_usage" && !bytes.Equal(v, soAfter[k]) {
				t.Fatalf("stream_options.%s changed: %s -> %s", k, v, soAfter[k])
			}
		}
	}
	for k, v := range before {
		if k == "model" || forced && k == "stream_options" {
			continue
		}
		if !bytes.Equal(v, after[k]) {
			t.Fatalf("member %q changed: %s -> %s", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok && k != "model" && !(forced && k == "stream_options") {
			t.Fatalf("member %q added", k)
		}
	}
}
