package ollama

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/provider/providertest"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

func noEnv(string) (string, bool) { return "", false }

// sequentialIDs makes the ids Ollama lacks predictable, so golden files
// can hold them.
func sequentialIDs() IDs {
	var n atomic.Int64
	return func(prefix string) string { return prefix + "test" + strconv.FormatInt(n.Add(1), 10) }
}

func newTestProvider(t testing.TB) providertest.Prepare {
	client := upstream.New(upstream.Options{})
	t.Cleanup(client.Close)
	return func(d *provider.Deployment) (provider.Provider, error) {
		if err := Prepare(d, noEnv); err != nil {
			return nil, err
		}
		return provider.NewHTTP(d.Provider, client, Codec{IDs: sequentialIDs()}, Ops...), nil
	}
}

// TestGolden replays every testdata case through a fake Ollama: what it
// receives and what the client gets back must match byte for byte.
func TestGolden(t *testing.T) {
	providertest.RunGolden(t, "testdata", newTestProvider(t), providertest.WithStreamFile("ndjson", providertest.SplitLines))
}

func TestPrepare(t *testing.T) {
	env := map[string]string{"OLLAMA_API_BASE": "http://gpu-box:11434", "OLLAMA_API_KEY": "env-key"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct {
		d                  provider.Deployment
		env                func(string) (string, bool)
		chat, embed, auth  string
		wantErr, viaPrompt bool
	}{
		{d: provider.Deployment{Provider: "ollama_chat"}, env: noEnv, chat: "http://localhost:11434/api/chat", embed: "http://localhost:11434/api/embed"},
		{d: provider.Deployment{Provider: "ollama"}, env: noEnv, chat: "http://localhost:11434/api/generate", viaPrompt: true},
		{d: provider.Deployment{Provider: "ollama_chat"}, env: lookup, chat: "http://gpu-box:11434/api/chat", auth: "Bearer env-key"},
		{d: provider.Deployment{Provider: "ollama_chat", APIBase: "http://h:1/v1/"}, env: noEnv, chat: "http://h:1/api/chat"},
		{d: provider.Deployment{Provider: "ollama_chat", APIBase: "https://ollama.com/api/chat", APIKey: "k"}, env: lookup, chat: "https://ollama.com/api/chat", auth: "Bearer k"},
		{d: provider.Deployment{Provider: "ollama", APIBase: "http://proxy/ollama/api/generate"}, env: noEnv, chat: "http://proxy/ollama/api/generate", embed: "http://proxy/ollama/api/embed", viaPrompt: true},
		{d: provider.Deployment{Provider: "ollama_chat", APIBase: "ftp://x"}, env: noEnv, wantErr: true},
		{d: provider.Deployment{Provider: "openai"}, env: noEnv, wantErr: true},
		{d: provider.Deployment{Provider: "ollama_chat", Extra: map[string]any{"keep_alive": []any{1}}}, env: noEnv, wantErr: true},
		{d: provider.Deployment{Provider: "ollama_chat", Extra: map[string]any{"num_ctx": "big"}}, env: noEnv, wantErr: true},
	} {
		d := tc.d
		err := Prepare(&d, tc.env)
		if (err != nil) != tc.wantErr {
			t.Errorf("%+v: err = %v, wantErr %v", tc.d, err, tc.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		p := d.Private.(*prepared)
		chat := p.chatURL
		if p.chatViaGenerate {
			chat = p.generateURL
		}
		if chat != tc.chat || (tc.embed != "" && p.embedURL != tc.embed) || p.chatViaGenerate != tc.viaPrompt {
			t.Errorf("%+v: chat %q embed %q viaPrompt %v", tc.d, chat, p.embedURL, p.chatViaGenerate)
		}
		auth := ""
		for _, h := range p.headers {
			if h[0] == "Authorization" {
				auth = h[1]
			}
		}
		if auth != tc.auth {
			t.Errorf("%+v: Authorization %q, want %q", tc.d, auth, tc.auth)
		}
	}
}

// buildFor builds the upstream request of body on a deployment of prov.
func buildFor(t *testing.T, prov string, op provider.Op, drop bool, body string) (*upstream.Request, error) {
	t.Helper()
	d := &provider.Deployment{ID: "d", ModelName: "m", Provider: prov, Model: "llama3.2", DropParams: drop}
	if err := Prepare(d, noEnv); err != nil {
		t.Fatal(err)
	}
	c := &provider.Call{Op: op, Deployment: d, Body: []byte(body), Envelope: &openai.Envelope{}, ClientModel: "m"}
	if err := openai.ParseEnvelope(c.Body, c.Envelope); err != nil {
		t.Fatal(err)
	}
	req := &upstream.Request{}
	return req, Codec{}.BuildRequest(c, req)
}

// TestRefusals covers what is refused before anything is sent (the golden
// harness always expects an upstream request): each names the parameter,
// and each goes through with drop_params.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, prov string
		op         provider.Op
		body       string
		param      string
		dropped    string // a fragment the request must not carry when dropped
	}{
		{"unknown param", "ollama_chat", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":{"1":2}}`, "logit_bias", "logit_bias"},
		{"logprobs", "ollama_chat", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true}`, "logprobs", "logprobs"},
		{"image URL", "ollama_chat", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://e.com/a.png"}}]}]}`, "messages[0].content[1].image_url", "e.com"},
		{"audio part", "ollama_chat", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAA","format":"wav"}}]}]}`, "messages[0].content[0]", "AAA"},
		{"pdf data URL", "ollama_chat", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:application/pdf;base64,JVBE"}}]}]}`, "messages[0].content[0].image_url", "JVBE"},
		{"tool_choice required", "ollama_chat", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}`, "tool_choice", "required"},
		{"parallel_tool_calls false", "ollama_chat", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false}`, "parallel_tool_calls", "parallel"},
		{"n", "ollama_chat", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"hi"}],"n":3}`, "n", `"n"`},
		{"custom tool", "ollama_chat", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"custom","function":{"name":"f"}}]}`, "tools[0]", "custom"},
		{"tools on ollama/", "ollama", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}`, "tools", "tools"},
		{"echo", "ollama", provider.OpCompletion, `{"model":"m","prompt":"a","echo":true}`, "echo", "echo"},
		{"logprobs on completions", "ollama", provider.OpCompletion, `{"model":"m","prompt":"a","logprobs":2}`, "logprobs", "logprobs"},
		{"token embeddings", "ollama", provider.OpEmbedding, `{"model":"m","input":[[1,2,3]]}`, "input", ""},
		{"several prompts", "ollama", provider.OpCompletion, `{"model":"m","prompt":["a","b"]}`, "prompt", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildFor(t, tc.prov, tc.op, false, tc.body)
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Status != 400 || pe.Param != tc.param || !strings.Contains(pe.Message, tc.param) {
				t.Fatalf("err = %v, want a 400 naming %s", err, tc.param)
			}
			if tc.dropped == "" {
				return
			}
			req, err := buildFor(t, tc.prov, tc.op, true, tc.body)
			if err != nil {
				t.Fatalf("with drop_params: %v", err)
			}
			if bytes.Contains(req.Body, []byte(tc.dropped)) || !json.Valid(req.Body) {
				t.Errorf("with drop_params the request still carries %s: %s", tc.dropped, req.Body)
			}
		})
	}
}

// TestDefaultsPass: values that ask for nothing beyond Ollama's own
// behaviour are accepted without drop_params, as SDKs send some of them
// unasked.
func TestDefaultsPass(t *testing.T) {
	for _, tc := range []struct {
		prov string
		op   provider.Op
		body string
	}{
		{"ollama_chat", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":false,"top_logprobs":0,"n":1,` +
			`"parallel_tool_calls":true,"tool_choice":"auto","tools":[{"type":"function","function":{"name":"f"}}],"response_format":{"type":"text"},"user":"u1"}`},
		{"ollama", provider.OpCompletion, `{"model":"m","prompt":"a","echo":false,"best_of":1,"logprobs":null,"n":1}`},
		{"ollama", provider.OpEmbedding, `{"model":"m","input":"a","encoding_format":"float","user":"u1"}`},
	} {
		req, err := buildFor(t, tc.prov, tc.op, false, tc.body)
		if err != nil || !json.Valid(req.Body) {
			t.Errorf("%s: %v %s", tc.body, err, req.Body)
		}
	}
}

