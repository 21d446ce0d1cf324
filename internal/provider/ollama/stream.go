package ollama

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/sse"
)

// stream translates Ollama's NDJSON lines into chat.completion.chunk
// events (chat, through /api/chat or /api/generate) or text_completion
// events (legacy completions). Ollama sends text deltas, thinking deltas
// and whole tool calls, and only its last line (done:true) carries the
// finish reason and the token counts.
type stream struct {
	call       *provider.Call
	completion bool
	wantUsage  bool
	started    bool
	calls      int // tool calls sent so far: the next OpenAI index
	usage      openai.Usage
	chunks     openai.ChunkWriter
	texts      textWriter
	a          answer
	ids        IDs
}

var streams = sync.Pool{New: func() any { return new(stream) }}

func newStream(c *provider.Call, ids IDs) *stream {
	s := streams.Get().(*stream)
	s.call, s.completion, s.wantUsage, s.ids = c, c.Op == provider.OpCompletion, c.ClientWantsUsage(), ids
	s.started, s.calls, s.usage = false, 0, openai.Usage{}
	return s
}

// Release implements provider.Releaser: the stream is over.
func (s *stream) Release() {
	s.call, s.ids = nil, nil
	if cap(s.a.content) > keepBuffer || cap(s.a.thinking) > keepBuffer {
		s.a = answer{}
	}
	streams.Put(s)
}

// Usage implements provider.StreamDecoder.
func (s *stream) Usage() openai.Usage { return s.usage }

// Event implements provider.StreamDecoder.
func (s *stream) Event(ev sse.Event, dst []byte) ([]byte, bool, error) {
	a := &s.a
	if err := a.parse(ev.Data); err != nil {
		return dst, false, &provider.Error{Status: http.StatusBadGateway, Type: "api_error", Code: "upstream_invalid_response",
			Message: s.call.Deployment.Provider + " sent a stream line that could not be read", MayHaveBeenSent: true, Cause: err}
	}
	if a.hasError {
		return dst, false, streamError(s.call, a.errMsg)
	}
	if !s.started {
		s.started = true
		ts := created(a.createdAt)
		if s.completion {
			s.texts.init(s.ids.make(completionPrefix), s.call.ClientModel, ts, s.wantUsage)
		} else {
			s.chunks.Init(s.ids.make(chatPrefix), s.call.ClientModel, ts, s.wantUsage)
			dst = s.chunks.Role(dst)
		}
	}
	if s.completion {
		if len(a.content) > 0 {
			dst = s.texts.text(dst, a.content, "")
		}
	} else {
		dst = s.chatDeltas(dst)
	}
	if !a.done {
		return dst, false, nil
	}
	if a.hasCounts {
		s.usage = a.usage()
	}
	reason := finishReason(a.doneReason, s.calls > 0)
	if s.completion {
		dst = s.texts.text(dst, nil, reason)
		if s.wantUsage {
			dst = s.texts.usageChunk(dst, s.usage)
		}
	} else {
		dst = s.chunks.Finish(dst, reason)
		if s.wantUsage {
			dst = s.chunks.Usage(dst, s.usage)
		}
	}
	return openai.Done(dst), true, nil
}

// chatDeltas appends the chunks for one line's thinking, text and tool
// calls. Ollama sends each tool call whole, so each becomes its opening
// delta (id, name) and one delta with all of its arguments.
func (s *stream) chatDeltas(dst []byte) []byte {
	a := &s.a
	if len(a.thinking) > 0 {
		dst = s.chunks.Reasoning(dst, string(a.thinking))
	}
	if len(a.content) > 0 {
		dst = s.chunks.Content(dst, string(a.content))
	}
	for i := range a.calls[:a.ncalls] {
		tc := &a.calls[i]
		id := string(tc.id)
		if id == "" {
			id = s.ids.make(callPrefix)
		}
		dst = s.chunks.ToolCallStart(dst, s.calls, id, string(tc.name))
		dst = s.chunks.ToolCallArgs(dst, s.calls, string(tc.args))
		s.calls++
	}
	return dst
}

// textWriter appends text_completion stream events, the legacy
// completions' counterpart of openai.ChunkWriter.
type textWriter struct {
	prefix    []byte // `data: {"id":…,"model":…,"choices":`
	usageNull bool
}

func (w *textWriter) init(id, model string, created int64, includeUsage bool) {
	b := append(w.prefix[:0], `data: {"id":`...)
	b = openai.AppendString(b, id)
	b = append(b, `,"object":"text_completion","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = openai.AppendString(b, model)
	b = append(b, `,"choices":`...)
	w.prefix, w.usageNull = b, includeUsage
}

// text appends a chunk with a text fragment; finish, when set, ends the
// choice.
func (w *textWriter) text(dst, text []byte, finish string) []byte {
	dst = append(dst, w.prefix...)
	dst = append(dst, `[{"text":`...)
	dst = appendText(dst, text)
	dst = append(dst, `,"index":0,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		dst = append(dst, "null"...)
	} else {
		dst = openai.AppendString(dst, finish)
	}
	dst = append(dst, "}]"...)
	if w.usageNull {
		dst = append(dst, `,"usage":null`...)
	}
	return append(dst, "}\n\n"...)
}

// usageChunk appends the usage-only chunk include_usage asks for.
func (w *textWriter) usageChunk(dst []byte, u openai.Usage) []byte {
	dst = append(dst, w.prefix...)
	dst = append(dst, `[],"usage":`...)
	dst = u.AppendJSON(dst)
	return append(dst, "}\n\n"...)
}
