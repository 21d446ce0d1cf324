package gemini

import (
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
)

// chunkWriter appends chat.completion.chunk events. openai.ChunkWriter
// cannot serve here: Gemini answers n candidates at once (each chunk names
// its choice), tool calls carry provider_specific_fields, and text arrives
// as raw JSON string bodies that are copied without re-escaping.
type chunkWriter struct {
	// head is `data: {"id":…,"object":…,"created":…,"model":…,"choices":`.
	head      []byte
	usageNull bool
}

func (w *chunkWriter) init(id string, created int64, model string, includeUsage bool) {
	b := append(w.head[:0], `data: {"id":`...)
	b = openai.AppendString(b, id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = openai.AppendString(b, model)
	b = append(b, `,"choices":`...)
	w.head, w.usageNull = b, includeUsage
}

func (w *chunkWriter) open(dst []byte, choice int) []byte {
	dst = append(dst, w.head...)
	dst = append(dst, `[{"index":`...)
	dst = strconv.AppendInt(dst, int64(choice), 10)
	return append(dst, `,"delta":`...)
}

// close ends a chunk; logprobs is the choice's rendered logprobs or nil.
func (w *chunkWriter) close(dst, logprobs []byte, finish string) []byte {
	dst = append(dst, `,"logprobs":`...)
	if logprobs == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, logprobs...)
	}
	dst = append(dst, `,"finish_reason":`...)
	if finish == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(append(append(dst, '"'), finish...), '"')
	}
	dst = append(dst, "}]"...)
	if w.usageNull {
		dst = append(dst, `,"usage":null`...)
	}
	return append(dst, "}\n\n"...)
}

func (w *chunkWriter) role(dst []byte, choice int) []byte {
	dst = w.open(dst, choice)
	dst = append(dst, `{"role":"assistant","content":""}`...)
	return w.close(dst, nil, "")
}

// text appends a content (or, for thoughts, reasoning_content) delta whose
// text is a raw JSON string body.
func (w *chunkWriter) text(dst []byte, choice int, raw []byte, thought bool, logprobs []byte) []byte {
	dst = w.open(dst, choice)
	if thought {
		dst = append(dst, `{"reasoning_content":"`...)
	} else {
		dst = append(dst, `{"content":"`...)
	}
	dst = append(dst, raw...)
	dst = append(dst, `"}`...)
	return w.close(dst, logprobs, "")
}

// toolCall appends the two deltas of a whole function call: its header
// (id, name, empty arguments), then all of its arguments.
func (w *chunkWriter) toolCall(dst []byte, choice int, p *part, base string, n, index int) []byte {
	dst = w.open(dst, choice)
	dst = append(dst, `{"tool_calls":[`...)
	dst = appendToolCall(dst, p, base, n, index)
	dst = append(dst, "]}"...)
	dst = w.close(dst, nil, "")

	dst = w.open(dst, choice)
	dst = append(dst, `{"tool_calls":[{"index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"function":{"arguments":`...)
	dst = appendArguments(dst, p.args)
	dst = append(dst, "}}]}"...)
	return w.close(dst, nil, "")
}

func (w *chunkWriter) finish(dst []byte, choice int, reason string) []byte {
	dst = w.open(dst, choice)
	dst = append(dst, "{}"...)
	return w.close(dst, nil, reason)
}

func (w *chunkWriter) usage(dst []byte, u openai.Usage) []byte {
	dst = append(dst, w.head...)
	dst = append(dst, `[],"usage":`...)
	dst = u.AppendJSON(dst)
	return append(dst, "}\n\n"...)
}
