package main

// The official OpenAI Go SDK against the real binary in front of a fake
// Ollama speaking its native API: NDJSON streams on /api/chat, vectors on
// /api/embed.

import (
	"context"
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

// fakeOllama answers /api/chat with a streamed tool call and /api/embed
// with two vectors, and keeps the bodies it received by path.
type fakeOllama struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][]byte
}

func newFakeOllama(t *testing.T) *fakeOllama {
	f := &fakeOllama{bodies: map[string][]byte{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies[r.URL.Path] = body
		f.mu.Unlock()
		switch r.URL.Path {
		case "/api/chat":
			w.Header().Set("Content-Type", "application/x-ndjson")
			for _, line := range []string{
				`{"model":"llama3.2","created_at":"2025-05-20T10:00:00.1Z","message":{"role":"assistant","content":"Let me check."},"done":false}`,
				`{"model":"llama3.2","created_at":"2025-05-20T10:00:00.2Z","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_7h2k9d1x","function":{"index":0,"name":"get_weather","arguments":{"city":"Paris","unit":"celsius"}}}]},"done":false}`,
				`{"model":"llama3.2","created_at":"2025-05-20T10:00:00.3Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":512000000,"load_duration":1000000,"prompt_eval_count":31,"prompt_eval_duration":20000000,"eval_count":17,"eval_duration":400000000}`,
			} {
				fmt.Fprintln(w, line)
				w.(http.Flusher).Flush()
			}
		case "/api/embed":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"model":"all-minilm","embeddings":[[0.010071029,-0.0017594862,0.5],[-1.25,0.06042469,3]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"unknown path"}`)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeOllama) body(t *testing.T, path string) map[string]any {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var v map[string]any
	if err := json.Unmarshal(f.bodies[path], &v); err != nil {
		t.Fatalf("%s received %q: %v", path, f.bodies[path], err)
	}
	return v
}

func TestOllamaThroughSDK(t *testing.T) {
	up := newFakeOllama(t)
	g := start(t, fmt.Sprintf(`model_list:
  - model_name: local-chat
    litellm_params:
      model: ollama_chat/llama3.2
      api_base: %s
      keep_alive: 10m
  - model_name: local-embed
    litellm_params:
      model: ollama/all-minilm
      api_base: %s
general_settings:
  master_key: %s
`, up.URL, up.URL, masterKey), nil)
	c := g.client(masterKey)
	ctx := context.Background()

	t.Run("streamed tool call with usage", func(t *testing.T) {
		s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "local-chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
			Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
				Name: "get_weather", Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
			})},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			Temperature:   openai.Float(0.2),
		})
		acc := openai.ChatCompletionAccumulator{}
		var finished *openai.FinishedChatCompletionToolCall
		for s.Next() {
			acc.AddChunk(s.Current())
			if tc, ok := acc.JustFinishedToolCall(); ok {
				finished = &tc
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if len(acc.Choices) != 1 {
			t.Fatalf("choices: %+v", acc.ChatCompletion)
		}
		ch := acc.Choices[0]
		if ch.Message.Content != "Let me check." || ch.FinishReason != "tool_calls" {
			t.Errorf("content %q finish %q", ch.Message.Content, ch.FinishReason)
		}
		if len(ch.Message.ToolCalls) != 1 {
			t.Fatalf("tool calls: %+v", ch.Message.ToolCalls)
		}
		tc := ch.Message.ToolCalls[0]
		var args map[string]string
		if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil || args["city"] != "Paris" || args["unit"] != "celsius" {
			t.Errorf("arguments %q: %v", tc.Function.Arguments, err)
		}
		if tc.ID != "call_7h2k9d1x" || tc.Function.Name != "get_weather" {
			t.Errorf("tool call %+v", tc)
		}
		if finished == nil || finished.Name != "get_weather" || finished.Index != 0 {
			t.Errorf("the SDK saw no finished tool call: %+v", finished)
		}
		if acc.Usage.PromptTokens != 31 || acc.Usage.CompletionTokens != 17 || acc.Usage.TotalTokens != 48 {
			t.Errorf("usage %+v", acc.Usage)
		}
		if acc.Model != "local-chat" || acc.ID == "" {
			t.Errorf("model %q id %q", acc.Model, acc.ID)
		}

		sent := up.body(t, "/api/chat")
		opts, _ := sent["options"].(map[string]any)
		if sent["model"] != "llama3.2" || sent["stream"] != true || sent["keep_alive"] != "10m" || opts["temperature"] != 0.2 {
			t.Errorf("Ollama received %v", sent)
		}
		if tools, _ := sent["tools"].([]any); len(tools) != 1 {
			t.Errorf("Ollama received tools %v", sent["tools"])
		}
	})

	t.Run("embeddings as base64", func(t *testing.T) {
		res, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model:          "local-embed",
			Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"Why is the sky blue?", "Why is grass green?"}},
			EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
		})
		if err != nil {
			t.Fatal(err)
		}
		want := [][]float32{{0.010071029, -0.0017594862, 0.5}, {-1.25, 0.06042469, 3}}
		if len(res.Data) != 2 {
			t.Fatalf("data: %+v", res.Data)
		}
		for i, d := range res.Data {
			if d.Index != int64(i) || len(d.Embedding) != len(want[i]) {
				t.Fatalf("embedding %d: %+v", i, d)
			}
			for j, v := range d.Embedding {
				if float32(v) != want[i][j] || math.IsNaN(v) {
					t.Errorf("embedding %d[%d] = %v, want %v", i, j, v, want[i][j])
				}
			}
			if d.JSON.Embedding.Raw()[0] != '"' {
				t.Errorf("embedding %d was not sent as base64: %s", i, d.JSON.Embedding.Raw())
			}
		}
		if res.Usage.PromptTokens != 8 || res.Usage.TotalTokens != 8 || res.Model != "local-embed" {
			t.Errorf("usage %+v model %q", res.Usage, res.Model)
		}
		sent := up.body(t, "/api/embed")
		if sent["model"] != "all-minilm" || sent["encoding_format"] != nil {
			t.Errorf("Ollama received %v", sent)
		}
	})
}
