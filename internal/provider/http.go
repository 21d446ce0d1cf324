package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// Codec is the wire-format half of an HTTP provider: requests out, answers in.
// A Codec holds no per-request state; per-stream state lives in the
// StreamDecoder it returns.
type Codec interface {
	// BuildRequest fills req (URL, headers, body) for one attempt of c.
	BuildRequest(c *Call, req *upstream.Request) error
	// DecodeError classifies a non-2xx upstream answer.
	DecodeError(c *Call, status int, resp *upstream.Response, body []byte) *Error
	// DecodeBody turns a 2xx non-streamed body into the client body, appended
	// to dst (or returned as body itself when nothing changes).
	DecodeBody(c *Call, body, dst []byte) ([]byte, openai.Usage, error)
	// NewStreamDecoder returns the translator of one upstream SSE stream.
	NewStreamDecoder(c *Call) StreamDecoder
}

// EventReader splits a streamed upstream body into events. sse.Reader is
// the default; a codec whose provider streams another framing (NDJSON, the
// AWS event stream) implements FramedCodec and presents each frame as an
// sse.Event (Name: the event type, Data: the payload).
type EventReader interface {
	Next() (sse.Event, error)
	// Buffered reports whether another event may be ready without a read.
	Buffered() bool
}

// FramedCodec is a Codec whose streams are not SSE.
type FramedCodec interface {
	Codec
	NewEventReader(body io.Reader) EventReader
}

// StreamDecoder turns upstream SSE events into client-ready bytes. A
// decoder that is also a Releaser is released when its stream closes.
type StreamDecoder interface {
	// Event appends the client bytes for one upstream event to dst; done
	// reports the upstream's terminal event. An error ends the stream (an
	// upstream error event, for example), after the bytes appended with it.
	Event(ev sse.Event, dst []byte) (out []byte, done bool, err error)
	// Usage is the usage seen so far.
	Usage() openai.Usage
}

// ErrTruncated marks a stream the upstream ended without its terminal event.
var ErrTruncated = errors.New("upstream stream ended before it was complete")

// truncated classifies the end of an upstream stream that was not complete:
// a clean EOF without the terminal event, a cut connection, a broken chunk.
// A cancelled request stays recognisable as such through the cause.
func truncated(err error) *Error {
	cause := fmt.Errorf("%w: %w", ErrTruncated, err)
	if err == io.EOF {
		cause = ErrTruncated
	}
	return &Error{Status: http.StatusBadGateway, Type: "api_error", Code: "upstream_stream_truncated",
		Message: "the upstream stream ended before it was complete", MayHaveBeenSent: true, Cause: cause}
}

// HTTP is a Provider that speaks to an upstream over HTTP through a Codec.
type HTTP struct {
	name   string
	ops    []Op
	client *upstream.Client
	codec  Codec
}

// NewHTTP returns a provider named name serving ops through codec.
func NewHTTP(name string, client *upstream.Client, codec Codec, ops ...Op) *HTTP {
	return &HTTP{name: name, ops: ops, client: client, codec: codec}
}

// Name implements Provider.
func (h *HTTP) Name() string { return h.name }

// Supports implements Provider.
func (h *HTTP) Supports(op Op) bool {
	for _, o := range h.ops {
		if o == op {
			return true
		}
	}
	return false
}

// maxErrorBody bounds how much of an upstream error body is read.
const maxErrorBody = 1 << 20