func TestBadRequests(t *testing.T) {
	for _, tc := range []struct{ name, body, param string }{
		{"arguments not an object", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[0].tool_calls[0].function.arguments"},
		{"unknown role", `{"model":"m","messages":[{"role":"robot","content":"x"}]}`, "messages[0].role"},
		{"options not an object", `{"model":"m","messages":[],"options":[1]}`, "options"},
		{"bad tool_choice", `{"model":"m","messages":[],"tool_choice":"sometimes"}`, "tool_choice"},
	} {
		_, err := buildFor(t, "ollama_chat", provider.OpChat, false, tc.body)
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Status != 400 || pe.Param != tc.param {
			t.Errorf("%s: err = %v, want a 400 on %s", tc.name, err, tc.param)
		}
	}
}

// TestRenderPrompt pins LiteLLM's ollama_pt rendering for the ollama/
// prefix, including assistant tool calls and merged runs of roles.
func TestRenderPrompt(t *testing.T) {
	req, err := buildFor(t, "ollama", provider.OpChat, false, `{"model":"m","messages":[
		{"role":"developer","content":"Rules."},
		{"role":"user","content":"Weather?"},
		{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{\"city\":\"Oslo\"}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"cold"},
		{"role":"user","content":"Thanks"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Prompt string }
	if err := json.Unmarshal(req.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := "### System:\nRules.\n\n### User:\nWeather?\n\n### Assistant:\nLet me check.Tool Calls: [\n  {\n    \"id\": \"c1\",\n    \"type\": \"function\",\n    \"function\": {\n      \"name\": \"w\",\n      \"arguments\": {\n        \"city\": \"Oslo\"\n      }\n    }\n  }\n]\n\n### User:\ncoldThanks\n\n"
	if got.Prompt != want {
		t.Errorf("prompt:\n%q\nwant\n%q", got.Prompt, want)
	}
}

// TestBase64Embedding decodes what the gateway sends the way the OpenAI
// SDKs do: little-endian float32, standard base64.
func TestBase64Embedding(t *testing.T) {
	d := &provider.Deployment{Provider: "ollama", Model: "e"}
	c := &provider.Call{Op: provider.OpEmbedding, Deployment: d, Body: []byte(`{"input":"x","encoding_format":"base64"}`), ClientModel: "e"}
	out, u, err := Codec{}.DecodeBody(c, []byte(`{"model":"e","embeddings":[[0.5,-1.25,3e-3]],"prompt_eval_count":2}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Data []struct{ Embedding string }
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got.Data) != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	want := []byte{0, 0, 0, 0x3f, 0, 0, 0xa0, 0xbf, 0xa6, 0x9b, 0x44, 0x3b} // 0.5, -1.25, 0.003 as float32 LE
	if got.Data[0].Embedding != base64Std(want) || u.PromptTokens != 2 {
		t.Errorf("embedding %q usage %+v, want %q", got.Data[0].Embedding, u, base64Std(want))
	}
}

func base64Std(b []byte) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var s strings.Builder
	for i := 0; i < len(b); i += 3 {
		var n uint32
		k := min(3, len(b)-i)
		for j := range 3 {
			n <<= 8
			if j < k {
				n |= uint32(b[i+j])
			}
		}
		for j := range 4 {
			if j <= k {
				s.WriteByte(enc[n>>(18-6*j)&63])
			} else {
				s.WriteByte('=')
			}
		}
	}
	return s.String()
}

