// Package proxy is the request pipeline of the inference routes: envelope →
// route → attempt → stream back → account. It knows nothing of the HTTP
// server that feeds it: requests arrive as a Request and answers leave
// through a Responder.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
	"github.com/switchboard-gw/switchboard/internal/sse"
)

// Request is one inference request as the server received it.
type Request struct {
	ID          string
	Op          provider.Op
	Body        []byte
	ContentType []byte
	// PathModel is the model named in the path (Azure-style
	// /openai/deployments/{model}/...); it wins over the body's.
	PathModel string
	// Received is when the server started handling the request.
	Received time.Time
}

// Responder is how the pipeline answers; the server implements it.
type Responder interface {
	// SetHeader sets a response header; only before Send or Stream.
	SetHeader(key string, value []byte)
	// Send writes a complete response.
	Send(status int, contentType string, body []byte)
	// Stream commits status and headers and calls fn with a writer whose
	// Flush delivers what was written. fn may run after Serve has returned.
	Stream(status int, contentType string, fn func(w StreamWriter))
}

// StreamWriter is the body of a committed streamed response.
type StreamWriter interface {
	Write(p []byte) (int, error)
	Flush() error
}

// Outcome is what happened to one request, for metrics and (later) the
// spend ledger.
type Outcome struct {
	RequestID  string
	Op         provider.Op
	Model      string // the model group ("" when it was unknown)
	Deployment *provider.Deployment
	Status     int
	Result     string // ok, error, truncated, cancelled
	Streamed   bool
	Usage      openai.Usage
	Start      time.Time
	FirstByte  time.Duration // stream: time to the first byte sent to the client
	Duration   time.Duration
	Err        error
}

// Observer receives every outcome. Implementations must not block.
type Observer interface {
	Observe(o *Outcome)
}

// Pipeline serves inference requests.
type Pipeline struct {
	Router   *router.Router
	Observer Observer
	Log      *slog.Logger
}

// Error is an error the server writes as the OpenAI envelope.
type Error = provider.Error

func badRequest(msg, param string) *Error {
	return &Error{Status: 400, Type: "invalid_request_error", Message: msg, Param: param}
}

// state is the per-request memory, pooled so the hot path does not allocate it.
type state struct {
	env     openai.Envelope
	call    provider.Call
	out     Outcome
	buf     []byte
	hdr     []byte
	pending error // the error that came with the first stream piece
}

var statePool = sync.Pool{New: func() any { return &state{buf: make([]byte, 0, 4096), hdr: make([]byte, 0, 32)} }}

func (st *state) release() {
	st.env = openai.Envelope{}
	st.call = provider.Call{}
	st.out = Outcome{}
	st.pending = nil
	if cap(st.buf) > 1<<20 {
		st.buf = make([]byte, 0, 4096)
	}
	st.buf = st.buf[:0]
	statePool.Put(st)
}

// Serve runs one request. An error returned before anything was written is
// for the server to write; once a stream is committed, failures are reported
// in-band and Serve's caller sees nil.
func (p *Pipeline) Serve(ctx context.Context, req *Request, w Responder) error {
	st := statePool.Get().(*state)
	st.out = Outcome{RequestID: req.ID, Op: req.Op, Start: req.Received}
	res, err := p.attempt(ctx, req, st)
	if err != nil {
		p.finish(st, err)
		return err
	}
	p.setHeaders(w, st, req, res.UpstreamLatency)
	if res.Stream == nil {
		w.Send(res.Status, res.ContentType, res.Body)
		st.out.Status, st.out.Usage = res.Status, res.Usage
		if res.Release != nil {
			res.Release()
		}
		p.finish(st, nil)
		return nil
	}
	st.out.Streamed = true
	w.Stream(res.Status, res.ContentType, func(sw StreamWriter) {
		p.relay(ctx, sw, res.Stream, st)
	})
	return nil
}

// attempt resolves the deployment and calls it. For streams it also reads the
// first piece, so that an upstream that fails before saying anything is still
// an ordinary error (and a retry candidate) rather than a broken stream.
func (p *Pipeline) attempt(ctx context.Context, req *Request, st *state) (*provider.Result, error) {
	model, err := p.model(req, st)
	if err != nil {
		return nil, err
	}
	dep, err := p.Router.Pick(model)
	if err != nil {
		return nil, &Error{Status: 404, Type: "not_found_error", Code: "model_not_found", Param: "model",
			Message: "model '" + model + "' is not served by this gateway; GET /v1/models lists the models you can use"}
	}
	st.out.Model, st.out.Deployment = model, dep
	if !dep.Impl.Supports(req.Op) {
		return nil, badRequest("model '"+model+"' ("+dep.Provider+") does not support "+req.Op.String(), "model")
	}
	st.call = provider.Call{Op: req.Op, Deployment: dep, Body: req.Body, ContentType: req.ContentType, ClientModel: model}
	if req.Op.JSONBody() {
		st.call.Envelope = &st.env
	}
	res, err := dep.Impl.Send(ctx, &st.call)
	if err != nil {
		return nil, err
	}
	if res.Stream != nil {
		st.buf, err = res.Stream.Next(st.buf[:0])
		if err != nil && err != io.EOF && len(st.buf) == 0 {
			res.Stream.Close()
			return nil, err
		}
		st.pending = err
	}
	return res, nil
}

