package openaicompat

import (
	"encoding/json"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/tokens"
)

// An upstream that ignores stream_options.include_usage, or answers without
// "usage", would make a request free. Such answers are counted locally
// instead, with OpenAI's tokenizers: exact for OpenAI models, an estimate
// for the rest. This runs once per such request, after the answer.

// estimateStream counts a stream's usage from the request and the
// generated text tapped on the way through (escaped, as ChunkInfo.Text).
func estimateStream(c *provider.Call, text []byte) openai.Usage {
	model := c.Deployment.Model
	u := openai.Usage{PromptTokens: int64(tokens.Prompt(model, c.Body))}
	u.CompletionTokens = int64(tokens.Count(model, string(openai.AppendUnescaped(nil, text))))
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// estimateBody counts the usage of a complete chat or completions answer.
func estimateBody(c *provider.Call, body []byte) openai.Usage {
	var r struct {
		Choices []struct {
			Text    string `json:"text"`
			Message struct {
				Content   openai.Content    `json:"content"`
				ToolCalls []openai.ToolCall `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
	}
	model := c.Deployment.Model
	u := openai.Usage{PromptTokens: int64(tokens.Prompt(model, c.Body))}
	if json.Unmarshal(body, &r) == nil {
		for _, ch := range r.Choices {
			n := tokens.Count(model, ch.Text) + tokens.Count(model, ch.Message.Content.JoinedText())
			for _, tc := range ch.Message.ToolCalls {
				n += tokens.Count(model, tc.Function.Name) + tokens.Count(model, tc.Function.Arguments)
			}
			u.CompletionTokens += int64(n)
		}
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// countsTokens reports whether op's answers are priced by tokens generated.
func countsTokens(op provider.Op) bool { return op == provider.OpChat || op == provider.OpCompletion }
