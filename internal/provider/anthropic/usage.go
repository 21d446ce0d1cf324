package anthropic

import (
	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// counts are Anthropic's usage counters. input excludes the cache reads
// and writes, which are counted apart.
type counts struct {
	input, output, cacheRead, cacheWrite, thinking int64
}

// update takes the counters present in an Anthropic usage object. A
// missing or null counter is no news, not zero: message_delta repeats only
// some of them on older API versions. The counters are cumulative, so a
// smaller value than one already seen is not taken either.
func (c *counts) update(obj []byte) {
	take := func(dst *int64, v []byte) {
		if n, ok := count(v); ok && n > *dst {
			*dst = n
		}
	}
	for it := rawjson.Members(obj); it.Next(); {
		switch string(it.Name()) {
		case "input_tokens":
			take(&c.input, it.Value())
		case "output_tokens":
			take(&c.output, it.Value())
		case "cache_read_input_tokens":
			take(&c.cacheRead, it.Value())
		case "cache_creation_input_tokens":
			take(&c.cacheWrite, it.Value())
		case "output_tokens_details":
			take(&c.thinking, rawjson.Member(it.Value(), "thinking_tokens"))
		}
	}
}

// usage is the counters in OpenAI's terms: prompt_tokens includes the
// cached and cache-written tokens, as OpenAI's cached tokens are part of
// its prompt count.
func (c *counts) usage() openai.Usage {
	prompt := c.input + c.cacheRead + c.cacheWrite
	return openai.Usage{
		PromptTokens:     prompt,
		CompletionTokens: c.output,
		TotalTokens:      prompt + c.output,
		CachedTokens:     c.cacheRead,
		CacheWriteTokens: c.cacheWrite,
		ReasoningTokens:  min(c.thinking, c.output),
	}
}

// finishReason maps stop_reason as LiteLLM's map_finish_reason does
// (unknown values are "stop"). toolCalls: the answer carries tool calls,
// whose finish reason OpenAI clients expect whatever the upstream said
// (tool_use for a call that was only the response_format tool is "stop").
func finishReason(stop []byte, toolCalls bool) string {
	switch {
	case rawjson.Is(stop, "max_tokens"), rawjson.Is(stop, "model_context_window_exceeded"), rawjson.Is(stop, "compaction"):
		return "length"
	case rawjson.Is(stop, "refusal"), rawjson.Is(stop, "content_filtered"):
		return "content_filter"
	case toolCalls:
		return "tool_calls"
	}
	return "stop"
}
