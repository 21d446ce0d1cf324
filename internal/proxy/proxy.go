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
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/policy"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
	"github.com/switchboard-gw/switchboard/internal/spend"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/store"
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
	// Principal is who the request acts as (never nil once authenticated).
	Principal *auth.Principal
	// Idempotent: the client sent an Idempotency-Key, so an attempt the
	// upstream may have accepted before timing out may be made again.
	Idempotent bool
	// NumRetries is the x-litellm-num-retries header, when NumRetriesSet
	// (a "num_retries" body member wins over it).
	NumRetries    int
	NumRetriesSet bool
}

// Responder is how the pipeline answers; the server implements it.
type Responder interface {
	// SetHeader and SetHeaderBytes set a response header; only before Send or Stream.
	SetHeader(key, value string)
	SetHeaderBytes(key string, value []byte)
	// Send writes a complete response.
	Send(status int, contentType string, body []byte)
	// Stream commits status and headers; the server then pulls the body from
	// src, sending each Read to the client at once, and calls src.Done when
	// the response is over. This may happen after Serve has returned.
	Stream(status int, contentType string, src StreamSource)
}

// StreamSource is the body of a committed streamed response.
type StreamSource interface {
	// Read returns the next bytes for the client; io.EOF after the last.
	Read(p []byte) (int, error)
	// Done is called exactly once at the end, with the error that stopped
	// writing to the client (nil when the client got everything Read gave).
	Done(writeErr error)
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
	Cost       int64 // micro-dollars, from Usage at the deployment's price
	Start      time.Time
	FirstByte  time.Duration // stream: time to the first byte sent to the client
	Duration   time.Duration
	Err        error
	// Who and what for, for the spend ledger. Tags is only valid during
	// Observe (it points into pooled memory): copy it to keep it.
	Principal *auth.Principal
	EndUser   string
	Tags      []string
}

// Observer receives every outcome. Implementations must not block.
type Observer interface {
	Observe(o *Outcome)
}

// Pipeline serves inference requests.
type Pipeline struct {
	Router   *router.Router
	Observer Observer
	// Limiter enforces rate limits and budgets (nil: none).
	Limiter *policy.Limiter
	// Prices prices each deployment, by ID; an unpriced one costs nothing.
	Prices map[string]spend.Price
	// EndUsers finds the end user a request names in "user" (nil: none
	// have limits).
	EndUsers EndUsers

	// Retries and Fallbacks are router_settings' (zero values: a request
	// is attempted once, on its own group).
	Retries   router.Retries
	Fallbacks router.Fallbacks
	// Attempts receives every upstream attempt (nil: none).
	Attempts AttemptObserver
	// Override serves a request that names its own api_base or api_key: it
	// returns a copy of d using them, or an *Error refusing them. Nil:
	// such requests are refused (LiteLLM's default).
	Override func(d *provider.Deployment, c ClientCredentials) (*provider.Deployment, error)

	once    sync.Once
	routing *routing
	// Sleep and Jitter are time.Sleep and rand, replaced in tests.
	sleepFn  func(context.Context, time.Duration) bool
	jitterFn func() float64
}

func (p *Pipeline) sleep(ctx context.Context, d time.Duration) bool {
	if p.sleepFn != nil {
		return p.sleepFn(ctx, d)
	}
	return router.Sleep(ctx, d)
}

func (p *Pipeline) jitter() float64 {
	if p.jitterFn != nil {
		return p.jitterFn()
	}
	return router.Jitter()
}

// EndUsers looks up end users; auth.Authenticator caches them.
type EndUsers interface {
	Customer(ctx context.Context, id string) (*store.Customer, error)
}

// defaultMaxOutput is the output a budget reserves for a request without
// max_tokens to a model whose output limit the price table does not know.
const defaultMaxOutput = 4096

// Error is an error the server writes as the OpenAI envelope.
type Error = provider.Error

func badRequest(msg, param string) *Error {
	return &Error{Status: 400, Type: "invalid_request_error", Message: msg, Param: param}
}

