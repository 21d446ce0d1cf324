// Package server is the HTTP front of the gateway: it accepts connections,
// authenticates, routes /v1/* and the operational endpoints, and writes every
// error as the OpenAI envelope. It runs on fasthttp (chosen by measurement:
// see the README's performance section); nothing below this package sees
// fasthttp — the proxy pipeline gets a proxy.Request and a proxy.Responder.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/internal/admin"
	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/proxy"
)

// Config is what the server needs to know; the app fills it from the
// validated configuration.
type Config struct {
	MaxBodySize    int           // bytes; larger request bodies get 413
	RequestTimeout time.Duration // whole request, retries and stream included
	ReadTimeout    time.Duration // reading one request (headers and body)
	IdleTimeout    time.Duration // keep-alive wait for the next request
	// MetricsAuth requires the master key on /metrics (LiteLLM's
	// require_auth_for_metrics_endpoint); by default it is public like LiteLLM's.
	MetricsAuth bool
	Version     string
}

// Server serves the gateway's HTTP API.
type Server struct {
	cfg        Config
	pipeline   *proxy.Pipeline
	auth       *auth.Authenticator
	metrics    fasthttp.RequestHandler
	log        *slog.Logger
	ids        *idSource
	started    func()
	database   func() (string, bool)
	redis      func() (string, bool)
	health     Health
	management Management
	hangups    *hangupWatcher

	modelList []byte
	modelByID map[string][]byte

	base       context.Context
	cancelBase context.CancelFunc
	draining   atomic.Bool
	inflight   sync.WaitGroup
	srv        *fasthttp.Server
}

// Deps are the collaborators the app hands the server.
type Deps struct {
	Pipeline *proxy.Pipeline
	Auth     *auth.Authenticator
	Metrics  http.Handler // Prometheus exposition
	Log      *slog.Logger
	// Started is told of every inference request as it begins (the in-flight gauge).
	Started func()
	// Database reports the store's state for /health/readiness.
	Database func() (status string, ok bool)
	// Redis reports the shared Redis's state for /health/readiness (nil
	// or "": none is configured).
	Redis func() (status string, ok bool)
	// Health reports deployments for GET /health (nil: 404).
	Health Health
}

// New builds a server; models lists the model group names for /v1/models.
func New(cfg Config, d Deps, models []string) *Server {
	s := &Server{cfg: cfg, pipeline: d.Pipeline, auth: d.Auth, log: d.Log, ids: newIDSource(), started: d.Started}
	if s.started == nil {
		s.started = func() {}
	}
	s.database = d.Database
	s.redis, s.health = d.Redis, d.Health
	if s.database == nil {
		s.database = func() (string, bool) { return "Not connected", true }
	}
	if d.Metrics != nil {
		s.metrics = adaptHTTPHandler(d.Metrics)
	}
	s.modelList, s.modelByID = modelPayloads(models)
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.hangups = newHangupWatcher()
	s.srv = &fasthttp.Server{
		Handler:               s.handle,
		ErrorHandler:          s.handleParseError,
		Name:                  "switchboard",
		MaxRequestBodySize:    cfg.MaxBodySize,
		ReadTimeout:           cfg.ReadTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		CloseOnShutdown:       true,
		Logger:                fasthttpLogger{d.Log},
		// Streams are long-lived: a global write timeout would cut them.
		WriteTimeout: 0,
	}
	return s
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	return s.srv.Serve(lingerListener{ln})
}

