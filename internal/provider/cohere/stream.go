package cohere

import (
	"bytes"
	"math"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
	"github.com/switchboard-gw/switchboard/internal/sse"
)

// stream turns Cohere's v2 chat events into chat.completion.chunk events.
// Cohere names every event twice (the SSE event name and the "type" in its
// data) and sends no [DONE]: message-end is the last event, and carries the
// finish reason and the usage.
type stream struct {
	call      *provider.Call
	created   int64
	wantUsage bool

	w       openai.ChunkWriter
	started bool
	usage   openai.Usage
	// tools maps Cohere's event index of each tool call to its OpenAI
	// index, in order of appearance. Calls are few: a slice beats a map.
	tools []toolSlot
	text  []byte // scratch for decoded strings
}

type toolSlot struct {
	cohere, openai int
	hasArgs        bool
}

var doneData = []byte("[DONE]")

// Event implements provider.StreamDecoder.
func (s *stream) Event(ev sse.Event, dst []byte) ([]byte, bool, error) {
	typ := ev.Name
	if len(typ) == 0 {
		typ, _ = rawjson.Inner(rawjson.Member(ev.Data, "type"))
	}
	switch string(typ) {
	case "message-start":
		if !s.started {
			id := s.decode(rawjson.Member(ev.Data, "id"))
			if id == "" {
				id = openai.NewCompletionID()
			}
			dst = s.start(dst, id)
		}
	case "content-start", "content-delta":
		// content-start may already carry text; content-delta always does.
		var text, thinking []byte // one pass over the content: one per token
		for it := rawjson.Members(rawjson.Path(ev.Data, "delta", "message", "content")); it.Next(); {
			switch string(it.Name()) {
			case "text":
				text = it.Value()
			case "thinking":
				thinking = it.Value()
			}
		}
		if t := s.decode(thinking); t != "" {
			dst = s.w.Reasoning(s.ensureStarted(dst), t)
		}
		if t := s.decode(text); t != "" {
			dst = s.w.Content(s.ensureStarted(dst), t)
		}
	case "tool-plan-delta":
		// Cohere's plan before its tool calls is reasoning, in LiteLLM's
		// reasoning_content field (see the non-streamed tool_plan).
		if t := s.decode(rawjson.Path(ev.Data, "delta", "message", "tool_plan")); t != "" {
			dst = s.w.Reasoning(s.ensureStarted(dst), t)
		}
	case "tool-call-start":
		dst = s.toolCallStart(dst, ev.Data)
	case "tool-call-delta":
		t := s.tool(int(rawjson.Count(rawjson.Member(ev.Data, "index"))))
		if t == nil {
			// Arguments of a call whose start was never seen cannot be
			// attributed to an id and a name: there is nothing to send.
			break
		}
		if a := s.decode(rawjson.Path(ev.Data, "delta", "message", "tool_calls", "function", "arguments")); a != "" {
			t.hasArgs = true
			dst = s.w.ToolCallArgs(dst, t.openai, a)
		}
	case "tool-call-end":
		if t := s.tool(int(rawjson.Count(rawjson.Member(ev.Data, "index")))); t != nil {
			dst = s.closeTool(dst, t)
		}
	case "message-end":
		return s.end(dst, ev.Data)
	case "error":
		return dst, false, s.streamError(ev.Data)
	case "":
		switch {
		case bytes.Equal(bytes.TrimSpace(ev.Data), doneData):
			// cohere-go tolerates a [DONE] terminator; before message-end
			// it means the answer is incomplete.
			return dst, false, truncatedStream()
		case rawjson.Member(ev.Data, "message") != nil:
			// An error body ({"message": …}) sent in-band.
			return dst, false, s.streamError(ev.Data)
		}
	}
	// content-end, citation-start/-end, debug and types added
	// later carry nothing an OpenAI chunk has.
	return dst, false, nil
}

// Usage implements provider.StreamDecoder.
func (s *stream) Usage() openai.Usage { return s.usage }

func (s *stream) start(dst []byte, id string) []byte {
	s.w.Init(id, s.call.ClientModel, s.created, s.wantUsage)
	s.started = true
	return s.w.Role(dst)
}

// ensureStarted opens the answer for a stream that skipped message-start.
func (s *stream) ensureStarted(dst []byte) []byte {
	if s.started {
		return dst
	}
	return s.start(dst, openai.NewCompletionID())
}

// decode returns the text of a JSON string value, "" for anything else.
func (s *stream) decode(raw []byte) string {
	if len(raw) <= 2 {
		return ""
	}
	s.text = rawjson.AppendUnquote(s.text[:0], raw)
	return string(s.text)
}

