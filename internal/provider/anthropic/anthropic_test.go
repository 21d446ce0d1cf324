package anthropic

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/provider/providertest"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// testCodec stamps a fixed "created" so golden files are stable.
var testCodec = Codec{now: func() time.Time { return time.Unix(1741570000, 0) }}

func newTestProvider(t testing.TB) func(d *provider.Deployment) (provider.Provider, error) {
	client := upstream.New(upstream.Options{})
	t.Cleanup(client.Close)
	return func(d *provider.Deployment) (provider.Provider, error) {
		if err := Prepare(d, func(string) (string, bool) { return "", false }); err != nil {
			return nil, err
		}
		return provider.NewHTTP("anthropic", client, testCodec, provider.OpChat), nil
	}
}

// TestGolden replays every testdata case through a fake Anthropic: what it
// receives and what the client gets back must match byte for byte.
func TestGolden(t *testing.T) {
	providertest.RunGolden(t, "testdata", newTestProvider(t))
}

// TestGoldenResponsesAreValid checks every expected client answer parses
// as what OpenAI SDKs read: JSON bodies, and SSE streams of JSON chunks
// ending in [DONE] or an error.
func TestGoldenResponsesAreValid(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/response.*")
	if len(files) == 0 {
		t.Fatal("no golden responses")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".json") {
			var r openai.ChatResponse
			if err := json.Unmarshal(b, &r); err != nil || r.Object != "chat.completion" || len(r.Choices) != 1 {
				t.Errorf("%s: not a chat.completion: %v", f, err)
			}
			continue
		}
		text, _, _ := strings.Cut(string(b), "error: ")
		r := sse.NewReader(strings.NewReader(text), 0)
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			if string(ev.Data) == "[DONE]" {
				continue
			}
			var c openai.ChatChunk
			if err := json.Unmarshal(ev.Data, &c); err != nil || c.Object != "chat.completion.chunk" || c.Model != "claude" {
				t.Errorf("%s: bad chunk %s: %v", f, ev.Data, err)
			}
		}
	}
}