// Shutdown stops accepting, lets in-flight requests finish until the drain
// deadline, then cancels what is left (streams end with an error event) and
// waits briefly for those to close.
func (s *Server) Shutdown(drain time.Duration) error {
	s.draining.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	stop := context.AfterFunc(ctx, s.cancelBase)
	defer stop()
	err := s.srv.ShutdownWithContext(ctx)
	s.cancelBase()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		err = errors.Join(err, errors.New("in-flight requests still running after cancellation"))
	}
	s.hangups.close()
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("drain deadline passed: in-flight requests were cancelled")
	}
	return err
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	switch string(path) {
	case "/health/liveliness", "/health/liveness":
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`"I'm alive!"`)
		return
	case "/health/readiness":
		s.readiness(ctx)
		return
	case "/metrics":
		if s.metrics == nil {
			break
		}
		if s.cfg.MetricsAuth {
			if _, ok := s.authenticate(ctx); !ok {
				return
			}
		}
		s.metrics(ctx)
		return
	case "/", "":
		if ctx.IsGet() {
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"name":"switchboard","version":` + strconv.Quote(s.cfg.Version) + `,"docs":"OpenAI-compatible API under /v1"}`)
			return
		}
	}
	principal, ok := s.authenticate(ctx)
	if !ok {
		return
	}
	if s.health != nil && ctx.IsGet() && string(path) == "/health" {
		s.serveHealth(ctx, principal)
		return
	}
	if ctx.IsPost() {
		if op, model, ok := matchInference(path); ok {
			s.serveInference(ctx, op, model, principal)
			return
		}
		if route := matchMessages(path); route != 0 {
			s.serveMessages(ctx, route, principal)
			return
		}
	} else if ctx.IsGet() {
		if s.serveModels(ctx, path) {
			return
		}
	}
	if s.serveManagement(ctx, principal) {
		return
	}
	s.writeError(ctx, &provider.Error{Status: 404, Type: "not_found_error", Message: "no route for " + string(ctx.Method()) + " " + string(path)})
}

// Management is the management API (/key/*, …); admin.API implements it.
type Management interface {
	Handle(ctx context.Context, r *admin.Request) (admin.Response, bool)
}

// SetManagement installs the management API; call it before Serve (the app
// does once the store is open).
func (s *Server) SetManagement(m Management) { s.management = m }

// managementTimeout bounds one management call (they touch the database).
const managementTimeout = 30 * time.Second

func (s *Server) serveManagement(ctx *fasthttp.RequestCtx, p *auth.Principal) bool {
	if s.management == nil {
		return false
	}
	caller := admin.Caller{Admin: p.Admin}
	if p.Key != nil {
		caller.KeyHash = p.Key.TokenHash
	}
	args := ctx.QueryArgs()
	r := &admin.Request{
		Method: string(ctx.Method()),
		Path:   string(ctx.Path()),
		Query:  func(name string) string { return string(args.Peek(name)) },
		Body:   ctx.PostBody(),
		Caller: caller,
	}
	mctx, cancel := context.WithTimeout(s.base, managementTimeout)
	defer cancel()
	resp, ok := s.management.Handle(mctx, r)
	if !ok {
		return false
	}
	ctx.SetStatusCode(resp.Status)
	ctx.SetContentType("application/json")
	ctx.SetBody(resp.Body)
	return true
}

// authenticate checks the caller's key and writes the 401 itself on failure.
// Keys are accepted where OpenAI, Azure and Anthropic SDKs send them.
func (s *Server) authenticate(ctx *fasthttp.RequestCtx) (*auth.Principal, bool) {
	h := &ctx.Request.Header
	token := auth.BearerToken(h.Peek("Authorization"))
	if token == nil {
		token = h.Peek("x-litellm-api-key")
	}
	if token == nil {
		token = h.Peek("api-key")
	}
	if token == nil {
		token = h.Peek("x-api-key")
	}
	p, err := s.auth.Authenticate(s.base, token)
	if err == nil {
		return p, true
	}
	e := &provider.Error{Status: 401, Type: "auth_error", Code: "invalid_api_key", Message: "Authentication Error, invalid API key."}
	switch {
	case errors.Is(err, auth.ErrNoKey):
		e.Message = "Authentication Error, no API key passed in. Send it as 'Authorization: Bearer <key>'."
	case errors.Is(err, auth.ErrBlockedKey):
		e.Message = "Authentication Error - Key is blocked. Update via /key/unblock if you're an admin."
	case errors.Is(err, auth.ErrExpiredKey):
		e.Message, e.Code = "Authentication Error - Expired Key.", "expired_key"
	case errors.Is(err, auth.ErrUnavailable):
		e = &provider.Error{Status: 503, Type: "no_db_connection", Message: "the key store is unavailable; try again", Cause: err}
	}
	if ctx.IsPost() && matchMessages(ctx.Path()) != 0 {
		s.writeMessagesError(ctx, e)
	} else {
		s.writeError(ctx, e)
	}
	return nil, false
}

// exchange is one inference request in flight: the proxy.Responder the
// pipeline answers through and, for a stream, the body fasthttp pulls (it
// reads until io.EOF, sends each Read as a flushed chunk, then calls
// CloseWithError). Cleanup runs when the response is over — for a stream,
// after the handler has returned.
type exchange struct {
	s         *Server
	ctx       *fasthttp.RequestCtx
	req       proxy.Request
	id        []byte
	cancel    context.CancelFunc
	src       proxy.StreamSource
	streaming bool
}

var exchangePool = sync.Pool{New: func() any { return &exchange{id: make([]byte, 0, 36)} }}

func (s *Server) serveInference(ctx *fasthttp.RequestCtx, op provider.Op, pathModel string, principal *auth.Principal) {
	ex, rctx := s.openExchange(ctx, op, pathModel, principal, ctx.PostBody())
	if err := s.pipeline.Serve(rctx, &ex.req, ex); err != nil {
		s.writeError(ctx, err)
	}
	if !ex.streaming {
		ex.finish()
	}
}

// openExchange starts one inference request: counted in flight, with its
// id, deadline and hang-up watch. body is what the pipeline serves (the
// client's, or a converted one). The caller ends it with finish unless it
// became a stream.
func (s *Server) openExchange(ctx *fasthttp.RequestCtx, op provider.Op, pathModel string, principal *auth.Principal, body []byte) (*exchange, context.Context) {
	s.inflight.Add(1)
	s.started()
	ex := exchangePool.Get().(*exchange)
	ex.s, ex.ctx = s, ctx
	ex.id = s.ids.next(ex.id[:0])
	ctx.Response.Header.SetBytesV("x-request-id", ex.id)
	ctx.Response.Header.SetBytesV("x-litellm-call-id", ex.id)
	rctx, cancel := context.WithTimeout(s.base, s.cfg.RequestTimeout)
	ex.cancel = cancel
	s.hangups.watch(ctx.Conn(), cancel)
	ex.req = proxy.Request{
		ID:          string(ex.id),
		Op:          op,
		Body:        body,
		ContentType: ctx.Request.Header.ContentType(),
		PathModel:   pathModel,
		Received:    ctx.Time(),
		Principal:   principal,
		Idempotent:  len(ctx.Request.Header.Peek("Idempotency-Key")) > 0,
	}
	if v := ctx.Request.Header.Peek("x-litellm-num-retries"); len(v) > 0 {
		if n, err := fasthttp.ParseUint(v); err == nil {
			ex.req.NumRetries, ex.req.NumRetriesSet = n, true
		}
	}
	return ex, rctx
}

func (ex *exchange) finish() {
	s := ex.s
	s.hangups.unwatch(ex.ctx.Conn())
	ex.cancel()
	*ex = exchange{id: ex.id[:0]}
	exchangePool.Put(ex)
	s.inflight.Done()
}

// SetHeader implements proxy.Responder.
func (ex *exchange) SetHeader(key, value string) {
	ex.ctx.Response.Header.Set(key, value)
}

// SetHeaderBytes implements proxy.Responder.
func (ex *exchange) SetHeaderBytes(key string, value []byte) {
	ex.ctx.Response.Header.SetBytesV(key, value)
}

// Send implements proxy.Responder.
func (ex *exchange) Send(status int, contentType string, body []byte) {
	ex.ctx.SetStatusCode(status)
	ex.ctx.SetContentType(contentType)
	ex.ctx.SetBody(body)
}

// Stream implements proxy.Responder.
func (ex *exchange) Stream(status int, contentType string, src proxy.StreamSource) {
	ex.streaming, ex.src = true, src
	ex.ctx.SetStatusCode(status)
	ex.ctx.SetContentType(contentType)
	ex.ctx.Response.Header.Set("Cache-Control", "no-cache")
	// Tell buffering reverse proxies (nginx) in front of us to pass events through.
	ex.ctx.Response.Header.Set("X-Accel-Buffering", "no")
	ex.ctx.Response.SetBodyStream(ex, -1)
}

// Read is the stream body fasthttp pulls.
func (ex *exchange) Read(p []byte) (int, error) { return ex.src.Read(p) }

// CloseWithError is fasthttp's end of a streamed body, with the error that
// stopped the write (nil when the client got it all).
func (ex *exchange) CloseWithError(err error) error {
	ex.src.Done(err)
	ex.finish()
	return nil
}

// writeError writes err as the OpenAI error envelope with its status.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, err error) {
	e, ok := s.errorHead(ctx, err)
	if !ok {
		return
	}
	ctx.SetBody((&openai.Error{Message: e.Message, Type: e.Type, Code: e.Code, Param: e.Param}).AppendJSON(nil))
}

// errorHead logs err and writes everything of its answer but the body;
// ok is false when there is no answer to write (the client is gone).
func (s *Server) errorHead(ctx *fasthttp.RequestCtx, err error) (e *provider.Error, ok bool) {
	e = provider.AsError(err)
	if e.Status == provider.StatusClientClosed {
		// Nobody is listening; close rather than write.
		ctx.SetConnectionClose()
		s.log.Debug("client closed the request", "request_id", string(ctx.Response.Header.Peek("x-request-id")))
		return e, false
	}
	if e.Status >= 500 {
		s.log.Warn("request failed", "status", e.Status, "type", e.Type, "error", e.Error(), "request_id", string(ctx.Response.Header.Peek("x-request-id")))
	}
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		ctx.Response.Header.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	ctx.SetStatusCode(e.Status)
	ctx.SetContentType("application/json")
	return e, true
}

// fasthttpLogger sends fasthttp's own messages (connection-level errors it
// has already answered) to the structured log at debug level.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("http: " + fmt.Sprintf(format, args...))
}

// handleParseError answers requests fasthttp could not read.
func (s *Server) handleParseError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		lingerOnClose(ctx.Conn())
		s.writeError(ctx, &provider.Error{Status: 413, Type: "invalid_request_error", Code: "request_too_large",
			Message: "request body is larger than the gateway's limit of " + strconv.Itoa(s.cfg.MaxBodySize>>20) + " MiB (general_settings.max_request_size_mb)"})
		return
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		s.writeError(ctx, &provider.Error{Status: 408, Type: "timeout", Message: "timed out reading the request"})
		return
	}
	s.writeError(ctx, &provider.Error{Status: 400, Type: "invalid_request_error", Message: "malformed HTTP request"})
}

func (s *Server) readiness(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	status := "healthy"
	db, dbOK := s.database()
	switch {
	case s.draining.Load():
		status = "shutting down"
		ctx.SetStatusCode(503)
	case !dbOK:
		status = "unhealthy"
		ctx.SetStatusCode(503)
	}
	// Redis down is a degraded mode the gateway is built for (limits fall
	// back to per-replica shares, cooldowns stay local), so it is reported
	// and not a reason to leave the load balancer: every replica would
	// leave at once.
	redisField := ""
	if s.redis != nil {
		if rs, rok := s.redis(); rs != "" {
			redisField = `,"redis":` + strconv.Quote(rs)
			if !rok && status == "healthy" {
				status = "degraded"
			}
		}
	}
	ctx.SetBodyString(`{"status":"` + status + `","db":` + strconv.Quote(db) + `,"cache":null` + redisField + `,"litellm_version":` + strconv.Quote(s.cfg.Version) +
		`,"success_callbacks":[],"last_updated":"` + time.Now().UTC().Format(time.RFC3339) + `"}`)
}
