package main

// The official Anthropic Go SDK → the gateway's /v1/messages → any model:
// an OpenAI-compatible fake upstream, and the built-in mock. What the SDK
// parses is what Claude Code or any Anthropic-SDK application would see
// with the gateway as its base URL.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/switchboard-gw/switchboard/internal/provider/providertest"
	"github.com/switchboard-gw/switchboard/internal/tokens"
)

func messagesConfig(upURL string) string {
	return fmt.Sprintf(`model_list:
  - model_name: gpt-test
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: %s/v1
      api_key: sk-upstream-e2e-secret-000
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
  - model_name: demo
    litellm_params:
      model: mock/demo
      mock_response: "Hello from the mock."
general_settings:
  master_key: %s
`, upURL, masterKey)
}

func (g *gateway) anthropicClient(opts ...option.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]option.RequestOption{option.WithBaseURL(g.url), option.WithMaxRetries(0)}, opts...)...)
}

var messagesWeatherTool = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
	Name:        "get_weather",
	Description: anthropic.String("Get the current weather in a given location"),
	InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"location": map[string]any{"type": "string"}}, Required: []string{"location"}},
}}

// A 1×1 PNG.
const pixelPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

func TestMessagesToolUseThroughAnthropicSDK(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Body: []byte(`{"id":"chatcmpl-e2e-tool","object":"chat.completion","created":1,"model":"gpt-4o-mini",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"Let me check Paris.","tool_calls":[{"id":"call_paris","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],` +
		`"usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150,"prompt_tokens_details":{"cached_tokens":20}}}`)})
	g := start(t, messagesConfig(up.URL), nil)
	key := g.newKey(t, `{"key_alias":"messages-e2e"}`)
	c := g.anthropicClient(option.WithAPIKey(key)) // sent as x-api-key

	var httpResp *http.Response
	msg, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model:     "gpt-test",
		MaxTokens: 1024,
		System:    []anthropic.TextBlockParam{{Text: "You are terse.", CacheControl: anthropic.NewCacheControlEphemeralParam()}},
		Tools:     []anthropic.ToolUnionParam{messagesWeatherTool},
		Metadata:  anthropic.MetadataParam{UserID: anthropic.String("user-42")},
		Messages: []anthropic.MessageParam{
			anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Lyon, and what is in this picture?"), anthropic.NewImageBlockBase64("image/png", pixelPNG)),
			anthropic.NewAssistantMessage(anthropic.NewToolUseBlock("toolu_lyon", map[string]any{"location": "Lyon"}, "get_weather")),
			anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_lyon", "12C and cloudy", false), anthropic.NewTextBlock("Now Paris.")),
		},
	}, option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Model != "gpt-test" || msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 2 {
		t.Fatalf("message %s", msg.RawJSON())
	}
	if tb := msg.Content[0]; tb.Type != "text" || tb.Text != "Let me check Paris." {
		t.Errorf("text block %+v", tb)
	}
	tu := msg.Content[1].AsToolUse()
	var input struct{ Location string }
	if tu.ID != "call_paris" || tu.Name != "get_weather" || json.Unmarshal(tu.Input, &input) != nil || input.Location != "Paris" {
		t.Errorf("tool_use block %+v", tu)
	}
	if u := msg.Usage; u.InputTokens != 100 || u.CacheReadInputTokens != 20 || u.OutputTokens != 30 {
		t.Errorf("usage %+v", u)
	}

	// The upstream got an ordinary OpenAI chat request.
	var sent struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Messages  []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Function struct{ Name, Arguments string }
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []struct {
			Function struct {
				Name       string          `json:"name"`
				Parameters json.RawMessage `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(up.Requests()[0].Body, &sent); err != nil {
		t.Fatal(err)
	}
	// OpenAI refuses Anthropic's cache breakpoints (and caches by itself).
	if body := string(up.Requests()[0].Body); strings.Contains(body, "cache_control") || !strings.Contains(body, `"user":"user-42"`) {
		t.Errorf("upstream request %s", body)
	}
	roles := ""
	for _, m := range sent.Messages {
		roles += m.Role + " "
	}
	if sent.Model != "gpt-4o-mini" || sent.MaxTokens != 1024 || roles != "system user assistant tool user " {
		t.Fatalf("upstream request %s", up.Requests()[0].Body)
	}
	if !strings.Contains(string(sent.Messages[1].Content), `"url":"data:image/png;base64,`+pixelPNG+`"`) {
		t.Errorf("image not sent as a data URL: %s", sent.Messages[1].Content)
	}
	if tc := sent.Messages[2].ToolCalls; len(tc) != 1 || tc[0].ID != "toolu_lyon" || tc[0].Function.Arguments != `{"location":"Lyon"}` {
		t.Errorf("tool call history %+v", tc)
	}
	if sent.Messages[3].ToolCallID != "toolu_lyon" || string(sent.Messages[3].Content) != `"12C and cloudy"` {
		t.Errorf("tool result %+v", sent.Messages[3])
	}
	if len(sent.Tools) != 1 || sent.Tools[0].Function.Name != "get_weather" || !strings.Contains(string(sent.Tools[0].Function.Parameters), `"location"`) {
		t.Errorf("tools %+v", sent.Tools)
	}

	// Accounted like any chat request: a ledger row with the usage.
	reqID := httpResp.Header.Get("request-id")
	if reqID == "" || reqID != httpResp.Header.Get("x-request-id") {
		t.Fatalf("request ids %q %q", reqID, httpResp.Header.Get("x-request-id"))
	}
	var rows []struct {
		RequestID        string  `json:"request_id"`
		Spend            float64 `json:"spend"`
		PromptTokens     int64   `json:"prompt_tokens"`
		CompletionTokens int64   `json:"completion_tokens"`
		ModelGroup       string  `json:"model_group"`
	}
	for deadline := time.Now().Add(5 * time.Second); len(rows) == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		g.getJSON(t, "/spend/logs?api_key="+key, masterKey, &rows)
	}
	if len(rows) != 1 || rows[0].RequestID != reqID || rows[0].PromptTokens != 120 || rows[0].CompletionTokens != 30 || rows[0].ModelGroup != "gpt-test" || rows[0].Spend <= 0 {
		t.Errorf("ledger rows %+v", rows)
	}
}

func TestMessagesStreamThroughAnthropicSDK(t *testing.T) {
	head := `data: {"id":"chatcmpl-e2e-s","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":`
	events := [][]byte{
		[]byte(head + `{"role":"assistant","content":""},"finish_reason":null}],"usage":null}` + "\n\n"),
		[]byte(head + `{"content":"Checking "},"finish_reason":null}],"usage":null}` + "\n\n"),
		[]byte(head + `{"content":"the weather."},"finish_reason":null}],"usage":null}` + "\n\n"),
		[]byte(head + `{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}],"usage":null}` + "\n\n"),
		[]byte(head + `{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]},"finish_reason":null}],"usage":null}` + "\n\n"),
		[]byte(head + `{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}],"usage":null}` + "\n\n"),
		[]byte(head + `{},"finish_reason":"tool_calls"}],"usage":null}` + "\n\n"),
		[]byte(`data: {"id":"chatcmpl-e2e-s","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":12,"total_tokens":62}}` + "\n\n"),
		[]byte("data: [DONE]\n\n"),
	}
	up := providertest.NewUpstream(t, providertest.Reply{Events: events})
	g := start(t, messagesConfig(up.URL), nil)
	c := g.anthropicClient(option.WithAuthToken(masterKey)) // sent as Authorization: Bearer

	params := anthropic.MessageNewParams{Model: "gpt-test", MaxTokens: 512, Tools: []anthropic.ToolUnionParam{messagesWeatherTool},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?"))}}
	stream := c.Messages.NewStreaming(context.Background(), params)
	var msg anthropic.Message
	n := 0
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 2 || msg.Content[0].Text != "Checking the weather." || msg.StopReason != anthropic.StopReasonToolUse {
		t.Fatalf("accumulated %s after %d events", msg.RawJSON(), n)
	}
	tu := msg.Content[1].AsToolUse()
	if tu.ID != "call_1" || tu.Name != "get_weather" || string(tu.Input) != `{"location":"Paris"}` {
		t.Errorf("tool_use %+v", tu)
	}
	if msg.Usage.InputTokens != 50 || msg.Usage.OutputTokens != 12 || msg.Model != "gpt-test" {
		t.Errorf("usage %+v model %q", msg.Usage, msg.Model)
	}
	body := up.Requests()[0].Body
	if !strings.Contains(string(body), `"stream":true`) || !strings.Contains(string(body), `"include_usage":true`) {
		t.Errorf("upstream request %s", body)
	}

	// Cut mid-way: the SDK sees an error, never a finished message.
	up.SetReply(providertest.Reply{Events: events, CutAfter: 3})
	stream = c.Messages.NewStreaming(context.Background(), params)
	msg = anthropic.Message{}
	for stream.Next() {
		_ = msg.Accumulate(stream.Current())
	}
	var apiErr *anthropic.Error
	if !errors.As(stream.Err(), &apiErr) || apiErr.Type() != "api_error" || msg.StopReason != "" || msg.Content[0].Text != "Checking the weather." {
		t.Errorf("cut stream: err %v, stop_reason %q, content %s", stream.Err(), msg.StopReason, msg.RawJSON())
	}
}

func TestMessagesThroughMockProvider(t *testing.T) {
	g := start(t, messagesConfig("http://127.0.0.1:1"), nil)
	c := g.anthropicClient(option.WithAPIKey(masterKey))
	params := anthropic.MessageNewParams{Model: "demo", MaxTokens: 64, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
	msg, err := c.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "Hello from the mock." || msg.StopReason != anthropic.StopReasonEndTurn || msg.Usage.OutputTokens != 4 {
		t.Errorf("message %s", msg.RawJSON())
	}
	stream := c.Messages.NewStreaming(context.Background(), params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if stream.Err() != nil || len(acc.Content) != 1 || acc.Content[0].Text != "Hello from the mock." || acc.StopReason != anthropic.StopReasonEndTurn || acc.Usage.OutputTokens != 4 {
		t.Errorf("streamed: %v %s", stream.Err(), acc.RawJSON())
	}
}

func TestMessagesCountTokens(t *testing.T) {
	g := start(t, messagesConfig("http://127.0.0.1:1"), nil)
	c := g.anthropicClient(option.WithAPIKey(masterKey))
	count := func(model, text string) (int64, error) {
		res, err := c.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{Model: anthropic.Model(model),
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))}})
		if err != nil {
			return 0, err
		}
		return res.InputTokens, nil
	}
	const text = "Hello, world. How many tokens is this sentence?"
	n, err := count("gpt-test", text)
	if err != nil {
		t.Fatal(err)
	}
	// The text under gpt-4o-mini's vocabulary, 3 tokens of message framing
	// and 3 priming the reply.
	if want := int64(tokens.Count("gpt-4o-mini", text) + 6); n != want {
		t.Errorf("count_tokens = %d, want %d", n, want)
	}
	if longer, _ := count("gpt-test", strings.Repeat(text, 10)); longer <= n {
		t.Errorf("ten times the text counts %d, once %d", longer, n)
	}
	_, err = count("no-such-model", text)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Type() != "not_found_error" {
		t.Errorf("unknown model: %v", err)
	}
}

func TestMessagesErrors(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Status: 429, Header: map[string]string{"Retry-After": "3"},
		Body: []byte(`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)})
	g := start(t, messagesConfig(up.URL), nil)
	demoOnly := g.newKey(t, `{"models":["demo"]}`)
	params := func(model string) anthropic.MessageNewParams {
		return anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 16, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
	}
	for _, tc := range []struct {
		name, key, model, typ string
		status                int
	}{
		{"unknown model", masterKey, "nope", "not_found_error", 404},
		{"wrong key", "sk-wrong-key-0000000000000", "demo", "authentication_error", 401},
		{"model not allowed", demoOnly, "gpt-test", "permission_error", 403},
		{"upstream 429", masterKey, "gpt-test", "rate_limit_error", 429},
	} {
		for _, stream := range []bool{false, true} {
			c := g.anthropicClient(option.WithAPIKey(tc.key))
			var err error
			if stream {
				s := c.Messages.NewStreaming(context.Background(), params(tc.model))
				for s.Next() {
				}
				err = s.Err()
			} else {
				_, err = c.Messages.New(context.Background(), params(tc.model))
			}
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || string(apiErr.Type()) != tc.typ {
				t.Errorf("%s (stream %v): err = %v, want %d %s", tc.name, stream, err, tc.status, tc.typ)
				continue
			}
			if tc.status == 429 && apiErr.Response.Header.Get("Retry-After") != "3" {
				t.Errorf("Retry-After not passed through: %q", apiErr.Response.Header.Get("Retry-After"))
			}
		}
	}
	// Requests the converter refuses never reach the upstream, and say why
	// in Anthropic's shape.
	before := len(up.Requests())
	for body, want := range map[string]string{
		`{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`:                                 "max_tokens: Field required",
		`{"model":"gpt-test","max_tokens":5,"n":3,"messages":[]}`:                                          "n: Extra inputs are not permitted",
		`{"model":"gpt-test","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_use"}]}]}`: "tool_use",
	} {
		req, _ := http.NewRequest("POST", g.url+"/v1/messages", strings.NewReader(body))
		req.Header.Set("x-api-key", masterKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Type  string `json:"type"`
			Error struct{ Type, Message string }
		}
		if resp.StatusCode != 400 || json.Unmarshal(b, &e) != nil || e.Type != "error" || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, want) {
			t.Errorf("%s: %d %s", body, resp.StatusCode, b)
		}
	}
	if len(up.Requests()) != before {
		t.Error("a refused request reached the upstream")
	}
}

