// Package tokens counts tokens locally, for the rare answer whose provider
// reports no usage (an OpenAI-compatible server that ignores
// stream_options.include_usage, a body without "usage"), so that such a
// request is still priced instead of being free. The vocabularies are
// embedded (github.com/tiktoken-go/tokenizer) and loaded on first use, so
// a gateway that never needs them never pays for them.
package tokens

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"

	"github.com/switchboard-gw/switchboard/internal/openai"
)

// Loading a vocabulary takes tens of milliseconds and megabytes; each is
// loaded once, when first needed, and is read-only afterwards.
var (
	o200k  = sync.OnceValue(func() tokenizer.Codec { return mustGet(tokenizer.O200kBase) })
	cl100k = sync.OnceValue(func() tokenizer.Codec { return mustGet(tokenizer.Cl100kBase) })
)

func mustGet(e tokenizer.Encoding) tokenizer.Codec {
	c, err := tokenizer.Get(e)
	if err != nil {
		panic("tokens: embedded vocabulary " + string(e) + " missing: " + err.Error())
	}
	return c
}

// codecFor picks OpenAI's encoding for model (with or without a provider
// prefix): o200k_base for the GPT-4o generation onwards, cl100k_base for
// everything else. For other vendors' models the count is an estimate, as
// LiteLLM's is: their tokenizers are not public or not embedded.
func codecFor(model string) tokenizer.Codec {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	for _, p := range []string{"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "gpt-oss"} {
		if strings.HasPrefix(model, p) {
			return o200k()
		}
	}
	return cl100k()
}

// Count returns the number of tokens in text under model's encoding.
func Count(model, text string) int {
	if text == "" {
		return 0
	}
	n, err := codecFor(model).Count(text)
	if err != nil {
		// Invalid UTF-8 and the like: a byte-based estimate beats nothing.
		return (len(text) + 3) / 4
	}
	return n
}

// Per-message framing of a chat prompt, as OpenAI documents it for its
// models: each message costs 3 tokens beyond its text (4 with a name: one
// more), and the reply is primed with 3.
const (
	perMessage = 3
	perName    = 1
	perReply   = 3
)

// Prompt counts the prompt of an OpenAI chat or completions request body:
// message texts, tool calls and tool definitions, plus OpenAI's framing.
// An undecodable body counts as its bytes / 4.
func Prompt(model string, body []byte) int {
	var r struct {
		openai.ChatRequest
		Prompt json.RawMessage `json:"prompt"`
	}
	if json.Unmarshal(body, &r) != nil {
		return (len(body) + 3) / 4
	}
	if len(r.Prompt) > 0 {
		var one string
		if json.Unmarshal(r.Prompt, &one) == nil {
			return Count(model, one)
		}
		var many []string
		if json.Unmarshal(r.Prompt, &many) == nil {
			n := 0
			for _, s := range many {
				n += Count(model, s)
			}
			return n
		}
		return (len(r.Prompt) + 3) / 4
	}
	n := perReply
	for i := range r.Messages {
		m := &r.Messages[i]
		n += perMessage + Count(model, m.Role) + Count(model, m.Content.JoinedText())
		if m.Name != "" {
			n += perName + Count(model, m.Name)
		}
		for _, tc := range m.ToolCalls {
			n += Count(model, tc.Function.Name) + Count(model, tc.Function.Arguments)
		}
	}
	for _, t := range r.Tools {
		// Tool definitions reach the model as text; their JSON is a close
		// enough stand-in for the format OpenAI renders them in.
		n += Count(model, t.Function.Name) + Count(model, t.Function.Description) + Count(model, string(t.Function.Parameters))
	}
	return n
}
