package cohere

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/provider/providertest"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// fixedNow makes "created" reproducible in golden files.
func fixedNow() time.Time { return time.Unix(1741570000, 0) }

func noEnv(string) (string, bool) { return "", false }

func newTestProvider(t testing.TB) providertest.Prepare {
	client := upstream.New(upstream.Options{})
	t.Cleanup(client.Close)
	return func(d *provider.Deployment) (provider.Provider, error) {
		if err := Prepare(d, noEnv); err != nil {
			return nil, err
		}
		return provider.NewHTTP(d.Provider, client, Codec{Now: fixedNow}, Ops...), nil
	}
}

// TestGolden replays every case through a fake Cohere: what Cohere receives
// and what the client gets back must match the recorded files byte for byte.
func TestGolden(t *testing.T) {
	providertest.RunGolden(t, "testdata/golden", newTestProvider(t))
}

// TestRejected covers requests refused before anything is sent: the client
// gets the error in error.json, and Cohere receives nothing.
func TestRejected(t *testing.T) {
	prepare := newTestProvider(t)
	dirs, _ := filepath.Glob("testdata/rejected/*")
	if len(dirs) == 0 {
		t.Fatal("no rejected cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var m providertest.Meta
			if err := json.Unmarshal(mustRead(t, dir, "case.json"), &m); err != nil {
				t.Fatal(err)
			}
			up := providertest.NewUpstream(t, providertest.Reply{Body: []byte(`{}`)})
			d := &provider.Deployment{ID: "dep-1", ModelName: m.ClientModel, Provider: m.Provider, Model: m.Model,
				APIBase: up.URL, APIKey: provider.Secret(m.APIKey), DropParams: m.DropParams}
			p, err := prepare(d)
			if err != nil {
				t.Fatal(err)
			}
			c := &provider.Call{Op: ops[m.Op], Deployment: d, ClientModel: m.ClientModel, Body: mustRead(t, dir, "request.json"), Envelope: &openai.Envelope{}}
			if err := openai.ParseEnvelope(c.Body, c.Envelope); err != nil {
				t.Fatal(err)
			}
			err = p.Send(context.Background(), c, &provider.Result{})
			if err == nil {
				t.Fatal("request was not refused")
			}
			if n := len(up.Requests()); n != 0 {
				t.Errorf("Cohere received %d requests for a refused one", n)
			}
			checkFile(t, dir, "error.json", renderError(err))
		})
	}
}

var ops = map[string]provider.Op{"": provider.OpChat, "chat": provider.OpChat, "embedding": provider.OpEmbedding, "rerank": provider.OpRerank}

func mustRead(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// renderError shows an error as providertest's golden error.json does.
func renderError(err error) []byte {
	e := provider.AsError(err)
	b, _ := json.MarshalIndent(map[string]any{
		"status": e.Status, "type": e.Type, "code": e.Code, "param": e.Param, "message": e.Message,
		"retryable": e.Retryable, "retry_after_seconds": e.RetryAfter.Seconds(), "may_have_been_sent": e.MayHaveBeenSent,
	}, "", "  ")
	return append(b, '\n')
}

// checkFile compares with a golden file, or rewrites it under providertest's
// -update flag.
func checkFile(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s missing (run with -update to create it): got\n%s", name, got)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestPrepare(t *testing.T) {
	env := map[string]string{"CO_API_KEY": "co-from-env", "CO_API_URL": "https://proxy.example/cohere/v1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct {
		base, want string
		lookup     func(string) (string, bool)
		wantErr    bool
	}{
		{base: "", lookup: noEnv, want: "https://api.cohere.com/v2/chat"},
		{base: "", lookup: lookup, want: "https://proxy.example/cohere/v2/chat"},
		{base: "https://api.cohere.ai/v1/chat", lookup: lookup, want: "https://api.cohere.ai/v2/chat"},
		{base: "https://api.cohere.com/v2/rerank/", lookup: noEnv, want: "https://api.cohere.com/v2/chat"},
		{base: "http://gw.internal:8080/cohere", lookup: noEnv, want: "http://gw.internal:8080/cohere/v2/chat"},
		{base: "https://host/chat", lookup: noEnv, want: "https://host/chat/v2/chat"},
		{base: "ftp://x", lookup: noEnv, wantErr: true},
	} {
		d := &provider.Deployment{APIBase: tc.base, Model: "command-a-03-2025"}
		err := Prepare(d, tc.lookup)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: err = %v", tc.base, err)
			continue
		}
		if err == nil {
			if got := d.Private.(*prepared).chatURL; got != tc.want {
				t.Errorf("%q: chat URL %q, want %q", tc.base, got, tc.want)
			}
		}
	}
	d := &provider.Deployment{}
	env["COHERE_API_KEY"] = "co-first"
	_ = Prepare(d, lookup)
	if d.APIKey.Reveal() != "co-first" {
		t.Errorf("key %q: COHERE_API_KEY should win over CO_API_KEY", d.APIKey.Reveal())
	}
	d = &provider.Deployment{APIKey: "co-configured"}
	_ = Prepare(d, lookup)
	if d.APIKey.Reveal() != "co-configured" {
		t.Errorf("the deployment's key was replaced")
	}
}

