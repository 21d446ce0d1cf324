package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

// fakeGemini speaks the Gemini API for one model and one embedding model,
// and keeps the bodies it received.
type fakeGemini struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][]string // by path
	t      *testing.T
}

const geminiSignature = "CiQBcsjafGhRV0Wb+4pJ8X3k/OIV2Xz3s9q=="

func newFakeGemini(t *testing.T) *fakeGemini {
	f := &fakeGemini{bodies: map[string][]string{}, t: t}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGemini) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies[r.URL.Path] = append(f.bodies[r.URL.Path], string(body))
	f.mu.Unlock()
	if got := r.Header.Get("x-goog-api-key"); got != "AIza-e2e-upstream-key" || r.URL.Query().Has("key") {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}`)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	switch r.URL.Path {
	case "/v1beta/models/gemini-2.5-flash:streamGenerateContent":
		if r.URL.Query().Get("alt") != "sse" {
			f.t.Errorf("stream without alt=sse: %s", r.URL)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		// Google's framing: CRLF line ends, no [DONE].
		for _, ev := range []string{
			`{"candidates":[{"content":{"parts":[{"text":"Let me look that up."}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":40,"totalTokenCount":40},"modelVersion":"gemini-2.5-flash","responseId":"e2e-resp"}`,
			`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_weather","args":{"city":"Oslo","unit":"c"}},"thoughtSignature":"` + geminiSignature + `"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":40,"candidatesTokenCount":12,"thoughtsTokenCount":30,"totalTokenCount":82},"modelVersion":"gemini-2.5-flash","responseId":"e2e-resp"}`,
		} {
			_, _ = io.WriteString(w, "data: "+ev+"\r\n\r\n")
			w.(http.Flusher).Flush()
		}
	case "/v1beta/models/gemini-2.5-flash:generateContent":
		_, _ = io.WriteString(w, `{"candidates":[{"content":{"parts":[{"text":"It is -3°C in Oslo."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":70,"candidatesTokenCount":9,"totalTokenCount":79},"modelVersion":"gemini-2.5-flash","responseId":"e2e-resp-2"}`)
	case "/v1beta/models/gemini-embedding-001:batchEmbedContents":
		var req struct {
			Requests []json.RawMessage `json:"requests"`
		}
		_ = json.Unmarshal(body, &req)
		var out []string
		for i := range req.Requests {
			out = append(out, fmt.Sprintf(`{"values":[0.5,-0.25,%d.125]}`, i))
		}
		_, _ = io.WriteString(w, `{"embeddings":[`+strings.Join(out, ",")+`]}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"code":404,"message":"not found","status":"NOT_FOUND"}}`)
	}
}

func (f *fakeGemini) received(path string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies[path]...)
}

func geminiConfig(upURL string) string {
	return fmt.Sprintf(`model_list:
  - model_name: gem
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_base: %[1]s
      api_key: AIza-e2e-upstream-key
  - model_name: gem-embed
    litellm_params:
      model: gemini/gemini-embedding-001
      api_base: %[1]s
      api_key: AIza-e2e-upstream-key
general_settings:
  master_key: %[2]s
`, upURL, masterKey)
}

// TestGeminiThroughSDK drives the Gemini translation end to end with the
// official OpenAI Go SDK: a streamed function call with usage, the next
// turn built by the SDK from the accumulated message (the thought
// signature must survive it), and base64 embeddings the SDK decodes.
func TestGeminiThroughSDK(t *testing.T) {
	up := newFakeGemini(t)
	g := start(t, geminiConfig(up.URL), nil)
	c := g.client(masterKey)
	ctx := context.Background()

	weather := openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("Current weather"),
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{
			"city": map[string]any{"type": "string"}, "unit": map[string]any{"type": "string"}}, "required": []string{"city"}},
	})
	params := openai.ChatCompletionNewParams{
		Model:         "gem",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Oslo?")},
		Tools:         []openai.ChatCompletionToolUnionParam{weather},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	s := c.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	chunks := 0
	for s.Next() {
		acc.AddChunk(s.Current())
		chunks++
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	msg := acc.Choices[0].Message
	if acc.Choices[0].FinishReason != "tool_calls" || msg.Content != "Let me look that up." || len(msg.ToolCalls) != 1 {
		t.Fatalf("accumulated %+v", acc.ChatCompletion)
	}
	call := msg.ToolCalls[0]
	if call.Function.Name != "get_weather" || call.Function.Arguments != `{"city":"Oslo","unit":"c"}` || !strings.HasPrefix(call.ID, "call_e2e-resp_0") {
		t.Errorf("tool call %+v", call)
	}
	if acc.Usage.PromptTokens != 40 || acc.Usage.CompletionTokens != 42 || acc.Usage.TotalTokens != 82 || acc.Usage.CompletionTokensDetails.ReasoningTokens != 30 {
		t.Errorf("usage %+v", acc.Usage)
	}
	if acc.ID != "chatcmpl-e2e-resp" || acc.Model != "gem" {
		t.Errorf("id %q model %q", acc.ID, acc.Model)
	}
	streamed := up.received("/v1beta/models/gemini-2.5-flash:streamGenerateContent")
	if len(streamed) != 1 || !strings.Contains(streamed[0], `"functionDeclarations":[{"name":"get_weather","description":"Current weather","parametersJsonSchema":{`) {
		t.Errorf("upstream stream request %v", streamed)
	}

	// The next turn, as an application writes it with the SDK.
	params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage(`{"temp_c":-3}`, call.ID))
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{}
	res, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].Message.Content != "It is -3°C in Oslo." || res.Usage.TotalTokens != 79 {
		t.Errorf("second turn %+v", res)
	}
	second := up.received("/v1beta/models/gemini-2.5-flash:generateContent")
	want := `{"role":"model","parts":[{"text":"Let me look that up."},{"functionCall":{"name":"get_weather","args":{"city":"Oslo","unit":"c"}},"thoughtSignature":"` + geminiSignature + `"}]},` +
		`{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp_c":-3}}}]}`
	if len(second) != 1 || !strings.Contains(second[0], want) {
		t.Errorf("second upstream request\n%v\nlacks\n%s", second, want)
	}

	emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model:          "gem-embed",
		Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"first", "second"}},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
		Dimensions:     openai.Int(3),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 2 || emb.Model != "gem-embed" {
		t.Fatalf("embeddings %+v", emb)
	}
	for i, d := range emb.Data {
		want := []float64{0.5, -0.25, float64(i) + 0.125}
		if fmt.Sprint(d.Embedding) != fmt.Sprint(want) || d.Index != int64(i) {
			t.Errorf("embedding %d = %v (index %d), want %v", i, d.Embedding, d.Index, want)
		}
		if !strings.HasPrefix(d.JSON.Embedding.Raw(), `"`) {
			t.Errorf("embedding %d was not sent as base64: %s", i, d.JSON.Embedding.Raw())
		}
	}
	embReq := up.received("/v1beta/models/gemini-embedding-001:batchEmbedContents")
	if len(embReq) != 1 || !strings.Contains(embReq[0], `"outputDimensionality":3`) {
		t.Errorf("upstream embeddings request %v", embReq)
	}
}