// TestLineReader covers the NDJSON framing: blank lines, CRLF, a last
// line without its break, lines across reads, and the line bound.
func TestLineReader(t *testing.T) {
	src := "{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}"
	l := newLineReader(&oneByteReader{s: src})
	var got []string
	for {
		ev, err := l.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(ev.Data))
	}
	if strings.Join(got, "|") != `{"a":1}|{"b":2}|{"c":3}` {
		t.Errorf("lines %q", got)
	}
	if _, err := l.Next(); err != io.EOF {
		t.Errorf("after the end: %v", err)
	}

	cut := newLineReader(io.MultiReader(strings.NewReader("{\"a\":1}\n{\"b\""), errReader{io.ErrUnexpectedEOF}))
	if ev, err := cut.Next(); err != nil || string(ev.Data) != `{"a":1}` {
		t.Fatalf("first line: %q %v", ev.Data, err)
	}
	if _, err := cut.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a cut line: %v, want the read error", err)
	}

	huge := newLineReader(io.MultiReader(strings.NewReader("{\"x\":\""), neverEnding('a')))
	if _, err := huge.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("endless line: %v", err)
	}
}

type oneByteReader struct {
	s string
	i int
}

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.i >= len(r.s) {
		return 0, io.EOF
	}
	p[0] = r.s[r.i]
	r.i++
	return 1, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestMalformedLines: a line that is not one JSON object ends the stream
// with an error instead of being half read.
func TestMalformedLines(t *testing.T) {
	for _, line := range []string{
		`{"message":{"content":"a"},"done":false`,
		`{"message":{"content":"a"}},"done":false}`,
		"{\"message\":{\"content\":\"a\x01\"},\"done\":false}", // a raw control character
		`{"message":{"content":"a","tool_calls":[{"function":{"name":"f","arguments":"[1]"}}]},"done":false}`,
		`{"message":{"content":"a\q"}}`,
		`{"done":true} trailing`,
		`[1,2]`,
	} {
		dec := Codec{}.NewStreamDecoder(fuzzCall(provider.OpChat))
		out, _, err := dec.Event(sse.Event{Data: []byte(line)}, nil)
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Code != "upstream_invalid_response" || len(out) != 0 {
			t.Errorf("%s: out %q err %v", line, out, err)
		}
	}
}

