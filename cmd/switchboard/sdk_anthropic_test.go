package main

// The OpenAI Go SDK → the gateway binary → a fake Anthropic Messages API
// speaking its exact wire format: what the SDK parses is what an
// application would see behind an "anthropic/" model.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/switchboard-gw/switchboard/internal/provider/providertest"
)

const anthropicUpstreamKey = "sk-ant-api03-e2e-upstream-secret-000"

func anthropicConfig(upURL string) string {
	return fmt.Sprintf(`model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-20250514
      api_base: %s
      api_key: %s
general_settings:
  master_key: %s
`, upURL, anthropicUpstreamKey, masterKey)
}

var weatherTool = openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Get the current weather in a given location"),
	Parameters: openai.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"location": map[string]any{"type": "string"}},
		"required":   []string{"location"},
	},
})

func TestAnthropicChatToolCallThroughSDK(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Body: []byte(`{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-20250514",` +
		`"content":[{"type":"text","text":"I'll check the weather in Paris."},{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":"Paris, France"}}],` +
		`"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":380,"cache_creation_input_tokens":20,"cache_read_input_tokens":1000,"output_tokens":61}}`)})
	g := start(t, anthropicConfig(up.URL), nil)
	c := g.client(masterKey)
	ctx := context.Background()

	params := openai.ChatCompletionNewParams{
		Model:    "claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You are terse."), openai.UserMessage("Weather in Paris?")},
		Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
	}
	res, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	ch := res.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || ch.Message.Content != "I'll check the weather in Paris." {
		t.Fatalf("answer %+v", ch)
	}
	tc := ch.Message.ToolCalls[0]
	if tc.ID != "toolu_01A09q90qw90lq917835lq9" || tc.Function.Name != "get_weather" || tc.Function.Arguments != `{"location":"Paris, France"}` {
		t.Errorf("tool call %+v", tc)
	}
	if res.Model != "claude" || res.Usage.PromptTokens != 1400 || res.Usage.PromptTokensDetails.CachedTokens != 1000 ||
		res.Usage.CompletionTokens != 61 || res.Usage.TotalTokens != 1461 {
		t.Errorf("model %q, usage %+v", res.Model, res.Usage)
	}

	got := up.Requests()[0]
	if got.Path != "/v1/messages" || got.Header.Get("x-api-key") != anthropicUpstreamKey || got.Header.Get("anthropic-version") != "2023-06-01" {
		t.Errorf("upstream request %s with headers %v", got.Path, got.Header)
	}
	var body struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		System    string `json:"system"`
		Tools     []struct {
			Name        string         `json:"name"`
			InputSchema map[string]any `json:"input_schema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(got.Body, &body); err != nil || body.Model != "claude-sonnet-4-20250514" || body.MaxTokens != 4096 ||
		body.System != "You are terse." || len(body.Tools) != 1 || body.Tools[0].InputSchema["type"] != "object" {
		t.Errorf("upstream body %s (%v)", got.Body, err)
	}

	// The next turn sends the call and its result back: Anthropic gets the
	// tool_use in the assistant turn and the tool_result in a user turn.
	params.Messages = append(params.Messages, ch.Message.ToParam(), openai.ToolMessage("18°C, sunny", tc.ID))
	if _, err := c.Chat.Completions.New(ctx, params); err != nil {
		t.Fatal(err)
	}
	second := string(up.Requests()[1].Body)
	for _, want := range []string{
		`{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":"Paris, France"}}`,
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A09q90qw90lq917835lq9","content":"18°C, sunny"}]}`,
	} {
		if !strings.Contains(second, want) {
			t.Errorf("second upstream body lacks %s:\n%s", want, second)
		}
	}
}

func anthropicEvent(name, data string) []byte {
	return []byte("event: " + name + "\ndata: " + data + "\n\n")
}

func TestAnthropicStreamToolCallThroughSDK(t *testing.T) {
	delta := func(i int, partial string) []byte {
		b, _ := json.Marshal(partial)
		return anthropicEvent("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":%s}}`, i, b))
	}
	events := [][]byte{
		anthropicEvent("message_start", `{"type":"message_start","message":{"id":"msg_01Stream","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}}`),
		anthropicEvent("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
		anthropicEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking "}}`),
		anthropicEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"both."}}`),
		anthropicEvent("content_block_stop", `{"type":"content_block_stop","index":0}`),
		anthropicEvent("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}`),
		delta(1, ""), delta(1, `{"location": "San Fra`), []byte("event: ping\ndata: {\"type\": \"ping\"}\n\n"), delta(1, `ncisco, CA"}`),
		anthropicEvent("content_block_stop", `{"type":"content_block_stop","index":1}`),
		anthropicEvent("content_block_start", `{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01GbBUfF5Yh7vPKmPdBKbRjJ","name":"get_weather","input":{}}}`),
		delta(2, `{"location":`), delta(2, ` "Tokyo"}`),
		anthropicEvent("content_block_stop", `{"type":"content_block_stop","index":2}`),
		anthropicEvent("message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}`),
		anthropicEvent("message_stop", `{"type":"message_stop"}`),
	}
	up := providertest.NewUpstream(t, providertest.Reply{Events: events})
	g := start(t, anthropicConfig(up.URL), nil)
	c := g.client(masterKey)

	s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "claude",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in San Francisco and Tokyo?")},
		Tools:         []openai.ChatCompletionToolUnionParam{weatherTool},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	acc := openai.ChatCompletionAccumulator{}
	var finished []openai.FinishedChatCompletionToolCall
	for s.Next() {
		acc.AddChunk(s.Current())
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	ch := acc.Choices[0]
	if ch.FinishReason != "tool_calls" || ch.Message.Content != "Checking both." || len(ch.Message.ToolCalls) != 2 {
		t.Fatalf("accumulated %+v", acc.ChatCompletion)
	}
	for i, want := range []struct{ id, args string }{
		{"toolu_01T1x1fJ34qAmk2tNTrN7Up6", `{"location": "San Francisco, CA"}`},
		{"toolu_01GbBUfF5Yh7vPKmPdBKbRjJ", `{"location": "Tokyo"}`},
	} {
		tc := ch.Message.ToolCalls[i]
		if tc.ID != want.id || tc.Function.Name != "get_weather" || tc.Function.Arguments != want.args {
			t.Errorf("tool call %d: %+v", i, tc)
		}
	}
	if len(finished) != 2 || finished[1].Arguments != `{"location": "Tokyo"}` {
		t.Errorf("finished tool calls %+v", finished)
	}
	if acc.Usage.PromptTokens != 472 || acc.Usage.CompletionTokens != 89 || acc.Usage.TotalTokens != 561 || acc.Model != "claude" || acc.ID != "msg_01Stream" {
		t.Errorf("usage %+v, model %q, id %q", acc.Usage, acc.Model, acc.ID)
	}
	if body := string(up.Requests()[0].Body); !strings.Contains(body, `"stream":true`) || strings.Contains(body, "stream_options") {
		t.Errorf("upstream body %s", body)
	}
}
