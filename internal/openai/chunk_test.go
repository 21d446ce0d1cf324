package openai

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestChunkWriterEmitsWhatClientsParse(t *testing.T) {
	var w ChunkWriter
	w.Init("chatcmpl-1", `m"x`, 1700000000, true)
	var b []byte
	b = w.Role(b)
	b = w.Content(b, "hé\n\"")
	b = w.ToolCallStart(b, 0, "call_1", "get_weather")
	b = w.ToolCallArgs(b, 0, `{"city":`)
	b = w.Finish(b, "tool_calls")
	b = w.Usage(b, Usage{PromptTokens: 10, CompletionTokens: 5, CachedTokens: 4, ReasoningTokens: 2})
	b = Done(b)
	events := strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n")
	if len(events) != 7 || events[6] != "data: [DONE]" {
		t.Fatalf("events: %q", events)
	}
	var args strings.Builder
	for i, ev := range events[:6] {
		var c ChatChunk
		if err := json.Unmarshal([]byte(strings.TrimPrefix(ev, "data: ")), &c); err != nil {
			t.Fatalf("event %d %s: %v", i, ev, err)
		}
		if c.ID != "chatcmpl-1" || c.Model != `m"x` || c.Object != "chat.completion.chunk" || c.Created != 1700000000 {
			t.Errorf("event %d header: %+v", i, c)
		}
		if i < 5 && (len(c.Choices) != 1 || c.Usage != nil) {
			t.Errorf("event %d: want one choice and usage null: %s", i, ev)
		}
		for _, ch := range c.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				args.WriteString(tc.Function.Arguments)
			}
		}
		if i == 1 && *c.Choices[0].Delta.Content != "hé\n\"" {
			t.Errorf("content: %q", *c.Choices[0].Delta.Content)
		}
		if i == 4 && *c.Choices[0].FinishReason != "tool_calls" {
			t.Errorf("finish: %s", ev)
		}
		if i == 5 {
			u := c.Usage
			if len(c.Choices) != 0 || u == nil || u.TotalTokens != 15 || u.PromptTokensDetails.CachedTokens != 4 || u.CompletionTokensDetails.ReasoningTokens != 2 {
				t.Errorf("usage chunk: %s", ev)
			}
		}
	}
	if args.String() != `{"city":` {
		t.Errorf("arguments: %q", args.String())
	}
}

func TestChatRequestDecodesEveryContentShape(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"system","content":"s"},
	 {"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}}]},
	 {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
	 {"role":"tool","tool_call_id":"c1","content":"r"}],
	 "stop":"END","tool_choice":{"type":"function","function":{"name":"f"}}}`
	var r ChatRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Messages) != 4 || r.Messages[0].Content.Text != "s" || !r.Messages[1].Content.IsParts || !r.Messages[2].Content.IsNull {
		t.Fatalf("messages: %+v", r.Messages)
	}
	if mime, data, ok := DataURL(r.Messages[1].Content.Parts[1].ImageURL.URL); !ok || mime != "image/png" || data != "iVBO" {
		t.Errorf("data URL: %q %q %v", mime, data, ok)
	}
	if len(r.Stop) != 1 || r.Stop[0] != "END" {
		t.Errorf("stop: %v", r.Stop)
	}
	if tc, err := ParseToolChoice(r.ToolChoice); err != nil || tc.Mode != "function" || tc.Function != "f" {
		t.Errorf("tool_choice: %+v %v", tc, err)
	}
	if r.Messages[1].Content.JoinedText() != "a" {
		t.Errorf("joined: %q", r.Messages[1].Content.JoinedText())
	}
	var bad ChatRequest
	if err := json.Unmarshal([]byte(`{"messages":[{"role":"user","content":5}]}`), &bad); err == nil {
		t.Error("numeric content accepted")
	}
}

func TestEachMember(t *testing.T) {
	var names []string
	EachMember([]byte(` {"a":1, "b" : {"x":[1,"}"]},"c":"d\"e","e":null}`), func(n, v []byte) bool {
		names = append(names, string(n)+"="+string(v))
		return true
	})
	if got := strings.Join(names, " "); got != `a=1 b={"x":[1,"}"]} c="d\"e" e=null` {
		t.Errorf("members: %s", got)
	}
}