// state is the per-request memory, pooled so the hot path does not allocate
// it. For a committed stream it is also the StreamSource the server pulls.
type state struct {
	p      *Pipeline
	ctx    context.Context
	env    openai.Envelope
	call   provider.Call
	res    provider.Result
	out    Outcome
	buf    []byte // bytes for the client not yet read
	off    int    // how much of buf was read
	hdr    []byte
	upErr  error // how the upstream stream ended (io.EOF: complete)
	closed bool  // buf holds the stream's last bytes
	adm    policy.Admission
	lim    policy.Request
	price  spend.Price
	priced bool

	// The request as attempted: its operation, body (without the members
	// the gateway consumes) and the model it asked for.
	op          provider.Op
	body        []byte
	contentType []byte
	model       string
	admitted    bool
	// The request's own routing options.
	perRequestRetries int // -1: not given
	reqFallbacks      []string
	creds             *ClientCredentials
	// The attempt loop's progress.
	sel          router.Selection
	tried        []*provider.Deployment
	visited      []string // groups attempted or passed over
	primary      string   // the group the client asked for
	group        *router.Group
	base         *provider.Deployment // the configured deployment attempted last
	dep          *provider.Deployment // what was sent to: base, or its copy with the request's credentials
	attempts     int
	retries      int
	fallbacks    int
	maxRetries   int
	maxFallbacks int
	last         *provider.Error // the last attempt's error
	groupErr     *provider.Error // the current group's last error
	unavailable  *router.NoDeploymentsError
	chainSet     bool
	kind         router.FallbackKind
	chain        []string
	next         int
	pending      bool          // a committed stream's attempt is not reported yet
	ttfb         time.Duration // its time to first bytes
}

var statePool = sync.Pool{New: func() any { return &state{buf: make([]byte, 0, 4096), hdr: make([]byte, 0, 32)} }}

func (st *state) release() {
	buf, hdr := st.buf[:0], st.hdr[:0]
	if cap(buf) > 1<<20 {
		buf = make([]byte, 0, 4096)
	}
	clear(st.tried)
	clear(st.visited)
	tried, visited := st.tried[:0], st.visited[:0]
	// The envelope is kept: parsing into it again reuses its model string
	// when the next request names the same model (ParseEnvelope resets it).
	*st = state{buf: buf, hdr: hdr, env: st.env, tried: tried, visited: visited}
	statePool.Put(st)
}

// Serve runs one request. An error returned before anything was written is
// for the server to write; once a stream is committed, failures are reported
// in-band and Serve's caller sees nil.
func (p *Pipeline) Serve(ctx context.Context, req *Request, w Responder) error {
	st := statePool.Get().(*state)
	st.p, st.ctx = p, ctx
	st.out = Outcome{RequestID: req.ID, Op: req.Op, Start: req.Received, Principal: req.Principal}
	if err := p.attempt(ctx, req, st); err != nil {
		p.setRouteHeaders(w, st)
		p.finish(st, err)
		return err
	}
	p.setHeaders(w, st, req)
	res := &st.res
	if res.Stream == nil {
		w.Send(res.Status, res.ContentType, res.Body)
		st.out.Status, st.out.Usage = res.Status, res.Usage
		if res.Owner != nil {
			res.Owner.Release()
		}
		p.finish(st, nil)
		return nil
	}
	st.out.Streamed, st.out.Status = true, res.Status
	w.Stream(res.Status, res.ContentType, st)
	return nil
}

// attempt validates the request, finds its model group and runs the
// attempt loop on it.
func (p *Pipeline) attempt(ctx context.Context, req *Request, st *state) error {
	model, err := p.model(req, st)
	if err != nil {
		return err
	}
	st.out.EndUser, st.out.Tags = st.env.User, st.env.Tags
	if model, err = access(req.Principal, model); err != nil {
		return err
	}
	group, err := p.Router.Resolve(model)
	if err != nil {
		return &Error{Status: 404, Type: "not_found_error", Code: "model_not_found", Param: "model",
			Message: "model '" + model + "' is not served by this gateway; GET /v1/models lists the models you can use"}
	}
	st.op, st.body, st.contentType, st.model = req.Op, req.Body, req.ContentType, model
	st.perRequestRetries = -1
	if req.NumRetriesSet {
		st.perRequestRetries = max(req.NumRetries, 0)
	}
	if req.Op.JSONBody() {
		if err := p.options(req, st); err != nil {
			return err
		}
	}
	st.sel = router.Selection{Tags: st.env.Tags, PromptTokens: int64(len(st.body) / 4), Tried: st.tried, Stream: st.env.Stream, Context: ctx}
	return p.route(ctx, req, st, group)
}

