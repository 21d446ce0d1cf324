package proxy

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
	"github.com/switchboard-gw/switchboard/internal/tokens"
)

// AttemptObserver is told about every upstream attempt, for per-deployment
// metrics. Implementations must not block.
type AttemptObserver interface {
	AttemptStarted(group string, d *provider.Deployment)
	AttemptEnded(group string, d *provider.Deployment, a router.Attempt)
	Retried(group string)
	FellBack(from, to string)
	RetryBudgetExhausted(group string)
}

// routing is what the pipeline builds once from the router: a retry budget
// per model group and the display form of each deployment's api_base.
type routing struct {
	budgets map[string]*router.Budget
	other   router.Budget // groups not known at start (wildcards)
	bases   map[*provider.Deployment]string
}

func (p *Pipeline) routes() *routing {
	p.once.Do(func() {
		r := &routing{budgets: map[string]*router.Budget{}, bases: map[*provider.Deployment]string{}}
		for _, name := range p.Router.Names() {
			r.budgets[name] = new(router.Budget)
			if g := p.Router.Group(name); g != nil {
				for _, d := range g.Deployments {
					r.bases[d] = displayBase(d.APIBase)
				}
			}
		}
		p.routing = r
	})
	return p.routing
}

func (r *routing) budget(group string) *router.Budget {
	if b := r.budgets[group]; b != nil {
		return b
	}
	return &r.other
}