// maxToolCalls bounds the calls of one answer, so that a stream cannot
// grow the decoder without limit.
const maxToolCalls = 1024

func (s *stream) toolCallStart(dst []byte, data []byte) []byte {
	cohereIdx := int(rawjson.Count(rawjson.Member(data, "index")))
	if s.tool(cohereIdx) != nil || len(s.tools) >= maxToolCalls {
		return dst
	}
	call := rawjson.Path(data, "delta", "message", "tool_calls")
	id := s.decode(rawjson.Member(call, "id"))
	if id == "" {
		id = openai.NewCompletionID()
	}
	name := s.decode(rawjson.Path(call, "function", "name"))
	idx := len(s.tools)
	s.tools = append(s.tools, toolSlot{cohere: cohereIdx, openai: idx})
	dst = s.w.ToolCallStart(s.ensureStarted(dst), idx, id, name)
	if a := s.decode(rawjson.Path(call, "function", "arguments")); a != "" {
		s.tools[idx].hasArgs = true
		dst = s.w.ToolCallArgs(dst, idx, a)
	}
	return dst
}

func (s *stream) tool(cohereIdx int) *toolSlot {
	for i := range s.tools {
		if s.tools[i].cohere == cohereIdx {
			return &s.tools[i]
		}
	}
	return nil
}

// closeTool gives a call that got no arguments the "{}" OpenAI writes for
// a function without parameters: clients parse arguments as JSON.
func (s *stream) closeTool(dst []byte, t *toolSlot) []byte {
	if !t.hasArgs {
		t.hasArgs = true
		dst = s.w.ToolCallArgs(dst, t.openai, "{}")
	}
	return dst
}

// end translates message-end: the finish chunk, the usage chunk when the
// client asked for it, and [DONE].
func (s *stream) end(dst []byte, data []byte) ([]byte, bool, error) {
	delta := rawjson.Member(data, "delta")
	if u := rawjson.Member(delta, "usage"); u != nil {
		s.usage = maxUsage(s.usage, readUsage(u))
	}
	reasonRaw, _ := rawjson.Inner(rawjson.Member(delta, "finish_reason"))
	if msg := s.decode(rawjson.Member(delta, "error")); msg != "" || isErrorReason(reasonRaw) {
		return dst, false, finishError(s.call, string(reasonRaw), msg)
	}
	for i := range s.tools {
		dst = s.closeTool(dst, &s.tools[i])
	}
	reason := finishReason(string(reasonRaw), len(s.tools) > 0)
	dst = s.w.Finish(s.ensureStarted(dst), reason)
	if s.wantUsage {
		dst = s.w.Usage(dst, s.usage)
	}
	return openai.Done(dst), true, nil
}

// maxUsage keeps the usage reported to the gateway from going backwards
// if an upstream ever repeated message-end with smaller counts.
func maxUsage(a, b openai.Usage) openai.Usage {
	if b.PromptTokens < a.PromptTokens || b.CompletionTokens < a.CompletionTokens {
		return a
	}
	return b
}

// readUsage reads Cohere's usage object. tokens.* are the tokens the model
// read and wrote; billed_units.* exclude what Cohere does not bill (its own
// prompt template, for one: 71 tokens read, 5 billed in cohere-go's
// recording). LiteLLM reports tokens.* as prompt/completion tokens and
// prices them, so Switchboard does the same; billed_units are used only
// when tokens are absent.
func readUsage(raw []byte) openai.Usage {
	src := rawjson.Member(raw, "tokens")
	if src == nil {
		src = rawjson.Member(raw, "billed_units")
	}
	u := openai.Usage{
		PromptTokens:     rawjson.Count(rawjson.Member(src, "input_tokens")),
		CompletionTokens: rawjson.Count(rawjson.Member(src, "output_tokens")),
		CachedTokens:     rawjson.Count(rawjson.Member(raw, "cached_tokens")),
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	if u.TotalTokens < 0 {
		u.TotalTokens = math.MaxInt64
	}
	return u
}

func (s *stream) streamError(data []byte) *provider.Error {
	msg := s.decode(rawjson.Member(data, "message"))
	if msg == "" {
		msg = "the upstream reported an error mid-stream"
	}
	return &provider.Error{Status: 502, Type: "api_error", Code: "upstream_error",
		Message: "cohere: " + provider.Redact(msg, s.call.Deployment.APIKey), MayHaveBeenSent: true}
}

func truncatedStream() *provider.Error {
	return &provider.Error{Status: 502, Type: "api_error", Code: "upstream_stream_truncated",
		Message: "the upstream stream ended before it was complete", MayHaveBeenSent: true}
}