func TestPrepare(t *testing.T) {
	env := map[string]string{"ANTHROPIC_API_KEY": "sk-ant-from-env", "ANTHROPIC_BASE_URL": "https://proxy.example.com/anthropic/"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct {
		d       provider.Deployment
		env     func(string) (string, bool)
		wantURL string
		wantErr bool
	}{
		{d: provider.Deployment{Model: "claude-3-5-haiku-latest"}, wantURL: "https://api.anthropic.com/v1/messages"},
		{d: provider.Deployment{Model: "m"}, env: lookup, wantURL: "https://proxy.example.com/anthropic/v1/messages"},
		{d: provider.Deployment{Model: "m", APIBase: "http://localhost:8080/v1/messages"}, env: lookup, wantURL: "http://localhost:8080/v1/messages"},
		{d: provider.Deployment{Model: "m", APIBase: "ftp://x"}, wantErr: true},
	} {
		d := tc.d
		err := Prepare(&d, tc.env)
		if (err != nil) != tc.wantErr {
			t.Errorf("%+v: err = %v", tc.d, err)
			continue
		}
		if err == nil && d.Private.(*prepared).url != tc.wantURL {
			t.Errorf("url = %q, want %q", d.Private.(*prepared).url, tc.wantURL)
		}
	}

	d := provider.Deployment{Model: "m", Headers: [][2]string{{"Anthropic-Version", "2023-01-01"}, {"anthropic-beta", "files-api-2025-04-14"}}}
	if err := Prepare(&d, lookup); err != nil {
		t.Fatal(err)
	}
	if d.APIKey.Reveal() != "sk-ant-from-env" {
		t.Errorf("key not taken from ANTHROPIC_API_KEY")
	}
	var versions []string
	for _, h := range d.Private.(*prepared).headers {
		if strings.EqualFold(h[0], "anthropic-version") {
			versions = append(versions, h[1])
		}
	}
	if len(versions) != 1 || versions[0] != "2023-01-01" {
		t.Errorf("anthropic-version headers = %v; an extra_headers entry must replace the default", versions)
	}
}

func testCall(t testing.TB, body string, drop bool) *provider.Call {
	t.Helper()
	d := &provider.Deployment{ID: "d", Provider: "anthropic", Model: "claude-sonnet-4-20250514", APIKey: "sk-ant-x", DropParams: drop}
	if err := Prepare(d, nil); err != nil {
		t.Fatal(err)
	}
	env := &openai.Envelope{}
	if err := openai.ParseEnvelope([]byte(body), env); err != nil {
		t.Fatal(err)
	}
	return &provider.Call{Op: provider.OpChat, Deployment: d, Body: []byte(body), Envelope: env, ClientModel: "claude"}
}

func build(t testing.TB, body string, drop bool) (string, *provider.Error) {
	t.Helper()
	req := &upstream.Request{}
	if err := testCodec.BuildRequest(testCall(t, body, drop), req); err != nil {
		return "", provider.AsError(err)
	}
	if !json.Valid(req.Body) {
		t.Fatalf("invalid upstream body: %s", req.Body)
	}
	return string(req.Body), nil
}

// TestRequestRefusals: what Anthropic cannot do is a 400 naming the
// parameter, before anything is sent (the golden harness needs an
// upstream exchange, so these live here); with drop_params the same
// request goes out without it.
func TestRequestRefusals(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"Hi"}]`
	for _, tc := range []struct {
		body, param string
		droppable   bool
	}{
		{`{"model":"claude",` + msgs + `,"seed":42}`, "seed", true},
		{`{"model":"claude",` + msgs + `,"presence_penalty":0.1}`, "presence_penalty", true},
		{`{"model":"claude",` + msgs + `,"n":3}`, "n", true},
		{`{"model":"claude",` + msgs + `,"logprobs":true}`, "logprobs", true},
		{`{"model":"claude",` + msgs + `,"temperature":1.7}`, "temperature", true},
		{`{"model":"claude",` + msgs + `,"reasoning_effort":"low","temperature":0.2}`, "temperature", true},
		{`{"model":"claude",` + msgs + `,"reasoning_effort":"ultra"}`, "reasoning_effort", true},
		{`{"model":"claude",` + msgs + `,"stop":["\n"]}`, "stop", true},
		{`{"model":"claude","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}`, "messages", true},
		{`{"model":"claude",` + msgs + `,"max_tokens":0}`, "max_tokens", false},
		{`{"model":"claude",` + msgs + `,"response_format":{"type":"yaml"}}`, "response_format", false},
		{`{"model":"claude",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"array"}}}]}`, "tools", false},
		{`{"model":"claude",` + msgs + `,"tools":[{"type":"web_search_preview"}]}`, "tools", false},
		{`{"model":"claude","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{not json"}}]}]}`, "messages", false},
		{`{"model":"claude","messages":[{"role":"function","name":"f","content":"x"}]}`, "messages", false},
		{`{"model":"claude","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "messages", false},
		{`{"model":"claude","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages", false},
	} {
		_, e := build(t, tc.body, false)
		if e == nil || e.Status != 400 || e.Param != tc.param {
			t.Errorf("%s: got %v, want a 400 naming %s", tc.body, e, tc.param)
			continue
		}
		if !strings.Contains(e.Message, tc.param) && e.Code == "unsupported_parameter" {
			t.Errorf("%s: message %q does not name %s", tc.body, e.Message, tc.param)
		}
		out, e := build(t, tc.body, true)
		switch {
		case tc.droppable && e != nil:
			t.Errorf("%s with drop_params: %v", tc.body, e)
		case tc.droppable && strings.Contains(out, `"`+tc.param+`"`) && tc.param != "messages":
			t.Errorf("%s with drop_params: %s still sent: %s", tc.body, tc.param, out)
		case !tc.droppable && e == nil:
			t.Errorf("%s: drop_params must not make an invalid request valid", tc.body)
		}
	}
}