// admit checks the request against every limit and budget of the key, its
// team and user, and the end user, reserving its worst-case cost: the
// prompt plus max_tokens (or the model's output limit) at the deployment's
// price.
func (p *Pipeline) admit(ctx context.Context, req *Request, st *state, model string, dep *provider.Deployment) error {
	reserve := p.reserve(req, st, dep)
	if p.Limiter == nil {
		return nil
	}
	var customer *store.Customer
	if st.env.User != "" && p.EndUsers != nil {
		c, err := p.EndUsers.Customer(ctx, st.env.User)
		if err != nil {
			return &Error{Status: 503, Type: "no_db_connection", Message: "the end-user store is unavailable; try again", Cause: err}
		}
		if c != nil && c.Blocked {
			return &Error{Status: 403, Type: "auth_error", Code: "end_user_blocked", Param: "user",
				Message: "End user '" + c.UserID + "' is blocked. Update via /customer/unblock if you're an admin."}
		}
		customer = c
	}
	// TPM is charged an estimate now (~4 bytes a token, plus the most the
	// request may generate) and corrected to the real usage when it ends.
	st.lim = policy.Request{Principal: req.Principal, Customer: customer, Model: model,
		Tokens: int64(len(st.body)/4) + int64(st.env.MaxTokens), Reserve: reserve}
	return p.Limiter.Admit(ctx, &st.lim, &st.adm)
}

// cover makes the request's reservation cover its worst case on dep, a
// deployment other than the one it was admitted at: a fallback to a
// pricier model must not overspend a budget that admitted a cheap one.
func (p *Pipeline) cover(ctx context.Context, req *Request, st *state, dep *provider.Deployment) error {
	price, priced := st.price, st.priced
	reserve := p.reserve(req, st, dep)
	if err := p.Limiter.Extend(ctx, &st.adm, reserve); err != nil {
		st.price, st.priced = price, priced
		return err
	}
	return nil
}

// reserve prices the request at dep (which then prices its outcome) and
// returns its worst-case cost there.
func (p *Pipeline) reserve(req *Request, st *state, dep *provider.Deployment) int64 {
	st.price, st.priced = p.Prices[dep.ID]
	if !st.priced {
		return 0
	}
	var maxOut int64
	if req.Op == provider.OpChat || req.Op == provider.OpCompletion {
		maxOut = int64(st.env.MaxTokens)
		if maxOut <= 0 {
			maxOut = st.price.MaxOutputTokens
		}
		if maxOut <= 0 {
			maxOut = defaultMaxOutput
		}
	}
	reserve := int64(spend.Estimate(st.price, len(st.body), maxOut))
	if req.Op == provider.OpImageGeneration || req.Op == provider.OpSpeech {
		reserve += int64(spend.EstimateUnits(st.price, int64(st.env.N), len(st.body)))
	}
	return reserve
}

// access applies a virtual key's model aliases and checks its allow-list
// (LiteLLM's semantics: an empty list allows every model; "*" and
// "all-proxy-models" allow all; "provider/*" allows that provider's models).
func access(p *auth.Principal, model string) (string, error) {
	if p == nil || p.Key == nil {
		return model, nil
	}
	k := p.Key
	if target, ok := k.Aliases[model]; ok {
		model = target
	}
	if !allows(k.Models, model) {
		return "", &Error{Status: 403, Type: "key_model_access_denied", Code: "403", Param: "model",
			Message: "API key not allowed to access model '" + model + "'. This key can only access models=" + strings.Join(k.Models, ",")}
	}
	if t := p.Team; t != nil && !allows(t.Models, model) {
		return "", &Error{Status: 403, Type: "team_model_access_denied", Code: "403", Param: "model",
			Message: "Team '" + t.TeamID + "' not allowed to access model '" + model + "'. This team can only access models=" + strings.Join(t.Models, ",")}
	}
	return model, nil
}

