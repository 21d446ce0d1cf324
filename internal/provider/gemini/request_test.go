package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

func testDeployment(t testing.TB, model string) *provider.Deployment {
	t.Helper()
	d := &provider.Deployment{ID: "d", ModelName: "gem", Provider: "gemini", Model: model, APIKey: "AIzaSyTest"}
	if err := Prepare(d, noEnv); err != nil {
		t.Fatal(err)
	}
	return d
}

func call(t testing.TB, d *provider.Deployment, op provider.Op, body string) *provider.Call {
	t.Helper()
	env := &openai.Envelope{}
	if err := openai.ParseEnvelope([]byte(body), env); err != nil {
		t.Fatalf("envelope: %v", err)
	}
	return &provider.Call{Op: op, Deployment: d, Body: []byte(body), Envelope: env, ClientModel: "gem"}
}

func build(t testing.TB, c *provider.Call) ([]byte, error) {
	t.Helper()
	req := &upstream.Request{}
	err := testCodec.BuildRequest(c, req)
	return req.Body, err
}

// TestTranslationErrors: what Gemini cannot express is a 400 naming the
// parameter (or part), and drop_params drops the unsupported parameters.
func TestTranslationErrors(t *testing.T) {
	const user = `"messages":[{"role":"user","content":"hi"}]`
	const twoTools = `"tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}]`
	for _, tc := range []struct {
		name, body string
		op         provider.Op
		param      string
		code       string
		dropped    bool // with "drop_params": true the request goes through
	}{
		{name: "unknown param", body: `{"model":"gem",` + user + `,"logit_bias":{"1":2}}`, param: "logit_bias", code: "unsupported_parameter", dropped: true},
		{name: "modalities", body: `{"model":"gem",` + user + `,"modalities":["audio"]}`, param: "modalities", code: "unsupported_parameter", dropped: true},
		{name: "reasoning effort value", body: `{"model":"gem",` + user + `,"reasoning_effort":"extreme"}`, param: "reasoning_effort", code: "unsupported_parameter", dropped: true},
		{name: "tool type", body: `{"model":"gem",` + user + `,"tools":[{"type":"web_search_preview"}]}`, param: "tools[0].type", code: "unsupported_parameter", dropped: true},
		{name: "serial tool calls", body: `{"model":"gem",` + user + `,` + twoTools + `,"parallel_tool_calls":false}`, param: "parallel_tool_calls", code: "unsupported_parameter", dropped: true},
		{name: "response format", body: `{"model":"gem",` + user + `,"response_format":{"type":"grammar"}}`, param: "response_format", code: "unsupported_parameter", dropped: true},
		{name: "image type unknown", body: `{"model":"gem","messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://example.com/render?id=4"}}]}]}`, param: "messages[0].content[1].image_url"},
		{name: "image scheme", body: `{"model":"gem","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://example.com/a.png"}}]}]}`, param: "messages[0].content[0].image_url"},
		{name: "audio format", body: `{"model":"gem","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA"}}]}]}`, param: "messages[0].content[0].input_audio.format"},
		{name: "part type", body: `{"model":"gem","messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}`, param: "messages[0].content[0]"},
		{name: "orphan tool result", body: `{"model":"gem","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"call_x","content":"42"}]}`, param: "messages[1].tool_call_id"},
		{name: "arguments not an object", body: `{"model":"gem","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, param: "messages[0].tool_calls[0].function.arguments"},
		{name: "role", body: `{"model":"gem","messages":[{"role":"critic","content":"hi"}]}`, param: "messages[0].role"},
		{name: "system image", body: `{"model":"gem","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},{"role":"user","content":"hi"}]}`, param: "messages[0].content[0]"},
		{name: "tool choice", body: `{"model":"gem",` + user + `,"tool_choice":"sometimes"}`, param: "tool_choice"},
		{name: "embedding tokens", op: provider.OpEmbedding, body: `{"model":"gem","input":[[1,2,3]]}`, param: "input"},
		{name: "embedding format", op: provider.OpEmbedding, body: `{"model":"gem","input":"a","encoding_format":"hex"}`, param: "encoding_format"},
		{name: "embedding auto_truncate", op: provider.OpEmbedding, body: `{"model":"gem","input":"a","auto_truncate":true}`, param: "auto_truncate", code: "unsupported_parameter", dropped: true},
		{name: "embedding param", op: provider.OpEmbedding, body: `{"model":"gem","input":"a","dimensions":3,"logit_bias":{}}`, param: "logit_bias", code: "unsupported_parameter", dropped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testDeployment(t, "gemini-2.5-flash")
			_, err := build(t, call(t, d, tc.op, tc.body))
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a 400", err)
			}
			if pe.Status != 400 || pe.Param != tc.param || pe.Code != tc.code || pe.Type != "invalid_request_error" {
				t.Errorf("got %d param=%q code=%q type=%s (%s), want 400 param=%q code=%q", pe.Status, pe.Param, pe.Code, pe.Type, pe.Message, tc.param, tc.code)
			}
			if tc.dropped {
				dropBody := strings.Replace(tc.body, `{"model":"gem",`, `{"model":"gem","drop_params":true,`, 1)
				body, err := build(t, call(t, d, tc.op, dropBody))
				if err != nil {
					t.Fatalf("with drop_params: %v", err)
				}
				if !json.Valid(body) || bytes.Contains(body, []byte("drop_params")) {
					t.Errorf("with drop_params sent %s", body)
				}
			}
		})
	}
}