func TestFinishReason(t *testing.T) {
	for _, tc := range []struct {
		in    string
		tools bool
		want  string
	}{
		{"COMPLETE", false, "stop"}, {"STOP_SEQUENCE", false, "stop"}, {"MAX_TOKENS", false, "length"},
		{"TOOL_CALL", false, "tool_calls"}, {"COMPLETE", true, "tool_calls"}, {"MAX_TOKENS", true, "length"},
		{"ERROR_TOXIC", false, "content_filter"}, {"ERROR_LIMIT", false, "length"}, {"SOMETHING_NEW", false, "stop"},
	} {
		if got := finishReason(tc.in, tc.tools); got != tc.want {
			t.Errorf("finishReason(%s, %v) = %s, want %s", tc.in, tc.tools, got, tc.want)
		}
	}
}

// TestBase64Embedding decodes what the gateway writes the way the OpenAI
// SDKs do (little-endian float32) and compares with Cohere's floats.
func TestBase64Embedding(t *testing.T) {
	out, _, err := appendBase64(nil, nil, []byte("[\n 0.5, -1.25,\n 3e-2 ]"))
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	if want := "AAAAPwAAoL+PwvU8"; s != want {
		t.Errorf("base64 %s, want %s (0.5, -1.25, 0.03 as little-endian float32)", s, want)
	}
	if _, _, err := appendBase64(nil, nil, []byte(`[1, null]`)); err == nil {
		t.Error("a vector with null was accepted")
	}
}

// TestStreamToolIndexes: OpenAI tool indexes count calls in order of
// appearance, whatever Cohere's event index is, and a delta for a call
// never started is dropped rather than attributed to another.
func TestStreamToolIndexes(t *testing.T) {
	c := &provider.Call{Op: provider.OpChat, ClientModel: "m", Envelope: &openai.Envelope{Stream: true}, Deployment: &provider.Deployment{Provider: "cohere"}}
	dec := Codec{Now: fixedNow}.NewStreamDecoder(c)
	events := []string{
		`{"type":"message-start","id":"x"}`,
		`{"type":"tool-call-start","index":5,"delta":{"message":{"tool_calls":{"id":"a","type":"function","function":{"name":"f","arguments":""}}}}}`,
		`{"type":"tool-call-start","index":2,"delta":{"message":{"tool_calls":{"id":"b","type":"function","function":{"name":"g","arguments":""}}}}}`,
		`{"type":"tool-call-delta","index":2,"delta":{"message":{"tool_calls":{"function":{"arguments":"{\"b\":1}"}}}}}`,
		`{"type":"tool-call-delta","index":9,"delta":{"message":{"tool_calls":{"function":{"arguments":"lost"}}}}}`,
		`{"type":"tool-call-delta","index":5,"delta":{"message":{"tool_calls":{"function":{"arguments":"{\"a\":1}"}}}}}`,
		`{"type":"message-end","delta":{"finish_reason":"COMPLETE"}}`,
	}
	var out []byte
	for _, e := range events {
		var err error
		if out, _, err = dec.Event(sse.Event{Data: []byte(e)}, out); err != nil {
			t.Fatal(err)
		}
	}
	got := string(out)
	for _, want := range []string{
		`"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":""}}]`,
		`"tool_calls":[{"index":1,"id":"b","type":"function","function":{"name":"g","arguments":""}}]`,
		`"tool_calls":[{"index":1,"function":{"arguments":"{\"b\":1}"}}]`,
		`"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]`,
		`"finish_reason":"tool_calls"`,
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	if bytes.Contains(out, []byte("lost")) {
		t.Errorf("arguments of an unknown call were sent:\n%s", got)
	}
}

// FuzzStreamDecoder feeds arbitrary SSE to the decoder: it must not panic,
// every data payload but [DONE] must be JSON, and usage never decreases.
func FuzzStreamDecoder(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*/upstream_response.sse")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, stream []byte, wantUsage bool) {
		c := &provider.Call{Op: provider.OpChat, ClientModel: "client-model", Envelope: &openai.Envelope{Stream: true, IncludeUsage: wantUsage},
			Deployment: &provider.Deployment{Provider: "cohere", APIKey: "co-secret-key"}}
		dec := Codec{Now: fixedNow}.NewStreamDecoder(c)
		r := sse.NewReader(bytes.NewReader(stream), 0)
		var out []byte
		var last int64
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			n := len(out)
			var done bool
			out, done, err = dec.Event(ev, out)
			checkEvents(t, out[n:])
			if u := dec.Usage().TotalTokens; u < last {
				t.Fatalf("usage decreased from %d to %d", last, u)
			} else {
				last = u
			}
			if done {
				if !bytes.HasSuffix(out, []byte("data: [DONE]\n\n")) {
					t.Fatalf("done without [DONE]: %q", out[n:])
				}
				break
			}
			if err != nil {
				if _, ok := err.(*provider.Error); !ok {
					t.Fatalf("error %T is not a *provider.Error", err)
				}
				break
			}
		}
	})
}