// TestRequestShapes pins translations the golden cases do not show.
func TestRequestShapes(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		// parallel_tool_calls false with no tool_choice: auto plus the flag.
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false}`,
			`"tool_choice":{"type":"auto","disable_parallel_tool_use":true}`},
		// tool_choice none.
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"}`,
			`"tool_choice":{"type":"none"}`},
		// tool_choice without tools is meaningless and not sent.
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"tool_choice":"auto"}`, `"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`},
		// thinking on and no limit: budget plus LiteLLM's headroom.
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"reasoning_effort":"high"}`, `"max_tokens":8192,`},
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"reasoning_effort":"none"}`, `"max_tokens":4096,`},
		// explicit thinking wins over reasoning_effort, and its budget sets the default limit.
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"reasoning_effort":"low","thinking":{"type":"enabled","budget_tokens":10000}}`, `"max_tokens":14096,`},
		// a json mode with thinking offers the tool without forcing it.
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"reasoning_effort":"low","response_format":{"type":"json_object"}}`, `"input_schema":{"type":"object","additionalProperties":true,"properties":{}}}]`},
		// escaped URLs are decoded before the data URL is split.
		{`{"model":"c","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image\/jpeg;base64,\/9j\/4AAQ"}}]}]}`,
			`{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}}`},
		// tool results may carry images.
		{`{"model":"c","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"shot","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"here"},{"type":"image_url","image_url":{"url":"https://x/s.png"}}]}],"tools":[{"type":"function","function":{"name":"shot"}}]}`,
			`{"role":"user","content":[{"type":"tool_result","tool_use_id":"c1","content":[{"type":"text","text":"here"},{"type":"image","source":{"type":"url","url":"https://x/s.png"}}]}]}`},
		// a phone-number user id is not sent either.
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"user":"+1 (415) 555-0100"}`, `"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`},
	} {
		out, e := build(t, tc.body, false)
		if e != nil {
			t.Errorf("%s: %v", tc.body, e)
			continue
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s\n got %s\nwant it to contain %s", tc.body, out, tc.want)
		}
	}
}

// TestDecodeErrorRedactsKey: a key echoed in an upstream message never
// reaches the client.
func TestDecodeErrorRedactsKey(t *testing.T) {
	c := testCall(t, `{"model":"claude","messages":[]}`, false)
	c.Deployment.APIKey = "sk-ant-api03-AbCdEfGh0123456789"
	e := testCodec.DecodeError(c, 401, nil, []byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-api03-AbCdEfGh0123456789"}}`))
	if strings.Contains(e.Message, "AbCdEfGh") || e.Status != 401 || e.Code != "invalid_api_key" || e.Retryable {
		t.Errorf("got %+v", e)
	}
}

// FuzzStreamDecoder feeds arbitrary SSE to the decoder: it must not panic,
// every data payload it emits but [DONE] must be valid JSON, and usage must
// never decrease.
func FuzzStreamDecoder(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/upstream_response.sse")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b, false, false)
		f.Add(b, true, true)
	}
	f.Fuzz(func(t *testing.T, stream []byte, wantUsage, json bool) {
		body := `{"model":"claude","stream":true,"messages":[]}`
		if json {
			body = `{"model":"claude","stream":true,"messages":[],"response_format":{"type":"json_object"}}`
		}
		env := &openai.Envelope{Stream: true, IncludeUsage: wantUsage}
		c := &provider.Call{Op: provider.OpChat, Envelope: env, Body: []byte(body), ClientModel: "claude",
			Deployment: &provider.Deployment{Provider: "anthropic"}}
		dec := testCodec.NewStreamDecoder(c)
		r := sse.NewReader(bytes.NewReader(stream), 0)
		var out []byte
		var last openai.Usage
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			n := len(out)
			var done bool
			out, done, err = dec.Event(ev, out)
			checkEvents(t, out[n:])
			u := dec.Usage()
			if u.PromptTokens < last.PromptTokens || u.CompletionTokens < last.CompletionTokens || u.TotalTokens < last.TotalTokens ||
				u.CachedTokens < last.CachedTokens || u.CacheWriteTokens < last.CacheWriteTokens {
				t.Fatalf("usage decreased from %+v to %+v", last, u)
			}
			last = u
			if done || err != nil {
				break
			}
		}
	})
}

