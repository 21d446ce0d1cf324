package server

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/messages"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/proxy"
	"github.com/switchboard-gw/switchboard/internal/tokens"
)

// The Anthropic Messages API is a second front door to the chat pipeline:
// the request is converted to an OpenAI chat request and served exactly
// like one (auth, limits, budgets, routing, ledger), and the answer is
// converted back on its way out. Errors keep their status and take
// Anthropic's shape.

const (
	messagesCreate = iota + 1
	messagesCountTokens
)

// matchMessages maps a POST path to a Messages route, with and without
// /v1 like the OpenAI routes.
func matchMessages(path []byte) int {
	p := path
	if bytes.HasPrefix(p, []byte("/v1/")) {
		p = p[3:]
	}
	switch string(p) {
	case "/messages":
		return messagesCreate
	case "/messages/count_tokens":
		return messagesCountTokens
	}
	return 0
}

func (s *Server) serveMessages(ctx *fasthttp.RequestCtx, route int, principal *auth.Principal) {
	if route == messagesCountTokens {
		s.countTokens(ctx, principal)
		return
	}
	body := ctx.PostBody()
	model := messages.Model(body)
	chat, _, err := messages.ToChat(body, messages.Options{Claude: s.claudeOnly(model, principal)})
	if err != nil {
		// Refused before the pipeline, so not in its metrics or ledger; the
		// id still lets the client's report be found in the logs.
		id := s.ids.next(nil)
		ctx.Response.Header.SetBytesV("x-request-id", id)
		ctx.Response.Header.SetBytesV("request-id", id)
		s.log.Debug("messages request refused", "error", err.Error(), "request_id", string(id))
		s.writeMessagesError(ctx, &provider.Error{Status: 400, Type: "invalid_request_error", Message: err.Error()})
		return
	}
	ex, rctx := s.openExchange(ctx, provider.OpChat, "", principal, chat)
	// Anthropic's SDKs report this header as the request id of an error.
	ctx.Response.Header.SetBytesV("request-id", ex.id)
	w := &messagesResponder{ex: ex, model: model}
	if err := s.pipeline.Serve(rctx, &ex.req, w); err != nil {
		s.writeMessagesError(ctx, err)
	}
	if !ex.streaming {
		ex.finish()
	}
}

// group is the deployments a request for model reaches, resolved as the
// pipeline resolves it (the key's aliases, then the router's); nil when
// there are none.
func (s *Server) group(model string, p *auth.Principal) []*provider.Deployment {
	if p != nil && p.Key != nil {
		if target, ok := p.Key.Aliases[model]; ok {
			model = target
		}
	}
	if s.pipeline == nil || s.pipeline.Router == nil {
		return nil
	}
	g, err := s.pipeline.Router.Resolve(model)
	if err != nil {
		return nil
	}
	return g.Deployments
}

// claudeOnly reports whether every deployment behind model serves a Claude
// model, which takes Anthropic's thinking natively (LiteLLM's test).
func (s *Server) claudeOnly(model string, p *auth.Principal) bool {
	deps := s.group(model, p)
	for _, d := range deps {
		if !strings.Contains(strings.ToLower(d.Model), "claude") {
			return false
		}
	}
	return len(deps) > 0
}

// countTokens answers POST /v1/messages/count_tokens locally, with the
// tiktoken vocabulary of the model's first deployment: exact for OpenAI
// models, an estimate for others (LiteLLM's count is one too for models
// that are not Anthropic's). No upstream is called and nothing is spent.
func (s *Server) countTokens(ctx *fasthttp.RequestCtx, principal *auth.Principal) {
	in, err := messages.CountInput(ctx.PostBody())
	if err != nil {
		s.writeMessagesError(ctx, &provider.Error{Status: 400, Type: "invalid_request_error", Message: err.Error()})
		return
	}
	deps := s.group(in.Model, principal)
	if len(deps) == 0 {
		s.writeMessagesError(ctx, &provider.Error{Status: 404, Type: "not_found_error",
			Message: "model: " + strconv.Quote(in.Model) + " is not served by this gateway"})
		return
	}
	n := in.Tokens(tokens.Count(deps[0].Model, in.Text))
	ctx.SetContentType("application/json")
	ctx.SetBody(strconv.AppendInt([]byte(`{"input_tokens":`), int64(n), 10))
	ctx.Response.AppendBodyString("}")
}

// messagesResponder is the pipeline's Responder for a Messages request: it
// converts the OpenAI answer on its way to the exchange.
type messagesResponder struct {
	ex    *exchange
	model string
}

func (w *messagesResponder) SetHeader(key, value string)             { w.ex.SetHeader(key, value) }
func (w *messagesResponder) SetHeaderBytes(key string, value []byte) { w.ex.SetHeaderBytes(key, value) }

func (w *messagesResponder) Send(status int, _ string, body []byte) {
	if status < 200 || status > 299 {
		w.ex.Send(status, "application/json", messages.ErrorFromOpenAI(status, body))
		return
	}
	out, err := messages.FromChat(body, w.model, string(w.ex.id))
	if err != nil {
		w.ex.s.log.Warn("upstream answer could not be converted to an Anthropic message", "error", err.Error(), "request_id", string(w.ex.id))
		w.ex.Send(502, "application/json", messages.AppendError(nil, "api_error", err.Error()))
		return
	}
	w.ex.Send(status, "application/json", out)
}

func (w *messagesResponder) Stream(status int, _ string, src proxy.StreamSource) {
	ms := messagesStreams.Get().(*messagesStream)
	ms.src = src
	ms.conv.Reset(w.model, string(w.ex.id))
	w.ex.Stream(status, "text/event-stream; charset=utf-8", ms)
}

// messagesStream is the client body of a streamed Messages answer: the
// pipeline's OpenAI events, converted as they are pulled.
type messagesStream struct {
	src  proxy.StreamSource
	conv messages.Stream
	in   []byte
	out  []byte
	off  int
	eof  bool
}

var messagesStreams = sync.Pool{New: func() any { return &messagesStream{in: make([]byte, 16<<10), out: make([]byte, 0, 4096)} }}

// Read implements proxy.StreamSource. It keeps pulling the source after the
// converter has written its last event, so the pipeline sees its stream
// end and accounts it as complete.
func (m *messagesStream) Read(p []byte) (int, error) {
	for {
		if m.off < len(m.out) {
			n := copy(p, m.out[m.off:])
			m.off += n
			return n, nil
		}
		if m.eof {
			return 0, io.EOF
		}
		m.out, m.off = m.out[:0], 0
		n, err := m.src.Read(m.in)
		m.out = m.conv.Write(m.out, m.in[:n])
		if err != nil {
			m.out, m.eof = m.conv.End(m.out), true
		}
	}
}

// Done implements proxy.StreamSource.
func (m *messagesStream) Done(writeErr error) {
	m.src.Done(writeErr)
	out := m.out[:0]
	if cap(out) > 1<<20 {
		out = make([]byte, 0, 4096)
	}
	*m = messagesStream{conv: m.conv, in: m.in, out: out}
	messagesStreams.Put(m)
}

// writeMessagesError writes err in Anthropic's error shape with its status.
func (s *Server) writeMessagesError(ctx *fasthttp.RequestCtx, err error) {
	e, ok := s.errorHead(ctx, err)
	if !ok {
		return
	}
	ctx.SetBody(messages.AppendError(nil, messages.ErrorType(e.Status), e.Message))
}