// Send implements Provider.
func (h *HTTP) Send(ctx context.Context, c *Call, res *Result) error {
	streamed := c.Stream() || c.Op == OpSpeech
	req := upstream.AcquireRequest()
	if err := h.codec.BuildRequest(c, req); err != nil {
		upstream.ReleaseRequest(req)
		return err
	}
	d := c.Deployment
	if d.Signer != nil {
		if err := d.Signer.Sign(ctx, req); err != nil {
			upstream.ReleaseRequest(req)
			return credentialError(c, err)
		}
	}
	start := time.Now()
	resp, err := h.client.Do(ctx, req, upstream.DoOptions{Stream: streamed, FirstByteTimeout: d.StreamTimeout, Timeout: d.Timeout})
	upstream.ReleaseRequest(req)
	if err != nil {
		return h.transportError(ctx, c, err)
	}
	latency := time.Since(start)

	status := resp.StatusCode()
	if status < 200 || status > 299 {
		body := resp.Body()
		if streamed {
			body, _ = io.ReadAll(io.LimitReader(resp.BodyStream(), maxErrorBody))
		}
		e := h.codec.DecodeError(c, status, resp, body)
		if e.RetryAfter == 0 {
			e.RetryAfter = parseRetryAfter(resp.Header("Retry-After"))
		}
		resp.Release()
		return e
	}

	*res = Result{Status: http.StatusOK, UpstreamLatency: latency}
	switch {
	case !streamed:
		out, usage, err := h.codec.DecodeBody(c, resp.Body(), nil)
		if err != nil {
			resp.Release()
			return err
		}
		// The client asked in JSON and is answered in JSON whatever label
		// the upstream put on it (translating codecs always produce JSON);
		// only multipart operations (transcripts as text, srt, vtt) keep it.
		ct := "application/json"
		if !c.Op.JSONBody() {
			ct = contentType(resp.ContentType())
		}
		res.ContentType, res.Body, res.Usage, res.Owner = ct, out, usage, resp
	case c.Op == OpSpeech:
		res.ContentType, res.Stream = string(resp.ContentType()), &rawStream{resp: resp, r: resp.BodyStream(), usage: speechUsage(c.Body)}
	default:
		s := sseStreams.Get().(*sseStream)
		s.resp, s.dec, s.finished = resp, h.codec.NewStreamDecoder(c), false
		if fc, ok := h.codec.(FramedCodec); ok {
			s.events = fc.NewEventReader(resp.BodyStream())
		} else {
			s.sse.Reset(resp.BodyStream())
			s.events = s.sse
		}
		res.ContentType, res.Stream = "text/event-stream", s
	}
	return nil
}

// credentialError is a failure to sign a request: the deployment's
// credentials are missing, expired or could not be refreshed. Another
// deployment may have working ones.
func credentialError(c *Call, err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Status: http.StatusBadGateway, Type: "api_error", Code: "upstream_credentials",
		Message:   "could not authenticate to " + c.Deployment.Provider + " for model " + c.Deployment.ModelName + ": " + Redact(err.Error(), c.Deployment.APIKey),
		Retryable: true, Cause: err}
}

// transportError classifies a failure to get an answer at all.
func (h *HTTP) transportError(ctx context.Context, c *Call, err error) *Error {
	sent := upstream.MayHaveBeenSent(err)
	where := h.name + " (" + c.Deployment.Model + ")"
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return &Error{Status: StatusClientClosed, Type: "client_closed", Message: "client closed the request", MayHaveBeenSent: sent, Cause: err}
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return &Error{Status: http.StatusGatewayTimeout, Type: "timeout", Code: "timeout", Message: "request timed out waiting for " + where, MayHaveBeenSent: sent, Cause: err}
	case errors.Is(err, upstream.ErrFirstByteTimeout):
		return &Error{Status: http.StatusGatewayTimeout, Type: "timeout", Code: "timeout", Message: "no response from " + where + " within stream_timeout", Retryable: true, MayHaveBeenSent: sent, Cause: err}
	case errors.Is(err, upstream.ErrTimeout):
		return &Error{Status: http.StatusGatewayTimeout, Type: "timeout", Code: "timeout", Message: "no complete response from " + where + " within timeout", Retryable: true, MayHaveBeenSent: sent, Cause: err}
	case errors.Is(err, upstream.ErrBodyTooLarge):
		return &Error{Status: http.StatusBadGateway, Type: "api_error", Code: "upstream_response_too_large", Message: "response from " + where + " is too large", MayHaveBeenSent: true, Cause: err}
	}
	return &Error{Status: http.StatusBadGateway, Type: "api_error", Code: "upstream_unreachable", Message: "could not reach " + where, Retryable: true, MayHaveBeenSent: sent, Cause: err}
}