// TestMessagesRoundTripToAnthropicProvider is Claude Code's path: the
// Anthropic SDK → /v1/messages → the chat pipeline → the "anthropic/"
// translator → Anthropic. Everything Anthropic-specific (cache_control,
// signed thinking, top_k, images, tool results) has to cross two
// conversions and arrive as the client sent it, and the answer has to come
// back as Anthropic gave it.
func TestMessagesRoundTripToAnthropicProvider(t *testing.T) {
	sse := func(name, data string) []byte { return []byte("event: " + name + "\ndata: " + data + "\n\n") }
	events := [][]byte{
		sse("message_start", `{"type":"message_start","message":{"id":"msg_01Up","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-20250514","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":40,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":1}}}`),
		sse("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`),
		sse("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Paris is in France."}}`),
		sse("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBsig=="}}`),
		sse("content_block_stop", `{"type":"content_block_stop","index":0}`),
		sse("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`),
		sse("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Checking."}}`),
		sse("content_block_stop", `{"type":"content_block_stop","index":1}`),
		sse("content_block_start", `{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01Paris","name":"get_weather","input":{}}}`),
		sse("content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"Pa"}}`),
		sse("content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ris\"}"}}`),
		sse("content_block_stop", `{"type":"content_block_stop","index":2}`),
		sse("message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":55}}`),
		sse("message_stop", `{"type":"message_stop"}`),
	}
	up := providertest.NewUpstream(t, providertest.Reply{Events: events})
	g := start(t, fmt.Sprintf(`model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-20250514
      api_base: %s
      api_key: sk-ant-api03-e2e-upstream-secret-000
general_settings:
  master_key: %s
`, up.URL, masterKey), nil)
	c := g.anthropicClient(option.WithAPIKey(masterKey))
	params := anthropic.MessageNewParams{
		Model:     "claude",
		MaxTokens: 4096,
		TopK:      anthropic.Int(20),
		Thinking:  anthropic.ThinkingConfigParamOfEnabled(2048),
		System:    []anthropic.TextBlockParam{{Text: "You are Claude Code.", CacheControl: anthropic.NewCacheControlEphemeralParam()}},
		Tools:     []anthropic.ToolUnionParam{messagesWeatherTool},
		Messages: []anthropic.MessageParam{
			anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Lyon? See the map."), anthropic.NewImageBlockBase64("image/png", pixelPNG)),
			{Role: anthropic.MessageParamRoleAssistant, Content: []anthropic.ContentBlockParamUnion{
				anthropic.NewThinkingBlock("EqQBprev==", "Lyon first."),
				anthropic.NewRedactedThinkingBlock("EmwKredacted"),
				anthropic.NewToolUseBlock("toolu_01Lyon", map[string]any{"location": "Lyon"}, "get_weather"),
			}},
			anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_01Lyon", "12C", false), anthropic.NewTextBlock("Now Paris.")),
		},
	}
	stream := c.Messages.NewStreaming(context.Background(), params)
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("%v\n%s", err, g.logs)
	}
	if len(msg.Content) != 3 || msg.StopReason != anthropic.StopReasonToolUse {
		t.Fatalf("accumulated %s", msg.RawJSON())
	}
	if th := msg.Content[0].AsThinking(); th.Thinking != "Paris is in France." || th.Signature != "EqQBsig==" {
		t.Errorf("thinking %+v", th)
	}
	var input struct{ Location string }
	if tu := msg.Content[2].AsToolUse(); msg.Content[1].Text != "Checking." || tu.ID != "toolu_01Paris" || json.Unmarshal(tu.Input, &input) != nil || input.Location != "Paris" {
		t.Errorf("content %s", msg.RawJSON())
	}
	if msg.ID != "msg_01Up" || msg.Model != "claude" {
		t.Errorf("id %q, model %q", msg.ID, msg.Model)
	}
	if u := msg.Usage; u.InputTokens != 40 || u.CacheCreationInputTokens != 100 || u.CacheReadInputTokens != 2000 || u.OutputTokens != 55 {
		t.Errorf("usage %+v", u)
	}

	// Not streamed: the same answer, as Anthropic sends it whole.
	up.SetReply(providertest.Reply{Body: []byte(`{"id":"msg_01Whole","type":"message","role":"assistant","model":"claude-sonnet-4-20250514",` +
		`"content":[{"type":"thinking","thinking":"Paris is in France.","signature":"EqQBsig=="},{"type":"redacted_thinking","data":"EmwKnew"},{"type":"text","text":"Checking."},` +
		`{"type":"tool_use","id":"toolu_01Paris","name":"get_weather","input":{"location":"Paris"}}],` +
		`"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":40,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":55}}`)})
	whole, err := c.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if whole.ID != "msg_01Whole" || len(whole.Content) != 4 || whole.Content[0].Signature != "EqQBsig==" || whole.Content[1].Data != "EmwKnew" ||
		whole.Content[2].Text != "Checking." || string(whole.Content[3].Input) != `{"location":"Paris"}` || whole.StopReason != anthropic.StopReasonToolUse ||
		whole.Usage.InputTokens != 40 || whole.Usage.CacheReadInputTokens != 2000 || whole.Usage.CacheCreationInputTokens != 100 || whole.Usage.OutputTokens != 55 {
		t.Errorf("message %s", whole.RawJSON())
	}

	// What Anthropic received is what the client sent.
	var got struct {
		Model    string          `json:"model"`
		TopK     int             `json:"top_k"`
		Thinking json.RawMessage `json:"thinking"`
		Stream   bool            `json:"stream"`
		System   json.RawMessage `json:"system"`
		Tools    json.RawMessage `json:"tools"`
		Messages []struct {
			Role    string            `json:"role"`
			Content []json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	body := up.Requests()[0].Body
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	compact := func(s string) string {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%v: %s", err, s)
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	checks := []struct{ what, got, want string }{
		{"model", got.Model, "claude-sonnet-4-20250514"},
		{"top_k", fmt.Sprint(got.TopK), "20"},
		{"thinking", compact(string(got.Thinking)), `{"budget_tokens":2048,"type":"enabled"}`},
		{"system", compact(string(got.System)), `[{"cache_control":{"type":"ephemeral"},"text":"You are Claude Code.","type":"text"}]`},
		{"tool", compact(string(got.Tools)), `[{"description":"Get the current weather in a given location","input_schema":{"properties":{"location":{"type":"string"}},"required":["location"],"type":"object"},"name":"get_weather"}]`},
	}
	if len(got.Messages) == 3 && len(got.Messages[0].Content) == 2 && len(got.Messages[1].Content) == 3 && len(got.Messages[2].Content) == 2 {
		checks = append(checks,
			struct{ what, got, want string }{"image", compact(string(got.Messages[0].Content[1])), `{"source":{"data":"` + pixelPNG + `","media_type":"image/png","type":"base64"},"type":"image"}`},
			struct{ what, got, want string }{"thinking block", compact(string(got.Messages[1].Content[0])), `{"signature":"EqQBprev==","thinking":"Lyon first.","type":"thinking"}`},
			struct{ what, got, want string }{"redacted thinking", compact(string(got.Messages[1].Content[1])), `{"data":"EmwKredacted","type":"redacted_thinking"}`},
			struct{ what, got, want string }{"tool_use", compact(string(got.Messages[1].Content[2])), `{"id":"toolu_01Lyon","input":{"location":"Lyon"},"name":"get_weather","type":"tool_use"}`},
			struct{ what, got, want string }{"tool_result", compact(string(got.Messages[2].Content[0])), `{"content":"12C","tool_use_id":"toolu_01Lyon","type":"tool_result"}`},
		)
	} else {
		t.Errorf("messages reached Anthropic reshaped: %s", body)
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: Anthropic got %s, want %s", c.what, c.got, c.want)
		}
	}
}