// displayBase is an api_base without what may carry credentials (user
// info, query, fragment), for the x-litellm-model-api-base header.
func displayBase(base string) string {
	if base == "" {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// route runs the attempt loop for a request to group: attempts on the
// group's deployments with retries, then on its fallback groups, until one
// answers or nothing is left to try. Retries and fallbacks happen only
// before anything reached the client; an answer or a committed stream
// ends the loop.
func (p *Pipeline) route(ctx context.Context, req *Request, st *state, group *router.Group) error {
	budget := p.routes().budget(group.Name)
	// The budget counts in whole seconds: the time the request arrived
	// saves reading the clock again.
	arrived := req.Received
	if arrived.IsZero() {
		arrived = time.Now()
	}
	budget.Request(arrived)
	st.primary = group.Name
	st.maxFallbacks = p.Fallbacks.MaxFallbacks()
	st.maxRetries = p.Retries.NumRetries
	if st.perRequestRetries >= 0 {
		st.maxRetries = min(st.perRequestRetries, router.MaxPerRequest)
	}
	g := group
	if p.tooLong(g, st, req) {
		st.setChain(p, router.ContextWindowFallback)
		st.visited = append(st.visited, g.Name)
		g = nil
	}
	for {
		if g != nil {
			st.visited = append(st.visited, g.Name)
			if err := p.group(ctx, req, st, g, budget); err != errFailed {
				return err
			}
			if !st.chainSet {
				st.setChain(p, router.KindOf(st.groupErr, req.Idempotent))
			}
		}
		ng, ok := p.fallbackAfter(req, st, st.kind, st.chain, st.next)
		if !ok {
			break
		}
		st.next = ng.index + 1
		st.fallbacks++
		if p.Attempts != nil {
			from := st.primary
			if st.group != nil {
				from = st.group.Name
			}
			p.Attempts.FellBack(from, ng.group.Name)
		}
		g = ng.group
	}
	if st.last != nil {
		return st.last
	}
	if st.unavailable != nil {
		return unavailableError(st.unavailable, time.Now())
	}
	return &Error{Status: 503, Type: "service_unavailable", Code: "no_deployments_available", RetryAfter: time.Second,
		Message: "No deployments available for selected model. Passed model=" + group.Name}
}

// setChain chooses the fallback chain once the first group failed (or was
// skipped): by the kind of failure, from the request's primary group.
func (st *state) setChain(p *Pipeline, k router.FallbackKind) {
	st.chainSet, st.kind = true, k
	st.chain = p.Fallbacks.Chain(st.primary, k, st.reqFallbacks)
}

// errFailed is group's answer when the loop may go on to fallbacks: every
// attempt the group made failed (the last failure is st.groupErr), or it
// had nothing available (st.unavailable).
var errFailed = errors.New("group failed")

// group makes the attempts of one model group: the first, then retries
// while the failure is retryable, the group's retries last and the retry
// budget allows. It returns nil on an answer, errFailed to go on to
// fallbacks, or any other error to end the request with it.
//
// Pick counts what it picks against the deployment's rpm/tpm, so each
// attempt follows exactly one Pick: whether a retry must wait is decided
// before picking when every deployment was tried, and after it when the
// untried ones turn out unusable.
func (p *Pipeline) group(ctx context.Context, req *Request, st *state, g *router.Group, budget *router.Budget) error {
	st.groupErr = nil
	retries := 0
	for {
		waited := false
		if st.groupErr != nil && allTried(g, st.tried) {
			if err := p.backoff(ctx, req, st, retries); err != nil {
				return err
			}
			waited = true
		}
		d, err := p.Router.Pick(g, &st.sel)
		if err != nil {
			return st.unavailableIn(err)
		}
		if st.groupErr != nil && !waited && triedAlready(st.tried, d) {
			if err := p.backoff(ctx, req, st, retries); err != nil {
				return err
			}
		}
		dep, err := p.ready(ctx, req, st, g, d)
		if err != nil {
			if err == errSkip {
				return errFailed
			}
			return err
		}
		if st.attempts > 0 && !budget.Retry(time.Now()) {
			p.budgetExhausted(st.primary)
			return st.last
		}
		if st.groupErr != nil {
			retries++
			st.retries++
			if p.Attempts != nil {
				p.Attempts.Retried(g.Name)
			}
		}
		if err := p.try(ctx, st, g, d, dep); err == nil {
			return nil
		}
		e := st.last
		st.groupErr = e
		if ctx.Err() != nil || e.Status == provider.StatusClientClosed || st.creds != nil {
			// The client is gone or out of time; or the request named its
			// own upstream, which is attempted once and nowhere else.
			return e
		}
		c := router.Classify(e)
		st.maxRetries = p.Retries.Max(g.Name, c, st.perRequestRetries)
		retryable := router.Retryable(e, req.Idempotent) ||
			!(router.PossiblyAccepted(e) && !req.Idempotent) && p.Retries.Explicit(g.Name, c)
		if retryable && retries < st.maxRetries {
			continue
		}
		if router.KindOf(e, req.Idempotent) == router.NoFallback {
			return e
		}
		return errFailed
	}
}

// backoff is the wait before retrying on a deployment this request already
// tried. An error that only a retry policy retries is retried elsewhere,
// never on the deployment that refused; a fallback that can answer now is
// preferred to waiting (LiteLLM's rule for a rate-limited group); the wait
// is at least retry_after and the upstream's Retry-After, and a wait that
// is too long or would outlast the request ends the group's attempts.
func (p *Pipeline) backoff(ctx context.Context, req *Request, st *state, retries int) error {
	if !router.Retryable(st.groupErr, req.Idempotent) || p.fallbackReady(req, st) {
		return errFailed
	}
	wait := router.Backoff(retries+1, max(p.Retries.After, st.groupErr.RetryAfter), p.jitter())
	if wait > router.MaxWait || !p.sleep(ctx, wait) {
		return errFailed
	}
	return nil
}

func allTried(g *router.Group, tried []*provider.Deployment) bool {
	for _, d := range g.Deployments {
		if !triedAlready(tried, d) {
			return false
		}
	}
	return true
}

// unavailableIn records a group with no deployment available and goes on
// to fallbacks. A transient reason keeps the earliest recovery of all
// such groups, for Retry-After; a reason waiting cannot cure (the prompt
// exceeds every window, no deployment carries the request's tags) is the
// group's failure as a client error, which a window-exceeding prompt
// takes to context_window_fallbacks.
func (st *state) unavailableIn(err error) error {
	var nde *router.NoDeploymentsError
	if !errors.As(err, &nde) {
		return err
	}
	switch nde.Reason {
	case router.ReasonContextWindow:
		st.groupErr = &Error{Status: 400, Type: "invalid_request_error", Code: router.CodeContextWindow, Param: "messages",
			Message: "the prompt is longer than the context window of every deployment of model group " + nde.Group + " (model_info.max_input_tokens)", Cause: nde}
		st.last = st.groupErr
	case router.ReasonTags:
		st.groupErr = &Error{Status: 400, Type: "invalid_request_error", Code: "no_deployments_for_tags", Param: "metadata",
			Message: "no deployment of model group " + nde.Group + " serves the request's tags", Cause: nde}
		st.last = st.groupErr
	default:
		if st.unavailable == nil || earlier(nde.RetryAt, st.unavailable.RetryAt) {
			st.unavailable = nde
		}
	}
	return errFailed
}

// fallbackReady reports whether a fallback group could take the request
// now, were the current group to give up.
func (p *Pipeline) fallbackReady(req *Request, st *state) bool {
	if st.chainSet {
		_, ok := p.fallbackAfter(req, st, st.kind, st.chain, st.next)
		return ok
	}
	k := router.KindOf(st.groupErr, req.Idempotent)
	_, ok := p.fallbackAfter(req, st, k, p.Fallbacks.Chain(st.primary, k, st.reqFallbacks), 0)
	return ok
}

// errSkip is ready's answer for a deployment this request may not use
// (its key may not, or its budget cannot cover its worst case): the loop
// goes on to the next fallback.
var errSkip = errors.New("deployment skipped")

// ready prepares the attempt on d: the request's admission the first time
// (at d's price), the reservation extended to cover d after that, the
// request's own credentials applied.
func (p *Pipeline) ready(ctx context.Context, req *Request, st *state, g *router.Group, d *provider.Deployment) (*provider.Deployment, error) {
	if !d.Impl.Supports(req.Op) {
		if st.attempts > 0 {
			return nil, errSkip
		}
		return nil, badRequest("model '"+g.Name+"' ("+d.Provider+") does not support "+req.Op.String(), "model")
	}
	if !st.admitted {
		if err := p.admit(ctx, req, st, st.model, d); err != nil {
			return nil, err
		}
		st.admitted = true
	} else if err := p.cover(ctx, req, st, d); err != nil {
		if st.attempts > 0 {
			// Another deployment's failure is the answer the client gets,
			// not this one's price.
			return nil, errSkip
		}
		return nil, err
	}
	if st.creds != nil {
		return p.Override(d, *st.creds)
	}
	return d, nil
}

// try makes one attempt on d, sending to dep (d itself, or its copy with
// the request's credentials), and reports it to the router. For streams
// it also reads the first piece, so that an upstream that fails before
// saying anything is still an ordinary, retryable error rather than a
// broken stream.
func (p *Pipeline) try(ctx context.Context, st *state, g *router.Group, d, dep *provider.Deployment) error {
	st.attempts++
	st.group, st.base, st.dep = g, d, dep
	// Only now: a refused request was never routed and leaves no ledger row.
	st.out.Model, st.out.Deployment = g.Name, st.dep
	st.call = provider.Call{Op: st.op, Deployment: st.dep, Body: st.body, ContentType: st.contentType, ClientModel: st.model}
	if st.op.JSONBody() {
		st.call.Envelope = &st.env
	}
	st.tried = append(st.tried, d)
	st.sel.Tried = st.tried
	p.begin(st, g)
	start := time.Now()
	err := st.dep.Impl.Send(ctx, &st.call, &st.res)
	if err == nil && st.res.Stream != nil {
		s := st.res.Stream
		st.buf, st.upErr = s.Next(st.buf[:0])
		if st.upErr != nil && st.upErr != io.EOF && len(st.buf) == 0 {
			s.Close()
			st.res.Stream = nil
			err = beforeCommit(st.upErr)
			st.upErr = nil
		}
	}
	if err != nil {
		e := asError(err)
		st.last = e
		p.end(st, router.Attempt{Err: e, Latency: time.Since(start), Streamed: st.call.Stream(), Reserved: st.sel.PromptTokens})
		return e
	}
	if st.res.Stream != nil {
		// The attempt lasts as long as the stream: finish reports it.
		st.pending, st.ttfb = true, time.Since(start)
		return nil
	}
	p.end(st, router.Attempt{Latency: st.res.UpstreamLatency, Tokens: st.res.Usage.TotalTokens, Reserved: st.sel.PromptTokens})
	return nil
}

// asError is provider.AsError without its errors.As (which allocates)
// for the common case, a provider's own *Error.
func asError(err error) *provider.Error {
	if e, ok := err.(*provider.Error); ok {
		return e
	}
	return provider.AsError(err)
}

// beforeCommit classifies a stream that failed before its first byte
// reached the client: nothing was relayed, so another attempt is safe
// even when the provider marks a cut stream final (it does, for cuts
// after the commit point).
func beforeCommit(err error) *provider.Error {
	e := asError(err)
	if !e.Retryable && errors.Is(e, provider.ErrTruncated) {
		c := *e
		c.Retryable = true
		return &c
	}
	return e
}

// begin and end bracket an attempt for the router (strategies and Health
// learn from it) and the metrics. An attempt on the request's own
// upstream is not the configured deployment's doing and is kept out of
// its statistics.
func (p *Pipeline) begin(st *state, g *router.Group) {
	if st.creds == nil {
		p.Router.Begin(st.base)
	}
	if p.Attempts != nil {
		p.Attempts.AttemptStarted(g.Name, st.base)
	}
}

func (p *Pipeline) end(st *state, a router.Attempt) {
	if st.creds == nil {
		p.Router.End(st.group, st.base, a)
	}
	if p.Attempts != nil {
		p.Attempts.AttemptEnded(st.group.Name, st.base, a)
	}
}

// endStream reports a committed stream's attempt once the stream is over:
// a cut after the commit point counts against the deployment; a client
// that went away does not.
func (p *Pipeline) endStream(st *state, err error) {
	if !st.pending {
		return
	}
	st.pending = false
	a := router.Attempt{Latency: st.ttfb, Streamed: true, Tokens: st.out.Usage.TotalTokens, Reserved: st.sel.PromptTokens}
	if err != nil && !errors.Is(err, errClientGone) && !errors.Is(err, context.Canceled) {
		a.Err = provider.AsError(err)
	}
	p.end(st, a)
}

func (p *Pipeline) budgetExhausted(group string) {
	if p.Attempts != nil {
		p.Attempts.RetryBudgetExhausted(group)
	}
}

// fallback is the next group of a fallback chain and its place in it.
type fallback struct {
	group *router.Group
	index int
}

// fallbackAfter finds the first group of chain from index from that this
// request may still try: served here, not tried yet, allowed to its key,
// within max_fallbacks. A configured fallback the key may not use is
// passed over (the operator listed it, the key's owner did not get it);
// the request's own fallbacks were checked when it arrived.
func (p *Pipeline) fallbackAfter(req *Request, st *state, k router.FallbackKind, chain []string, from int) (fallback, bool) {
	if k == router.NoFallback || st.fallbacks >= st.maxFallbacks {
		return fallback{}, false
	}
	for i := from; i < len(chain); i++ {
		name := chain[i]
		if visited(st.visited, name) {
			continue
		}
		g, err := p.Router.Resolve(name)
		if err != nil {
			continue
		}
		if pr := req.Principal; pr != nil && pr.Key != nil {
			if !allows(pr.Key.Models, name) || pr.Team != nil && !allows(pr.Team.Models, name) {
				continue
			}
		}
		return fallback{group: g, index: i}, true
	}
	return fallback{}, false
}

func visited(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func triedAlready(ds []*provider.Deployment, d *provider.Deployment) bool {
	for _, t := range ds {
		if t == d {
			return true
		}
	}
	return false
}

func earlier(a, b time.Time) bool {
	return !a.IsZero() && (b.IsZero() || a.Before(b))
}

// unavailableError is the fast answer when no deployment could take the
// request: 503 with Retry-After at the earliest recovery (at least 1 s,
// also when it is unknown), in LiteLLM's wording.
func unavailableError(nde *router.NoDeploymentsError, now time.Time) *Error {
	secs := int64(1)
	if !nde.RetryAt.IsZero() {
		secs = max(int64((nde.RetryAt.Sub(now)+time.Second-1)/time.Second), 1)
	}
	n := strconv.FormatInt(secs, 10)
	return &Error{Status: 503, Type: "service_unavailable", Code: "no_deployments_available", RetryAfter: time.Duration(secs) * time.Second,
		Message: "No deployments available for selected model, Try again in " + n + " seconds. Passed model=" + nde.Group + ". Reason: " + nde.Reason,
		Cause:   nde}
}

// tooLong reports a prompt known to exceed the window of every deployment
// of g, when g has context_window_fallbacks to go to instead of an attempt
// that cannot succeed. The byte count bounds the token count (no token is
// shorter than a byte), so only a body longer than the window is
// tokenized to be sure.
func (p *Pipeline) tooLong(g *router.Group, st *state, req *Request) bool {
	if req.Op != provider.OpChat && req.Op != provider.OpCompletion || !p.Fallbacks.HasContextWindow(g.Name) {
		return false
	}
	window := g.MaxInputTokens()
	if window <= 0 || int64(len(st.body)) <= window || len(g.Deployments) == 0 {
		return false
	}
	return int64(tokens.Prompt(g.Deployments[0].Model, st.body)) > window
}

// setRouteHeaders says which deployment answered (or failed last) and what
// it took, in LiteLLM's headers, on answers and errors alike.
func (p *Pipeline) setRouteHeaders(w Responder, st *state) {
	if st.primary == "" {
		return // refused before routing
	}
	group := st.primary
	if st.group != nil {
		group = st.group.Name
	}
	w.SetHeader("x-litellm-model-group", group)
	if st.base != nil {
		w.SetHeader("x-litellm-model-id", st.base.ID)
		w.SetHeader("x-switchboard-deployment", st.base.ID)
		base, ok := p.routes().bases[st.dep]
		if !ok {
			base = displayBase(st.dep.APIBase)
		}
		if base != "" {
			w.SetHeader("x-litellm-model-api-base", base)
		}
	}
	for _, h := range [...]struct {
		name string
		v    int
	}{{"x-litellm-attempted-retries", st.retries}, {"x-litellm-attempted-fallbacks", st.fallbacks},
		{"x-litellm-max-retries", st.maxRetries}, {"x-litellm-max-fallbacks", st.maxFallbacks}} {
		st.hdr = strconv.AppendInt(st.hdr[:0], int64(h.v), 10)
		w.SetHeaderBytes(h.name, st.hdr)
	}
}