// fuzzCall is a streamed chat call whose client asked for usage.
func fuzzCall(op provider.Op) *provider.Call {
	d := &provider.Deployment{ID: "d", ModelName: "m", Provider: "ollama_chat", Model: "llama3.2"}
	return &provider.Call{Op: op, Deployment: d, ClientModel: "m", Envelope: &openai.Envelope{Stream: true, IncludeUsage: true}}
}

// FuzzStreamDecoder feeds arbitrary NDJSON through the line reader and the
// decoder: no panic, every data payload but [DONE] is valid JSON, and the
// usage seen never decreases.
func FuzzStreamDecoder(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/upstream_response.ndjson")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte("{\"message\":{\"content\":\"\\ud800\\u00e9\"},\"done\":false}\n{\"done\":true,\"eval_count\":1e3}\n"), false)
	f.Fuzz(func(t *testing.T, body []byte, completion bool) {
		op := provider.OpChat
		if completion {
			op = provider.OpCompletion
		}
		dec := Codec{}.NewStreamDecoder(fuzzCall(op))
		r := newLineReader(bytes.NewReader(body))
		var out []byte
		var last openai.Usage
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			var done bool
			out, done, err = dec.Event(ev, out[:0])
			checkEvents(t, out)
			u := dec.Usage()
			if u.PromptTokens < last.PromptTokens || u.CompletionTokens < last.CompletionTokens || u.TotalTokens < last.TotalTokens {
				t.Fatalf("usage went down: %+v after %+v", u, last)
			}
			last = u
			if done || err != nil {
				break
			}
		}
	})
}

// checkEvents checks that out is whole SSE events whose payloads are JSON.
func checkEvents(t *testing.T, out []byte) {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(out), 0)
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("bad SSE %q: %v", out, err)
		}
		if string(ev.Data) != "[DONE]" && !json.Valid(ev.Data) {
			t.Fatalf("invalid JSON payload %q", ev.Data)
		}
	}
}

// benchChat is a typical chat: a system prompt, three turns and one tool.
const benchChat = `{"model":"local","messages":[{"role":"system","content":"You are a helpful assistant. Answer briefly."},` +
	`{"role":"user","content":"What's the weather in Paris?"},{"role":"assistant","content":"It is sunny and 21 degrees in Paris today."},` +
	`{"role":"user","content":"And should I bring an umbrella tomorrow?"}],` +
	`"tools":[{"type":"function","function":{"name":"get_forecast","description":"Weather forecast for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}}}],` +
	`"temperature":0.7,"max_tokens":256}`

const benchAnswer = `{"model":"llama3.2","created_at":"2025-05-20T10:00:01.5Z","message":{"role":"assistant","content":"No umbrella needed: tomorrow stays dry and sunny."},` +
	`"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":96,"prompt_eval_duration":342546000,"eval_count":12,"eval_duration":4535599000}`

func BenchmarkTranslateChat(b *testing.B) {
	d := &provider.Deployment{ID: "d", ModelName: "local", Provider: "ollama_chat", Model: "llama3.2"}
	if err := Prepare(d, noEnv); err != nil {
		b.Fatal(err)
	}
	c := &provider.Call{Op: provider.OpChat, Deployment: d, Body: []byte(benchChat), Envelope: &openai.Envelope{}, ClientModel: "local"}
	if err := openai.ParseEnvelope(c.Body, c.Envelope); err != nil {
		b.Fatal(err)
	}
	codec := Codec{}
	req := &upstream.Request{}
	answer := []byte(benchAnswer)
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		req.Reset()
		if err := codec.BuildRequest(c, req); err != nil {
			b.Fatal(err)
		}
		var err error
		if out, _, err = codec.DecodeBody(c, answer, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStreamEvent(b *testing.B) {
	dec := Codec{}.NewStreamDecoder(fuzzCall(provider.OpChat))
	first := sse.Event{Data: []byte(`{"model":"llama3.2","created_at":"2025-05-20T10:00:00.123456789Z","message":{"role":"assistant","content":"Hi"},"done":false}`)}
	ev := sse.Event{Data: []byte(`{"model":"llama3.2","created_at":"2025-05-20T10:00:00.223456789Z","message":{"role":"assistant","content":" there, friend"},"done":false}`)}
	out, _, err := dec.Event(first, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(ev.Data)))
	for b.Loop() {
		if out, _, err = dec.Event(ev, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