// checkEvents asserts that b is whole SSE events whose payloads are JSON.
func checkEvents(t *testing.T, b []byte) {
	t.Helper()
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\n\n"))
		if i < 0 {
			t.Fatalf("event not framed: %q", b)
		}
		ev := b[:i]
		b = b[i+2:]
		data, ok := bytes.CutPrefix(ev, []byte("data: "))
		if !ok || bytes.IndexByte(data, '\n') >= 0 {
			t.Fatalf("not a single data line: %q", ev)
		}
		if string(data) != "[DONE]" && !json.Valid(data) {
			t.Fatalf("payload is not JSON: %q", data)
		}
	}
}

const benchRequest = `{"model":"command","messages":[` +
	`{"role":"system","content":"You are a helpful assistant. Answer briefly and cite the tools you used."},` +
	`{"role":"user","content":"What's the weather like in Paris today?"},` +
	`{"role":"assistant","content":"Let me check that for you. Which unit do you prefer, Celsius or Fahrenheit?"},` +
	`{"role":"user","content":"Celsius, please. And tell me if I need an umbrella."}],` +
	`"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the current weather for a city",` +
	`"parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}}}],` +
	`"temperature":0.3,"max_tokens":256}`

const benchResponse = `{"id":"c14c80c3-18eb-4519-9460-6c92edd8cfb4","message":{"role":"assistant","content":[{"type":"text",` +
	`"text":"It is 18°C and cloudy in Paris, with light rain expected this afternoon: take an umbrella."}]},` +
	`"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":62,"output_tokens":21},"tokens":{"input_tokens":1004,"output_tokens":21}}}`

// BenchmarkTranslateChat is one non-streamed chat's translation cost:
// building Cohere's request and writing the OpenAI answer.
func BenchmarkTranslateChat(b *testing.B) {
	d := &provider.Deployment{Provider: "cohere", Model: "command-a-03-2025", APIKey: "co-bench"}
	if err := Prepare(d, noEnv); err != nil {
		b.Fatal(err)
	}
	body := []byte(benchRequest)
	env := &openai.Envelope{}
	if err := openai.ParseEnvelope(body, env); err != nil {
		b.Fatal(err)
	}
	c := &provider.Call{Op: provider.OpChat, Deployment: d, Body: body, Envelope: env, ClientModel: "command"}
	codec := Codec{Now: fixedNow}
	resp := []byte(benchResponse)
	b.ReportAllocs()
	for b.Loop() {
		req := upstream.AcquireRequest()
		if err := codec.BuildRequest(c, req); err != nil {
			b.Fatal(err)
		}
		upstream.ReleaseRequest(req)
		if _, _, err := codec.DecodeBody(c, resp, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEvent is the per-event cost of a streamed text delta.
func BenchmarkStreamEvent(b *testing.B) {
	c := &provider.Call{Op: provider.OpChat, ClientModel: "command", Envelope: &openai.Envelope{Stream: true, IncludeUsage: true}, Deployment: &provider.Deployment{Provider: "cohere"}}
	dec := Codec{Now: fixedNow}.NewStreamDecoder(c)
	out := make([]byte, 0, 1024)
	out, _, _ = dec.Event(sse.Event{Name: []byte("message-start"), Data: []byte(`{"type":"message-start","id":"29f14a5a-11de-4cae-9800-25e4747408ea","delta":{"message":{"role":"assistant"}}}`)}, out)
	ev := sse.Event{Name: []byte("content-delta"), Data: []byte(`{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":" Language"}}}}`)}
	b.ReportAllocs()
	b.SetBytes(int64(len(ev.Data)))
	for b.Loop() {
		var err error
		if out, _, err = dec.Event(ev, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzBuildRequest: whatever valid request a client sends, the native
// request is valid JSON or the call is refused (raw values are copied, so
// a slip in the copying would show here).
func FuzzBuildRequest(f *testing.F) {
	for _, pattern := range []string{"testdata/golden/*/request.json", "testdata/rejected/*/request.json"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			b, _ := os.ReadFile(file)
			f.Add(b, uint8(0))
			f.Add(b, uint8(1))
			f.Add(b, uint8(2))
		}
	}
	d := &provider.Deployment{Provider: "cohere", Model: "embed-v4.0", APIKey: "co-fuzz"}
	if err := Prepare(d, noEnv); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, op uint8) {
		env := &openai.Envelope{}
		if openai.ParseEnvelope(body, env) != nil {
			return
		}
		c := &provider.Call{Op: []provider.Op{provider.OpChat, provider.OpEmbedding, provider.OpRerank}[op%3], Deployment: d, Body: body, Envelope: env, ClientModel: "m"}
		req := upstream.AcquireRequest()
		defer upstream.ReleaseRequest(req)
		if err := (Codec{}).BuildRequest(c, req); err != nil {
			if _, ok := err.(*provider.Error); !ok {
				t.Fatalf("error %T is not a *provider.Error: %v", err, err)
			}
			return
		}
		if !json.Valid(req.Body) {
			t.Fatalf("invalid native request for %s:\n%s", body, req.Body)
		}
	})
}