// allows reports whether an allow-list admits model.
func allows(models []string, model string) bool {
	if len(models) == 0 {
		return true
	}
	for _, m := range models {
		if m == model || m == "*" || m == "all-proxy-models" ||
			strings.HasSuffix(m, "/*") && strings.HasPrefix(model, m[:len(m)-1]) {
			return true
		}
	}
	return false
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
	// No envelope for multipart: the pooled one must not carry the previous
	// request's user, tags or max_tokens into this one.
	st.env = openai.Envelope{}
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

// setHeaders adds the deployment and the gateway's own overhead, under
// Switchboard's names and LiteLLM's (for drop-in clients). The server sets
// the request id headers itself, on errors too.
func (p *Pipeline) setHeaders(w Responder, st *state, req *Request) {
	p.setRouteHeaders(w, st)
	overhead := time.Since(req.Received) - st.res.UpstreamLatency
	st.hdr = strconv.AppendFloat(st.hdr[:0], float64(overhead.Microseconds())/1000, 'f', 3, 64)
	w.SetHeaderBytes("x-switchboard-overhead-ms", st.hdr)
	w.SetHeaderBytes("x-litellm-overhead-duration-ms", st.hdr)
	if st.adm.Held() {
		limReq, remReq, limTok, remTok := st.adm.Headers()
		for _, h := range [...]struct {
			name string
			v    int64
		}{{"x-ratelimit-limit-requests", limReq}, {"x-ratelimit-remaining-requests", remReq}, {"x-ratelimit-limit-tokens", limTok}, {"x-ratelimit-remaining-tokens", remTok}} {
			if h.v >= 0 {
				st.hdr = strconv.AppendInt(st.hdr[:0], h.v, 10)
				w.SetHeaderBytes(h.name, st.hdr)
			}
		}
	}
}

// errClientGone marks a stream the client stopped reading.
var errClientGone = errors.New("client went away mid-stream")

// Read implements StreamSource. After the commit point nothing is retried:
// an upstream failure becomes one final SSE error event, never a made-up
// finish_reason or [DONE].
func (st *state) Read(p []byte) (int, error) {
	for {
		if st.off < len(st.buf) {
			n := copy(p, st.buf[st.off:])
			st.off += n
			if st.out.FirstByte == 0 {
				st.out.FirstByte = time.Since(st.out.Start)
			}
			return n, nil
		}
		if st.closed {
			return 0, io.EOF
		}
		st.off = 0
		if st.upErr != nil {
			st.closed = true
			st.buf = st.buf[:0]
			if st.upErr != io.EOF && !errors.Is(st.ctx.Err(), context.Canceled) {
				st.buf = appendErrorEvent(st.buf, st.upErr, st.ctx, st.hdr[:0])
			}
			continue
		}
		st.buf, st.upErr = st.res.Stream.Next(st.buf[:0])
	}
}

// appendErrorEvent is the final event of a failed stream.
func appendErrorEvent(dst []byte, err error, ctx context.Context, scratch []byte) []byte {
	e := provider.AsError(err)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		e = &Error{Status: 504, Type: "timeout", Code: "timeout", Message: "request timed out"}
	}
	return sse.AppendData(dst, (&openai.Error{Message: e.Message, Type: e.Type, Code: e.Code, Param: e.Param}).AppendJSON(scratch))
}

// Done implements StreamSource: it closes the upstream side and accounts.
func (st *state) Done(writeErr error) {
	s := st.res.Stream
	st.out.Usage = s.Usage()
	s.Close()
	err := st.upErr
	switch {
	case writeErr != nil:
		err = fmt.Errorf("%w: %w", errClientGone, writeErr)
	case err == io.EOF && st.closed:
		err = nil
	case err == nil || err == io.EOF:
		// The server stopped pulling before the end without a write error.
		err = errClientGone
	}
	st.p.finish(st, err)
}

// finish records the outcome and returns the request state to the pool.
func (p *Pipeline) finish(st *state, err error) {
	out := &st.out
	p.endStream(st, err)
	if st.priced {
		out.Cost = int64(spend.Cost(st.price, out.Usage))
	}
	p.Limiter.Settle(st.ctx, &st.adm, out.Usage.TotalTokens, out.Cost)
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