func checkEvents(t *testing.T, b []byte) {
	t.Helper()
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n\n")) {
		t.Fatalf("event not framed: %q", b)
	}
	r := sse.NewReader(bytes.NewReader(b), 0)
	for {
		ev, err := r.Next()
		if err != nil {
			return
		}
		if string(ev.Data) != "[DONE]" && !json.Valid(ev.Data) {
			t.Fatalf("invalid JSON in event: %q", ev.Data)
		}
	}
}

// BenchmarkTranslateChat is one typical non-streamed chat both ways: a
// system prompt, three turns and one tool out, a tool call back.
func BenchmarkTranslateChat(b *testing.B) {
	body := `{"model":"claude","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What's the weather in Paris?"},{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"18C and sunny"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the current weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}],"max_tokens":256,"temperature":0.5}`
	answer := []byte(`{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"Let me check the forecast too."},{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_forecast","input":{"location":"Paris","days":3}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":394,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":79}}`)
	c := testCall(b, body, false)
	b.ReportAllocs()
	defer reportCPU(b, cpuNow())
	for b.Loop() {
		req := upstream.AcquireRequest()
		if err := testCodec.BuildRequest(c, req); err != nil {
			b.Fatal(err)
		}
		upstream.ReleaseRequest(req)
		if _, _, err := testCodec.DecodeBody(c, answer, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEvent is the cost of one streamed text delta.
func BenchmarkStreamEvent(b *testing.B) {
	c := testCall(b, `{"model":"claude","stream":true,"messages":[{"role":"user","content":"x"}]}`, false)
	dec := testCodec.NewStreamDecoder(c)
	out := make([]byte, 0, 4096)
	for _, data := range []string{
		`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-20250514","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
	} {
		out, _, _ = dec.Event(sse.Event{Data: []byte(data)}, out[:0])
	}
	ev := sse.Event{Name: []byte("content_block_delta"), Data: []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there, how can I help?"}}`)}
	b.ReportAllocs()
	b.SetBytes(int64(len(ev.Data)))
	defer reportCPU(b, cpuNow())
	for b.Loop() {
		var err error
		if out, _, err = dec.Event(ev, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuNow is the process's CPU time. Benchmarks report it per op beside
// wall time, which on a loaded machine says more about the code's cost.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuNow()-start)/float64(b.N), "cpu-ns/op")
}

// FuzzBuildRequest: any request the envelope parser accepts is either
// refused with a 400 or translated into valid JSON.
func FuzzBuildRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/request.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, body []byte, drop bool) {
		env := &openai.Envelope{}
		if openai.ParseEnvelope(body, env) != nil {
			return
		}
		d := &provider.Deployment{ID: "d", Provider: "anthropic", Model: "m", DropParams: drop}
		if err := Prepare(d, nil); err != nil {
			t.Fatal(err)
		}
		c := &provider.Call{Op: provider.OpChat, Deployment: d, Body: body, Envelope: env, ClientModel: "claude"}
		req := &upstream.Request{}
		if err := testCodec.BuildRequest(c, req); err != nil {
			if e := provider.AsError(err); e.Status != 400 {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		if !json.Valid(req.Body) {
			t.Fatalf("invalid upstream body for %s:\n%s", body, req.Body)
		}
	})
}
