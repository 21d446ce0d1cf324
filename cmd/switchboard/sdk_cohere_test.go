package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
)

// fakeCohere is a Cohere v2 upstream: /v2/chat streams a tool call the way
// Cohere does (named events, no [DONE]), /v2/embed answers floats.
type fakeCohere struct {
	*httptest.Server
	mu   sync.Mutex
	reqs map[string][]byte // path → last body
	auth []string
}

func newFakeCohere(t *testing.T) *fakeCohere {
	f := &fakeCohere{reqs: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/chat", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{
			`{"type":"message-start","id":"29f14a5a-11de-4cae-9800-25e4747408ea","delta":{"message":{"role":"assistant"}}}`,
			`{"type":"tool-plan-delta","delta":{"message":{"tool_plan":"I will check the weather in Paris."}}}`,
			`{"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"get_weather_p4r1s","type":"function","function":{"name":"get_weather","arguments":""}}}}}`,
			`{"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"{\"city\":"}}}}}`,
			`{"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":" \"Paris\"}"}}}}}`,
			`{"type":"tool-call-end","index":0}`,
			`{"type":"message-end","delta":{"finish_reason":"TOOL_CALL","usage":{"billed_units":{"input_tokens":40,"output_tokens":35},"tokens":{"input_tokens":1012,"output_tokens":35}}}}`,
		} {
			var typ struct{ Type string }
			_ = json.Unmarshal([]byte(ev), &typ)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ.Type, ev)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("POST /v2/embed", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"da6e531f","texts":["hello","goodbye"],"embeddings":{"float":[[0.5,-1.25,0.03],[1,0,-0.5]]},"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":2}}}`)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeCohere) record(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs[r.URL.Path] = b
	f.auth = append(f.auth, r.Header.Get("Authorization"))
}

func (f *fakeCohere) body(path string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var m map[string]any
	_ = json.Unmarshal(f.reqs[path], &m)
	return m
}

// TestCohereThroughSDK drives the real binary with the OpenAI Go SDK in
// front of a fake Cohere: a streamed tool call with usage, and embeddings
// in both encodings.
func TestCohereThroughSDK(t *testing.T) {
	up := newFakeCohere(t)
	g := start(t, fmt.Sprintf(`model_list:
  - model_name: command
    litellm_params:
      model: cohere/command-a-03-2025
      api_base: %[1]s
      api_key: co-e2e-upstream-key
  - model_name: embed
    litellm_params:
      model: cohere/embed-v4.0
      api_base: %[1]s
      api_key: co-e2e-upstream-key
general_settings:
  master_key: %[2]s
`, up.URL, masterKey), nil)
	c := g.client(masterKey)
	ctx := context.Background()

	s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    "command",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Weather in Paris?")},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name:       "get_weather",
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
		})},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	acc := openai.ChatCompletionAccumulator{}
	var finished []openai.FinishedChatCompletionToolCall
	reasoning := ""
	for s.Next() {
		chunk := s.Current()
		acc.AddChunk(chunk)
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc)
		}
		if len(chunk.Choices) > 0 {
			if f, ok := chunk.Choices[0].Delta.JSON.ExtraFields["reasoning_content"]; ok {
				var r string
				_ = json.Unmarshal([]byte(f.Raw()), &r)
				reasoning += r
			}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 1 {
		t.Fatalf("choices: %+v", acc.Choices)
	}
	msg := acc.Choices[0].Message
	if acc.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 1 {
		t.Fatalf("finish %q, tool calls %+v", acc.Choices[0].FinishReason, msg.ToolCalls)
	}
	call := msg.ToolCalls[0]
	if call.ID != "get_weather_p4r1s" || call.Function.Name != "get_weather" || call.Function.Arguments != `{"city": "Paris"}` {
		t.Errorf("tool call %+v", call)
	}
	if len(finished) != 1 || finished[0].Name != "get_weather" {
		t.Errorf("the SDK saw finished tool calls %+v", finished)
	}
	if acc.Usage.PromptTokens != 1012 || acc.Usage.CompletionTokens != 35 || acc.Usage.TotalTokens != 1047 {
		t.Errorf("usage %+v, want Cohere's tokens 1012 + 35", acc.Usage)
	}
	if acc.Model != "command" {
		t.Errorf("model %q, want the client's name", acc.Model)
	}
	if reasoning != "I will check the weather in Paris." {
		t.Errorf("reasoning_content %q", reasoning)
	}
	sent := up.body("/v2/chat")
	if sent["model"] != "command-a-03-2025" || sent["stream"] != true {
		t.Errorf("Cohere got %v", sent)
	}
	if msgs, _ := sent["messages"].([]any); len(msgs) != 2 {
		t.Errorf("Cohere got messages %v", sent["messages"])
	}
	if _, ok := sent["stream_options"]; ok {
		t.Errorf("stream_options reached Cohere: %v", sent)
	}

	for _, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
		res, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model:          "embed",
			Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello", "goodbye"}},
			EncodingFormat: format,
			Dimensions:     openai.Int(256),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Data) != 2 || res.Usage.PromptTokens != 2 || res.Model != "embed" {
			t.Fatalf("%s: %+v", format, res)
		}
		got := res.Data[0].Embedding
		if format == openai.EmbeddingNewParamsEncodingFormatBase64 {
			got = cohereBase64Embedding(t, res.Data[0].JSON.Embedding.Raw())
		}
		want := []float64{0.5, -1.25, 0.03}
		if len(got) != len(want) {
			t.Fatalf("%s: embedding %v", format, got)
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-6 {
				t.Errorf("%s: embedding %v, want %v", format, got, want)
				break
			}
		}
	}
	sent = up.body("/v2/embed")
	if sent["input_type"] != "search_document" || sent["output_dimension"] != float64(256) || fmt.Sprint(sent["embedding_types"]) != "[float]" {
		t.Errorf("Cohere got %v", sent)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	for _, a := range up.auth {
		if a != "Bearer co-e2e-upstream-key" {
			t.Errorf("Cohere saw Authorization %q", a)
		}
	}
}

// cohereBase64Embedding reads an OpenAI base64 embedding as the Node and Python
// SDKs do: little-endian float32.
func cohereBase64Embedding(t *testing.T, raw string) []float64 {
	t.Helper()
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatalf("base64 embedding %s: %v", raw, err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("base64 embedding %q: %v", s, err)
	}
	out := make([]float64, 0, len(b)/4)
	for len(b) > 0 {
		out = append(out, float64(math.Float32frombits(uint32(b[0])|uint32(b[1])<<8|uint32(b[2])<<16|uint32(b[3])<<24)))
		b = b[4:]
	}
	return out
}
