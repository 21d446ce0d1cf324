package gemini

import (
	"bytes"
	"io"
	"net/http"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/sse"
)

// A Gemini stream (streamGenerateContent?alt=sse) is a series of
// GenerateContentResponse events and simply ends: there is no terminal
// event, and the last usageMetadata is only known once the body is over.
// The codec is therefore a FramedCodec whose reader turns a clean end of
// the body into one last event, endOfStream, so the decoder can tell a
// finished stream (every candidate has its finishReason) from one cut
// short, which must not end with a made-up [DONE].
const endOfStream = "\x00end-of-stream"

// NewEventReader implements provider.FramedCodec.
func (Codec) NewEventReader(body io.Reader) provider.EventReader {
	r := sseReaders.Get().(*sse.Reader)
	r.Reset(body)
	return &eventReader{r: r}
}

// sseReaders keeps the readers (and their 32 KB buffers) of finished
// streams for the next ones.
var sseReaders = sync.Pool{New: func() any { return sse.NewReader(nil, 0) }}

type eventReader struct {
	r   *sse.Reader
	err error
}

func (e *eventReader) Next() (sse.Event, error) {
	if e.err != nil {
		return sse.Event{}, e.err
	}
	ev, err := e.r.Next()
	if err == nil {
		return ev, nil
	}
	// The reader is done with for good: nothing returned from it is still
	// in use, so it can serve another stream.
	e.r.Reset(nil)
	sseReaders.Put(e.r)
	e.r = nil
	e.err = err
	if err == io.EOF {
		return sse.Event{Name: []byte(endOfStream)}, nil
	}
	return sse.Event{}, err
}

func (e *eventReader) Buffered() bool { return e.r != nil && e.r.Buffered() }

// choiceState is what the stream remembers about one candidate.
type choiceState struct {
	started, finished bool
	calledTools       bool
	calls             int // tool call index within the choice
}

// stream translates one Gemini stream into chat.completion.chunk events.
type stream struct {
	codec     Codec
	call      *provider.Call
	wantUsage bool

	w       chunkWriter
	base    string
	inited  bool
	blocked bool
	calls   int // function calls so far, for unique ids
	choices []choiceState
	usage   usageMeta
	resp    response
}

func (s *stream) Usage() openai.Usage { return s.usage.openAI() }

func (s *stream) Event(ev sse.Event, dst []byte) ([]byte, bool, error) {
	if string(ev.Name) == endOfStream {
		return s.end(dst)
	}
	if len(bytes.TrimSpace(ev.Data)) == 0 {
		return dst, false, nil
	}
	r := &s.resp
	if !r.parse(ev.Data) {
		return dst, false, invalidStream(s.call)
	}
	if r.errObj != nil {
		return dst, false, statusError(s.call, 0, r.errObj, true)
	}
	if r.hasUsage {
		s.usage.merge(r.usage)
	}
	if !s.inited {
		s.inited = true
		s.base = s.codec.base(r.responseID)
		s.w.init("chatcmpl-"+s.base, s.codec.now(), s.call.ClientModel, s.wantUsage)
	}
	for i := range r.cands {
		if r.cands[i].index >= maxChoices {
			return dst, false, invalidStream(s.call)
		}
		dst = s.candidate(dst, &r.cands[i])
	}
	if len(r.cands) == 0 && r.blockReason != nil && !s.blocked {
		s.blocked = true
		st := s.choice(0)
		if !st.started {
			st.started = true
			dst = s.w.role(dst, 0)
		}
		if !st.finished {
			st.finished = true
			dst = s.w.open(dst, 0)
			dst = append(dst, `{"refusal":`...)
			dst = appendBlockRefusal(dst, r)
			dst = append(dst, '}')
			dst = s.w.close(dst, nil, "")
			dst = s.w.finish(dst, 0, "content_filter")
		}
	}
	return dst, false, nil
}

// maxChoices bounds candidate indexes (Gemini's candidateCount is at most
// 8), so a hostile index cannot grow the choice table without limit.
const maxChoices = 64

// choice returns the state of choice i, growing the table as candidates
// appear.
func (s *stream) choice(i int) *choiceState {
	for len(s.choices) <= i {
		s.choices = append(s.choices, choiceState{})
	}
	return &s.choices[i]
}

func (s *stream) candidate(dst []byte, c *candidate) []byte {
	st := s.choice(c.index)
	if st.finished {
		// Nothing may follow a choice's finish_reason.
		return dst
	}
	if !st.started {
		st.started = true
		dst = s.w.role(dst, c.index)
	}
	logprobs := renderLogprobs(c.logprobs)
	for i := c.first; i < c.end; i++ {
		p := &s.resp.parts[i]
		switch {
		case p.call:
			dst = s.w.toolCall(dst, c.index, p, s.base, s.calls, st.calls)
			s.calls++
			st.calls++
			st.calledTools = true
		case p.hasText && len(p.text) > 0:
			dst = s.w.text(dst, c.index, p.text, p.thought, logprobs)
			logprobs = nil
		}
	}
	if len(c.finish) > 0 {
		st.finished = true
		dst = s.w.finish(dst, c.index, finishReason(c.finish, st.calledTools))
	}
	return dst
}

// end handles the end of the upstream body: the stream is complete when
// every choice that started has finished (or the prompt was refused).
func (s *stream) end(dst []byte) ([]byte, bool, error) {
	complete := s.blocked || len(s.choices) > 0
	for i := range s.choices {
		if s.choices[i].started && !s.choices[i].finished {
			complete = false
		}
	}
	if !complete {
		return dst, true, &provider.Error{Status: http.StatusBadGateway, Type: "api_error", Code: "upstream_stream_truncated",
			Message: "the upstream stream ended before it was complete", MayHaveBeenSent: true, Cause: provider.ErrTruncated}
	}
	if s.wantUsage {
		dst = s.w.usage(dst, s.usage.openAI())
	}
	return openai.Done(dst), true, nil
}

func invalidStream(c *provider.Call) *provider.Error {
	return &provider.Error{Status: http.StatusBadGateway, Type: "api_error", Code: "upstream_invalid_response",
		Message: c.Deployment.Provider + " sent a stream event that is not a JSON object", MayHaveBeenSent: true}
}

func invalidResponse(c *provider.Call, what string) *provider.Error {
	return &provider.Error{Status: http.StatusBadGateway, Type: "api_error", Code: "upstream_invalid_response",
		Message: c.Deployment.Provider + " returned " + what, Retryable: true, MayHaveBeenSent: true}
}