// TestThoughtSignatureRoundTrip follows a signature from a Gemini answer,
// through a client that keeps only a tool call's id, name and arguments
// (as openai-go's ToParam does), back onto the functionCall part.
func TestThoughtSignatureRoundTrip(t *testing.T) {
	d := testDeployment(t, "gemini-3-pro-preview")
	first := call(t, d, provider.OpChat, `{"model":"gem","messages":[{"role":"user","content":"weather?"}]}`)
	answer := `{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Oslo \"N\""}},"thoughtSignature":"EpYBCpMB+/sig=="}]},"finishReason":"STOP"}],"responseId":"r1"}`
	out, _, err := testCodec.DecodeBody(first, []byte(answer), nil)
	if err != nil {
		t.Fatal(err)
	}
	var resp openai.ChatResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	tc := resp.Choices[0].Message.ToolCalls[0]
	if resp.Choices[0].FinishReason != "tool_calls" || tc.Function.Arguments != `{"city":"Oslo \"N\""}` {
		t.Fatalf("answer %s", out)
	}

	stripped := map[string]any{"id": tc.ID, "type": "function", "function": map[string]string{"name": tc.Function.Name, "arguments": tc.Function.Arguments}}
	next, _ := json.Marshal(map[string]any{"model": "gem", "messages": []any{
		map[string]any{"role": "user", "content": "weather?"},
		map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{stripped}},
		map[string]any{"role": "tool", "tool_call_id": tc.ID, "content": "-3C"},
	}})
	body, err := build(t, call(t, d, provider.OpChat, string(next)))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Oslo \"N\""}},"thoughtSignature":"EpYBCpMB+/sig=="}]},{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"content":"-3C"}}}]}`
	if !bytes.Contains(body, []byte(want)) {
		t.Errorf("follow-up request\n%s\nlacks\n%s", body, want)
	}
}

// TestAppendQuoted: arguments are the compacted JSON text of args, as a
// JSON string.
func TestAppendQuoted(t *testing.T) {
	for _, in := range []string{
		`{}`, `{"a": 1}`, "{\n  \"s\": \"x \\\"q\\\" \\\\ \\n \\u00e9 /\",\n  \"n\": [1, 2.5e3, -0],\n  \"o\": {\"t\": true, \"f\": null}\n}",
		`{"k":"\\"}`, `{"emoji":"😀","ctl":"\t"}`,
	} {
		got := appendQuoted(nil, []byte(in))
		var s string
		if err := json.Unmarshal(got, &s); err != nil {
			t.Fatalf("%q: not a JSON string: %s", in, got)
		}
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(in)); err != nil {
			t.Fatal(err)
		}
		if s != want.String() {
			t.Errorf("%q: got %q, want %q", in, s, want.String())
		}
	}
}

func TestHandles(t *testing.T) {
	for _, tc := range []struct {
		provider, model string
		want            bool
	}{
		{"gemini", "gemini-2.5-flash", true},
		{"gemini", "gemma-3-27b-it", true},
		{"vertex_ai", "gemini-2.5-pro", true},
		{"vertex_ai", "gemini/1234567890", true},
		{"vertex_ai", "text-embedding-005", true},
		{"vertex_ai", "claude-sonnet-4@20250514", false},
		{"vertex_ai", "meta/llama-3.1-405b-instruct-maas", false},
		{"openai", "gemini-2.5-flash", false},
	} {
		if got := Handles(tc.provider, tc.model); got != tc.want {
			t.Errorf("Handles(%s, %s) = %v", tc.provider, tc.model, got)
		}
	}
}

func TestPrepare(t *testing.T) {
	tokens := fixedTokenServer(t)
	sa := serviceAccount(tokens.URL)
	env := map[string]string{"GEMINI_API_KEY": "AIza-from-env", "VERTEXAI_PROJECT": "env-project", "VERTEXAI_LOCATION": "asia-northeast1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct {
		name    string
		d       provider.Deployment
		chat    string
		stream  string
		embed   string
		wantErr string
	}{
		{name: "gemini default", d: provider.Deployment{Provider: "gemini", Model: "gemini-2.5-flash"},
			chat:   "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
			stream: "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
			embed:  "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:batchEmbedContents"},
		{name: "gemini tuned, v1", d: provider.Deployment{Provider: "gemini", Model: "tunedModels/my-model-x1", APIVersion: "v1"},
			chat: "https://generativelanguage.googleapis.com/v1/tunedModels/my-model-x1:generateContent"},
		{name: "gemini proxy", d: provider.Deployment{Provider: "gemini", Model: "gemini-2.0-flash", APIBase: "http://proxy:8080/google/"},
			chat: "http://proxy:8080/google/v1beta/models/gemini-2.0-flash:generateContent"},
		{name: "vertex regional", d: provider.Deployment{Provider: "vertex_ai", Model: "gemini-2.5-pro", Extra: map[string]any{"vertex_project": "p1", "vertex_location": "us-east5", "vertex_credentials": sa}},
			chat:   "https://us-east5-aiplatform.googleapis.com/v1/projects/p1/locations/us-east5/publishers/google/models/gemini-2.5-pro:generateContent",
			stream: "https://us-east5-aiplatform.googleapis.com/v1/projects/p1/locations/us-east5/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
			embed:  "https://us-east5-aiplatform.googleapis.com/v1/projects/p1/locations/us-east5/publishers/google/models/gemini-2.5-pro:predict"},
		{name: "vertex global", d: provider.Deployment{Provider: "vertex_ai", Model: "gemini-3-pro-preview", Extra: map[string]any{"vertex_ai_project": "p2", "vertex_ai_location": "global", "vertex_ai_credentials": sa}},
			chat: "https://aiplatform.googleapis.com/v1/projects/p2/locations/global/publishers/google/models/gemini-3-pro-preview:generateContent"},
		{name: "vertex env and endpoint", d: provider.Deployment{Provider: "vertex_ai", Model: "gemini/4567", Extra: map[string]any{"vertex_credentials": sa}},
			chat: "https://asia-northeast1-aiplatform.googleapis.com/v1/projects/env-project/locations/asia-northeast1/endpoints/4567:generateContent"},
		{name: "vertex bad base", d: provider.Deployment{Provider: "vertex_ai", Model: "gemini-2.5-pro", APIBase: "ftp://x", Extra: map[string]any{"vertex_credentials": sa}}, wantErr: "api_base"},
		{name: "vertex no credentials", d: provider.Deployment{Provider: "vertex_ai", Model: "gemini-2.5-pro"}, wantErr: "vertex_credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			d.ModelName = "m"
			err := Prepare(&d, lookup)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := d.Private.(*prepared)
			for _, u := range [][2]string{{p.chatURL, tc.chat}, {p.streamURL, tc.stream}, {p.embedURL, tc.embed}} {
				if u[1] != "" && u[0] != u[1] {
					t.Errorf("url %q, want %q", u[0], u[1])
				}
			}
			if d.Provider == "gemini" && d.APIKey.Reveal() != "AIza-from-env" {
				t.Errorf("key not taken from GEMINI_API_KEY")
			}
			if d.Provider == "vertex_ai" && d.Signer == nil {
				t.Errorf("no signer")
			}
			for _, h := range p.headers {
				if strings.Contains(p.chatURL, "key=") || (h[0] == "x-goog-api-key" && d.Provider != "gemini") {
					t.Errorf("key misplaced: %v %s", h, p.chatURL)
				}
			}
		})
	}
	d := provider.Deployment{Provider: "gemini", Model: "gemini-2.5-flash", ModelName: "m"}
	if err := Prepare(&d, noEnv); err == nil || !strings.Contains(err.Error(), "GEMINI_API_KEY") {
		t.Errorf("no key: err = %v", err)
	}
}

// TestBlockedAndEmptyAnswers: an answer without candidates is a refusal
// when Gemini says why, and an upstream failure when it does not.
func TestBlockedAndEmptyAnswers(t *testing.T) {
	d := testDeployment(t, "gemini-2.5-flash")
	c := call(t, d, provider.OpChat, `{"model":"gem","messages":[{"role":"user","content":"hi"}]}`)
	if _, _, err := testCodec.DecodeBody(c, []byte(`{"usageMetadata":{"promptTokenCount":3}}`), nil); err == nil {
		t.Error("an answer without candidates or a block reason was accepted")
	}
	if _, _, err := testCodec.DecodeBody(c, []byte(`{"candidates":[`), nil); err == nil {
		t.Error("a truncated answer was accepted")
	}
	_, _, err := testCodec.DecodeBody(c, []byte(`{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}}`), nil)
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Status != 429 || !pe.Retryable {
		t.Errorf("error in a 200 body: %v", err)
	}
}

// FuzzBuildRequest feeds arbitrary request bodies (those the envelope
// parser lets through) to the translator: no panic, and whatever it sends
// upstream is valid JSON. Strings are copied still escaped, so this is
// what guards the escaping.
func FuzzBuildRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/request.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b, false)
	}
	f.Add([]byte(`{"model":"m","input":["a\u00e9\"b"],"dimensions":2}`), true)
	f.Add([]byte(`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c__thought__\u0041\/","function":{"name":"f\"","arguments":"{\"a\":\"\\u00e9\\\"\"}"}}]},{"role":"tool","tool_call_id":"c__thought__\u0041\/","content":"{\"x\":[1,\"\\n\"]}"}]}`), false)
	d := testDeployment(f, "gemini-3-pro-preview")
	f.Fuzz(func(t *testing.T, body []byte, embed bool) {
		env := &openai.Envelope{}
		if openai.ParseEnvelope(body, env) != nil {
			return
		}
		op := provider.OpChat
		if embed {
			op = provider.OpEmbedding
		}
		c := &provider.Call{Op: op, Deployment: d, Body: body, Envelope: env, ClientModel: "gem"}
		req := &upstream.Request{}
		if err := testCodec.BuildRequest(c, req); err != nil {
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Status != 400 {
				t.Fatalf("error that is not a 400: %v", err)
			}
			return
		}
		if !json.Valid(req.Body) {
			t.Fatalf("invalid upstream body for %s:\n%s", body, req.Body)
		}
	})
}