// contentType keeps the common JSON case free of an allocation.
func contentType(ct []byte) string {
	if len(ct) == 0 || bytes.HasPrefix(ct, []byte("application/json")) {
		return "application/json"
	}
	return string(ct)
}

// StatusClientClosed is the nginx convention for a client that went away; it
// is logged and counted, never written.
const StatusClientClosed = 499

func parseRetryAfter(v []byte) time.Duration {
	if len(v) == 0 {
		return 0
	}
	if n, err := strconv.ParseFloat(string(v), 64); err == nil && n > 0 {
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(string(v)); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// sseStream relays an upstream SSE stream through a StreamDecoder. It is
// pooled with its reader, whose buffer is the largest per-stream allocation.
type sseStream struct {
	resp     *upstream.Response
	sse      *sse.Reader // kept across uses; events is it for SSE upstreams
	events   EventReader
	dec      StreamDecoder
	finished bool
}

var sseStreams = sync.Pool{New: func() any { return &sseStream{sse: sse.NewReader(nil, 0)} }}

func (s *sseStream) Next(dst []byte) ([]byte, error) {
	if s.finished {
		return dst, io.EOF
	}
	start := len(dst)
	for {
		ev, err := s.events.Next()
		if err != nil {
			s.finished = true
			return dst, truncated(err)
		}
		var done bool
		dst, done, err = s.dec.Event(ev, dst)
		if err != nil {
			s.finished = true
			return dst, err
		}
		if done {
			s.finished = true
			return dst, io.EOF
		}
		// Events that arrived together leave together: each is sent as soon
		// as it is here, but one write for several saves a syscall apiece.
		if len(dst) > start && (len(dst) >= coalesceLimit || !s.events.Buffered()) {
			return dst, nil
		}
	}
}

// coalesceLimit matches the server's chunk buffer, so a batch is one write.
const coalesceLimit = 4 << 10

func (s *sseStream) Usage() openai.Usage { return s.dec.Usage() }

// Close drains what follows the terminal event (normally just the chunked
// terminator, already buffered) so the connection can be reused.
func (s *sseStream) Close() {
	if s.finished {
		for {
			if _, err := s.events.Next(); err != nil {
				break
			}
		}
	}
	s.resp.Release()
	if r, ok := s.dec.(Releaser); ok {
		r.Release()
	}
	s.sse.Reset(nil)
	s.resp, s.dec, s.events = nil, nil, nil
	sseStreams.Put(s)
}

// rawStream relays a binary body (audio) as it arrives.
type rawStream struct {
	resp  *upstream.Response
	r     io.Reader
	done  bool
	usage openai.Usage
}

// speechUsage is what synthesised speech is priced by: the characters of
// the request's "input" (OpenAI prices tts-1 per character).
func speechUsage(body []byte) openai.Usage {
	var r struct {
		Input string `json:"input"`
	}
	if json.Unmarshal(body, &r) != nil {
		return openai.Usage{}
	}
	return openai.Usage{Characters: int64(utf8.RuneCountInString(r.Input))}
}

const rawChunk = 32 << 10

func (s *rawStream) Next(dst []byte) ([]byte, error) {
	if s.done {
		return dst, io.EOF
	}
	n := len(dst)
	if cap(dst)-n < rawChunk {
		grown := make([]byte, n, n+rawChunk)
		copy(grown, dst)
		dst = grown
	}
	m, err := s.r.Read(dst[n : n+rawChunk])
	dst = dst[:n+m]
	if err == io.EOF {
		s.done = true
		return dst, io.EOF
	}
	if err != nil {
		s.done = true
		return dst, truncated(err)
	}
	return dst, nil
}

func (s *rawStream) Usage() openai.Usage { return s.usage }
func (s *rawStream) Close()              { s.resp.Release() }