// model validates the body and finds the model the client asked for.
func (p *Pipeline) model(req *Request, st *state) (string, error) {
	if req.Op.JSONBody() {
		if err := openai.ParseEnvelope(req.Body, &st.env); err != nil {
			var re *openai.RequestError
			if errors.As(err, &re) {
				return "", badRequest(re.Message, re.Param)
			}
			return "", badRequest(err.Error(), "")
		}
		if req.PathModel != "" {
			return req.PathModel, nil
		}
		if st.env.Model == "" {
			return "", badRequest("you must provide a model parameter", "model")
		}
		return st.env.Model, nil
	}
	if req.PathModel != "" {
		return req.PathModel, nil
	}
	m, err := multipartModel(req.Body, req.ContentType)
	if err != nil {
		return "", badRequest(err.Error(), "")
	}
	if m == "" {
		return "", badRequest("you must provide a model parameter", "model")
	}
	return m, nil
}

func multipartModel(body, contentType []byte) (string, error) {
	mt, params, err := mime.ParseMediaType(string(contentType))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", errors.New("expected a multipart/form-data body")
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			return "", errors.New("invalid multipart body: " + err.Error())
		}
		if part.FormName() == "model" {
			b, err := io.ReadAll(io.LimitReader(part, 1024))
			return string(b), err
		}
	}
}

// setHeaders adds the request id, the deployment and the gateway's own
// overhead, under Switchboard's names and LiteLLM's (for drop-in clients).
func (p *Pipeline) setHeaders(w Responder, st *state, req *Request, upstream time.Duration) {
	d := st.out.Deployment
	w.SetHeader("x-request-id", []byte(req.ID))
	w.SetHeader("x-litellm-call-id", []byte(req.ID))
	w.SetHeader("x-litellm-model-id", []byte(d.ID))
	w.SetHeader("x-switchboard-deployment", []byte(d.ID))
	overhead := time.Since(req.Received) - upstream
	st.hdr = strconv.AppendFloat(st.hdr[:0], float64(overhead.Microseconds())/1000, 'f', 3, 64)
	w.SetHeader("x-switchboard-overhead-ms", st.hdr)
	w.SetHeader("x-litellm-overhead-duration-ms", st.hdr)
}

// errClientGone marks a stream the client stopped reading.
var errClientGone = errors.New("client went away mid-stream")

// relay sends a committed stream to the client, flushing per piece. After the
// commit point nothing is retried: an upstream failure becomes a final SSE
// error event, never a made-up finish_reason.
func (p *Pipeline) relay(ctx context.Context, sw StreamWriter, s provider.Stream, st *state) {
	p.finish(st, p.relayInto(ctx, sw, s, st))
}

// relayInto is relay without the accounting; it returns how the stream ended
// (nil for a complete one).
func (p *Pipeline) relayInto(ctx context.Context, sw StreamWriter, s provider.Stream, st *state) error {
	st.out.Status = 200
	upErr := st.pending
	for {
		if len(st.buf) > 0 {
			if err := write(sw, st.buf); err != nil {
				st.out.Usage = s.Usage()
				s.Close()
				return fmt.Errorf("%w: %w", errClientGone, err)
			}
			if st.out.FirstByte == 0 {
				st.out.FirstByte = time.Since(st.out.Start)
			}
		}
		if upErr != nil {
			break
		}
		st.buf, upErr = s.Next(st.buf[:0])
	}
	st.out.Usage = s.Usage()
	s.Close()
	if upErr == io.EOF {
		return nil
	}
	if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		e := provider.AsError(upErr)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			e = &Error{Status: 504, Type: "timeout", Code: "timeout", Message: "request timed out"}
		}
		st.buf = sse.AppendData(st.buf[:0], (&openai.Error{Message: e.Message, Type: e.Type, Code: e.Code, Param: e.Param}).AppendJSON(st.hdr[:0]))
		_ = write(sw, st.buf)
	}
	return upErr
}

func write(sw StreamWriter, b []byte) error {
	if _, err := sw.Write(b); err != nil {
		return err
	}
	return sw.Flush()
}

// finish records the outcome and returns the request state to the pool.
func (p *Pipeline) finish(st *state, err error) {
	out := &st.out
	out.Duration = time.Since(out.Start)
	out.Err = err
	switch {
	case err == nil:
		out.Result = "ok"
		if out.Status == 0 {
			out.Status = 200
		}
	case errors.Is(err, errClientGone) || errors.Is(err, context.Canceled):
		out.Result, out.Status = "cancelled", provider.StatusClientClosed
	case out.Streamed:
		out.Result = "truncated"
	default:
		out.Result = "error"
		out.Status = provider.AsError(err).Status
	}
	if p.Observer != nil {
		p.Observer.Observe(out)
	}
	st.release()
}
