package openai

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
)

// ChunkWriter appends chat.completion.chunk SSE events for a translated
// stream. Every chunk repeats the same id, created and model, so their
// common prefix is rendered once; a chunk is then a few appends, with no
// encoding/json on the per-event path.
type ChunkWriter struct {
	prefix []byte // `data: {"id":…,"model":…,"choices":`
	// usageNull: the client asked for include_usage, and OpenAI then sends
	// "usage":null on every chunk but the usage chunk.
	usageNull bool
}

// Init prepares w for one stream. model is the model name the client sent;
// includeUsage is the client's stream_options.include_usage.
func (w *ChunkWriter) Init(id, model string, created int64, includeUsage bool) {
	b := append(w.prefix[:0], `data: {"id":`...)
	b = AppendString(b, id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = AppendString(b, model)
	b = append(b, `,"choices":`...)
	w.prefix, w.usageNull = b, includeUsage
}

func (w *ChunkWriter) open(dst []byte) []byte {
	dst = append(dst, w.prefix...)
	return append(dst, `[{"index":0,"delta":`...)
}

func (w *ChunkWriter) close(dst []byte, finish string) []byte {
	dst = append(dst, `,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		dst = append(dst, "null"...)
	} else {
		dst = AppendString(dst, finish)
	}
	dst = append(dst, "}]"...)
	if w.usageNull {
		dst = append(dst, `,"usage":null`...)
	}
	return append(dst, "}\n\n"...)
}

// Role appends the first chunk: the assistant role with empty content.
func (w *ChunkWriter) Role(dst []byte) []byte {
	dst = w.open(dst)
	dst = append(dst, `{"role":"assistant","content":""}`...)
	return w.close(dst, "")
}

// Content appends a text delta.
func (w *ChunkWriter) Content(dst []byte, text string) []byte {
	dst = w.open(dst)
	dst = append(dst, `{"content":`...)
	dst = AppendString(dst, text)
	dst = append(dst, '}')
	return w.close(dst, "")
}

// Reasoning appends a reasoning_content delta (LiteLLM's field).
func (w *ChunkWriter) Reasoning(dst []byte, text string) []byte {
	dst = w.open(dst)
	dst = append(dst, `{"reasoning_content":`...)
	dst = AppendString(dst, text)
	dst = append(dst, '}')
	return w.close(dst, "")
}

// ThinkingBlock appends a delta carrying one complete thinking block (JSON
// object, e.g. Anthropic's {"type":"thinking","thinking":…,"signature":…}),
// so a client can send it back in the next turn.
func (w *ChunkWriter) ThinkingBlock(dst []byte, block json.RawMessage) []byte {
	dst = w.open(dst)
	dst = append(dst, `{"thinking_blocks":[`...)
	dst = append(dst, block...)
	dst = append(dst, "]}"...)
	return w.close(dst, "")
}

// ToolCallStart appends the first delta of tool call index: its id and
// name, with empty arguments.
func (w *ChunkWriter) ToolCallStart(dst []byte, index int, id, name string) []byte {
	dst = w.open(dst)
	dst = append(dst, `{"tool_calls":[{"index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"id":`...)
	dst = AppendString(dst, id)
	dst = append(dst, `,"type":"function","function":{"name":`...)
	dst = AppendString(dst, name)
	dst = append(dst, `,"arguments":""}}]}`...)
	return w.close(dst, "")
}

// ToolCallArgs appends a fragment of tool call index's arguments.
func (w *ChunkWriter) ToolCallArgs(dst []byte, index int, fragment string) []byte {
	dst = w.open(dst)
	dst = append(dst, `{"tool_calls":[{"index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"function":{"arguments":`...)
	dst = AppendString(dst, fragment)
	dst = append(dst, `}}]}`...)
	return w.close(dst, "")
}

// Finish appends the last content chunk: an empty delta and the reason.
func (w *ChunkWriter) Finish(dst []byte, reason string) []byte {
	dst = w.open(dst)
	dst = append(dst, "{}"...)
	return w.close(dst, reason)
}

// Usage appends the usage chunk (empty choices), which OpenAI sends last
// when the client set stream_options.include_usage.
func (w *ChunkWriter) Usage(dst []byte, u Usage) []byte {
	dst = append(dst, w.prefix...)
	dst = append(dst, `[],"usage":`...)
	dst = u.AppendJSON(dst)
	return append(dst, "}\n\n"...)
}

// Done appends the terminal "data: [DONE]" event.
func Done(dst []byte) []byte { return append(dst, "data: [DONE]\n\n"...) }

// AppendJSON appends u as OpenAI's usage object (with LiteLLM's cache
// counters when there are any).
func (u Usage) AppendJSON(dst []byte) []byte {
	total := u.TotalTokens
	if total == 0 {
		total = u.PromptTokens + u.CompletionTokens
	}
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, u.PromptTokens, 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, u.CompletionTokens, 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, total, 10)
	dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, u.CachedTokens, 10)
	if u.AudioPromptTokens > 0 {
		dst = append(dst, `,"audio_tokens":`...)
		dst = strconv.AppendInt(dst, u.AudioPromptTokens, 10)
	}
	if u.CacheWriteTokens > 0 {
		dst = append(dst, `,"cache_write_tokens":`...)
		dst = strconv.AppendInt(dst, u.CacheWriteTokens, 10)
	}
	dst = append(dst, '}')
	if u.ReasoningTokens > 0 || u.AudioCompletionTokens > 0 {
		dst = append(dst, `,"completion_tokens_details":{"reasoning_tokens":`...)
		dst = strconv.AppendInt(dst, u.ReasoningTokens, 10)
		if u.AudioCompletionTokens > 0 {
			dst = append(dst, `,"audio_tokens":`...)
			dst = strconv.AppendInt(dst, u.AudioCompletionTokens, 10)
		}
		dst = append(dst, '}')
	}
	if u.CacheWriteTokens > 0 {
		dst = append(dst, `,"cache_creation_input_tokens":`...)
		dst = strconv.AppendInt(dst, u.CacheWriteTokens, 10)
	}
	if u.CachedTokens > 0 {
		dst = append(dst, `,"cache_read_input_tokens":`...)
		dst = strconv.AppendInt(dst, u.CachedTokens, 10)
	}
	return append(dst, '}')
}

// NewCompletionID returns a fresh "chatcmpl-…" id for a provider whose
// answers carry none. Ids need to be unique, not secret.
func NewCompletionID() string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, len("chatcmpl-")+24)
	copy(b, "chatcmpl-")
	for i := len("chatcmpl-"); i < len(b); i++ {
		b[i] = digits[rand.IntN(len(digits))]
	}
	return string(b)
}
