package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/policy"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
	"github.com/switchboard-gw/switchboard/internal/spend"
	"github.com/switchboard-gw/switchboard/internal/store"
)

// upstreamFake is one deployment's upstream: it answers each call with the
// next scripted outcome (the last one repeats), and records what it got.
type upstreamFake struct {
	mu      sync.Mutex
	script  []func() (*provider.Result, error)
	calls   int
	bodies  [][]byte
	clients []string // the api_base each call went to
}

func (u *upstreamFake) Name() string                 { return "fake" }
func (u *upstreamFake) Supports(op provider.Op) bool { return true }
func (u *upstreamFake) Send(_ context.Context, c *provider.Call, res *provider.Result) error {
	u.mu.Lock()
	i := min(u.calls, len(u.script)-1)
	u.calls++
	u.bodies = append(u.bodies, append([]byte(nil), c.Body...))
	u.clients = append(u.clients, c.Deployment.APIBase)
	f := u.script[i]
	u.mu.Unlock()
	r, err := f()
	if err == nil {
		*res = *r
	}
	return err
}

func (u *upstreamFake) count() int { u.mu.Lock(); defer u.mu.Unlock(); return u.calls }

func ok(body string) func() (*provider.Result, error) {
	return func() (*provider.Result, error) {
		return &provider.Result{Status: 200, ContentType: "application/json", Body: []byte(body), Usage: openai.Usage{TotalTokens: 5}}, nil
	}
}

func fail(e provider.Error) func() (*provider.Result, error) {
	return func() (*provider.Result, error) { c := e; return nil, &c }
}

var (
	err429 = provider.Error{Status: 429, Type: "rate_limit_error", Message: "slow down", Retryable: true, MayHaveBeenSent: true, RetryAfter: 2 * time.Second}
	err500 = provider.Error{Status: 500, Type: "api_error", Message: "boom", Retryable: true, MayHaveBeenSent: true}
	err503 = provider.Error{Status: 503, Type: "service_unavailable", Message: "down", Retryable: true, MayHaveBeenSent: true}
	err400 = provider.Error{Status: 400, Type: "invalid_request_error", Message: "bad", MayHaveBeenSent: true}
	err401 = provider.Error{Status: 401, Type: "authentication_error", Message: "bad key", MayHaveBeenSent: true}
	errCtx = provider.Error{Status: 400, Type: "invalid_request_error", Code: router.CodeContextWindow, Message: "too long", MayHaveBeenSent: true}
	errTO  = provider.Error{Status: 504, Type: "timeout", Code: "timeout", Message: "timed out", Retryable: true, MayHaveBeenSent: true}
)

// health is a router.Health whose verdicts the test sets, recording what
// it observes.
type health struct {
	mu       sync.Mutex
	down     map[*provider.Deployment]time.Time // unusable until (zero: unknown)
	observed []router.Attempt
	on       []*provider.Deployment
}

func (h *health) Usable(d *provider.Deployment, now time.Time) (bool, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	until, isDown := h.down[d]
	return !isDown, until
}

func (h *health) Observe(_ *router.Group, d *provider.Deployment, a router.Attempt, _ time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.observed = append(h.observed, a)
	h.on = append(h.on, d)
}

// fleet builds a pipeline over groups of fake deployments: groups maps a
// group name to its deployments' upstreams.
type fleet struct {
	p      *Pipeline
	deps   map[*upstreamFake]*provider.Deployment
	obs    *outcomes
	slept  []time.Duration
	health *health
}

func newFleet(t *testing.T, groups map[string][]*upstreamFake, order ...string) *fleet {
	t.Helper()
	f := &fleet{deps: map[*upstreamFake]*provider.Deployment{}, obs: &outcomes{}, health: &health{down: map[*provider.Deployment]time.Time{}}}
	var ws []router.Weighted
	for _, name := range order {
		for i, u := range groups[name] {
			d := &provider.Deployment{ID: name + "-" + string(rune('a'+i)), ModelName: name, Provider: "fake", APIBase: "https://user:pw@" + name + ".example/v1?key=s", Impl: u}
			f.deps[u] = d
			ws = append(ws, router.Weighted{Deployment: d})
		}
	}
	rt := router.New(ws)
	rt.SetHealth(f.health)
	f.p = &Pipeline{Router: rt, Observer: f.obs}
	f.p.sleepFn = func(ctx context.Context, d time.Duration) bool { f.slept = append(f.slept, d); return ctx.Err() == nil }
	f.p.jitterFn = func() float64 { return 0.5 }
	return f
}

func (f *fleet) serve(t *testing.T, body string, req *Request) (*recorder, error) {
	t.Helper()
	rec := &recorder{headers: map[string]string{}}
	if req == nil {
		req = &Request{}
	}
	req.ID, req.Op, req.Body, req.Received = "r", provider.OpChat, []byte(body), time.Now()
	err := f.p.Serve(context.Background(), req, rec)
	return rec, err
}

func script(steps ...func() (*provider.Result, error)) *upstreamFake {
	return &upstreamFake{script: steps}
}

func TestRetryGoesToAnotherDeploymentAtOnce(t *testing.T) {
	// Whichever is picked first fails; the other answers.
	var mu sync.Mutex
	first := true
	once := func() (*provider.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		if first {
			first = false
			return fail(err500)()
		}
		return ok(`{}`)()
	}
	a, b := script(once), script(once)
	f := newFleet(t, map[string][]*upstreamFake{"m": {a, b}}, "m")
	f.p.Retries.NumRetries = 2
	rec, err := f.serve(t, `{"model":"m"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.count() != 1 || b.count() != 1 {
		t.Errorf("calls a=%d b=%d, want one each: the retry goes to the deployment not tried yet", a.count(), b.count())
	}
	if len(f.slept) != 0 {
		t.Errorf("waited %v before retrying on an untried deployment", f.slept)
	}
	if rec.headers["x-litellm-attempted-retries"] != "1" || rec.headers["x-litellm-attempted-fallbacks"] != "0" ||
		rec.headers["x-litellm-max-retries"] != "2" || rec.headers["x-litellm-model-group"] != "m" {
		t.Errorf("headers %v", rec.headers)
	}
	if base := rec.headers["x-litellm-model-api-base"]; base != "https://m.example/v1" {
		t.Errorf("api base header %q: credentials or query leaked, or missing", base)
	}
	if len(f.health.observed) != 2 || f.health.observed[0].Err == nil || f.health.observed[1].Err != nil {
		t.Errorf("the router saw %+v, want a failure then a success", f.health.observed)
	}
	if o := f.obs.got[0]; o.Result != "ok" || o.Deployment == nil || o.Deployment.ID != rec.headers["x-litellm-model-id"] {
		t.Errorf("outcome %+v does not name the deployment that answered", o)
	}
}

func TestSingleDeploymentBacksOff(t *testing.T) {
	e := err500
	e.RetryAfter = 700 * time.Millisecond
	a := script(fail(e), ok(`{}`))
	f := newFleet(t, map[string][]*upstreamFake{"m": {a}}, "m")
	f.p.Retries = router.Retries{NumRetries: 1, After: 300 * time.Millisecond}
	if _, err := f.serve(t, `{"model":"m"}`, nil); err != nil {
		t.Fatal(err)
	}
	if a.count() != 2 || len(f.slept) != 1 || f.slept[0] < 700*time.Millisecond {
		t.Errorf("calls %d, waits %v: want one wait of at least the upstream's Retry-After", a.count(), f.slept)
	}
}

func TestFallbackRatherThanWait(t *testing.T) {
	for _, e := range []provider.Error{err429, err500, err503} {
		p, fb := script(fail(e)), script(ok(`{"from":"fallback"}`))
		f := newFleet(t, map[string][]*upstreamFake{"p": {p}, "f": {fb}}, "p", "f")
		f.p.Retries.NumRetries = 3
		f.p.Fallbacks = router.Fallbacks{Generic: map[string][]string{"p": {"f"}}}
		rec, err := f.serve(t, `{"model":"p"}`, nil)
		if err != nil {
			t.Fatalf("%d: %v", e.Status, err)
		}
		if rec.body.String() != `{"from":"fallback"}` || p.count() != 1 || fb.count() != 1 || len(f.slept) != 0 {
			t.Errorf("%d: body %s, primary %d calls, fallback %d, waits %v", e.Status, rec.body.String(), p.count(), fb.count(), f.slept)
		}
		if rec.headers["x-litellm-attempted-fallbacks"] != "1" || rec.headers["x-litellm-model-group"] != "f" || rec.headers["x-litellm-model-id"] != "f-a" {
			t.Errorf("%d: headers %v", e.Status, rec.headers)
		}
		if o := f.obs.got[0]; o.Model != "f" || o.Deployment.ID != "f-a" {
			t.Errorf("%d: the ledger row names %s/%s, want the fallback that answered", e.Status, o.Model, o.Deployment.ID)
		}
	}
}

func TestFinalErrorsAreNotRetried(t *testing.T) {
	for _, e := range []provider.Error{err400, err401} {
		a, b, fb := script(fail(e)), script(fail(e)), script(ok(`{}`))
		f := newFleet(t, map[string][]*upstreamFake{"p": {a, b}, "f": {fb}}, "p", "f")
		f.p.Retries.NumRetries = 3
		f.p.Fallbacks = router.Fallbacks{Generic: map[string][]string{"p": {"f"}}, Default: []string{"f"}}
		rec, err := f.serve(t, `{"model":"p"}`, nil)
		if pe := provider.AsError(err); err == nil || pe.Status != e.Status {
			t.Fatalf("%d: err %v", e.Status, err)
		}
		if a.count()+b.count() != 1 || fb.count() != 0 {
			t.Errorf("%d: %d attempts in the group and %d on the fallback, want exactly 1 and 0", e.Status, a.count()+b.count(), fb.count())
		}
		if rec.headers["x-litellm-model-id"] == "" || rec.headers["x-litellm-attempted-retries"] != "0" {
			t.Errorf("%d: error headers %v", e.Status, rec.headers)
		}
	}
}

// An operator's retry_policy may opt a final class into retries, which go
// to another deployment, never back to the one that refused.
func TestRetryPolicyOptIn(t *testing.T) {
	a, b := script(fail(err401)), script(fail(err401))
	f := newFleet(t, map[string][]*upstreamFake{"p": {a, b}}, "p")
	f.p.Retries.NumRetries = 0
	f.p.Retries.Policy.Set(router.AuthenticationError, 5)
	_, err := f.serve(t, `{"model":"p"}`, nil)
	if provider.AsError(err).Status != 401 || a.count() != 1 || b.count() != 1 || len(f.slept) != 0 {
		t.Errorf("err %v, calls %d/%d, waits %v: want each deployment once", err, a.count(), b.count(), f.slept)
	}
}

func TestContextWindowAndContentPolicyFallbacks(t *testing.T) {
	p, big, other := script(fail(errCtx)), script(ok(`{"big":1}`)), script(ok(`{"other":1}`))
	f := newFleet(t, map[string][]*upstreamFake{"p": {p}, "big": {big}, "other": {other}}, "p", "big", "other")
	f.p.Retries.NumRetries = 2
	f.p.Fallbacks = router.Fallbacks{Generic: map[string][]string{"p": {"other"}}, ContextWindow: map[string][]string{"p": {"big"}}}
	rec, err := f.serve(t, `{"model":"p"}`, nil)
	if err != nil || rec.body.String() != `{"big":1}` || p.count() != 1 || other.count() != 0 {
		t.Errorf("err %v body %s primary %d other %d", err, rec.body.String(), p.count(), other.count())
	}
	// Without context_window_fallbacks the error is the answer: a generic
	// fallback is not chosen for a prompt that is too long.
	f.p.Fallbacks.ContextWindow = nil
	_, err = f.serve(t, `{"model":"p"}`, nil)
	if provider.AsError(err).Code != router.CodeContextWindow || other.count() != 0 {
		t.Errorf("err %v, generic fallback called %d times", err, other.count())
	}
}

// A prompt known to exceed every window of the group goes straight to
// its context_window_fallbacks.
func TestContextWindowKnownUpFront(t *testing.T) {
	p, big := script(ok(`{"small":1}`)), script(ok(`{"big":1}`))
	f := &fleet{obs: &outcomes{}}
	small := &provider.Deployment{ID: "small", ModelName: "p", Provider: "fake", Model: "gpt-4o", Impl: p}
	large := &provider.Deployment{ID: "large", ModelName: "big", Provider: "fake", Model: "gpt-4o", Impl: big}
	f.p = &Pipeline{Router: router.New([]router.Weighted{{Deployment: small, MaxInputTokens: 50}, {Deployment: large}}), Observer: f.obs,
		Fallbacks: router.Fallbacks{ContextWindow: map[string][]string{"p": {"big"}}}}
	long := `{"model":"p","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum dolor sit amet ", 40) + `"}]}`
	rec, err := f.serve(t, long, nil)
	if err != nil || rec.body.String() != `{"big":1}` || p.count() != 0 || rec.headers["x-litellm-attempted-fallbacks"] != "1" {
		t.Errorf("err %v body %s: the small group was called %d times", err, rec.body.String(), p.count())
	}
	rec, err = f.serve(t, `{"model":"p","messages":[{"role":"user","content":"hi"}]}`, nil)
	if err != nil || rec.body.String() != `{"small":1}` {
		t.Errorf("a short prompt: err %v body %s", err, rec.body.String())
	}
}

func TestTimeoutAfterSendingNeedsIdempotencyKey(t *testing.T) {
	a, b := script(fail(errTO)), script(fail(errTO))
	f := newFleet(t, map[string][]*upstreamFake{"p": {a, b}}, "p")
	f.p.Retries.NumRetries = 2
	if _, err := f.serve(t, `{"model":"p"}`, nil); provider.AsError(err).Status != 504 || a.count()+b.count() != 1 {
		t.Errorf("without a key: err %v, %d attempts", err, a.count()+b.count())
	}
	if _, err := f.serve(t, `{"model":"p"}`, &Request{Idempotent: true}); provider.AsError(err).Status != 504 || a.count()+b.count() != 4 {
		t.Errorf("with an idempotency key: err %v, %d attempts in all, want 1 + 3", err, a.count()+b.count())
	}
}

func TestStreamFailingBeforeCommitIsRetried(t *testing.T) {
	cut := &scripted{end: &provider.Error{Status: 502, Type: "api_error", Code: "upstream_stream_truncated", Message: "cut", MayHaveBeenSent: true, Cause: provider.ErrTruncated}}
	good := &scripted{pieces: []string{"data: a\n\n", "data: [DONE]\n\n"}, end: io.EOF}
	a := script(func() (*provider.Result, error) { return &provider.Result{Status: 200, Stream: cut}, nil })
	b := script(func() (*provider.Result, error) { return &provider.Result{Status: 200, Stream: good}, nil })
	f := newFleet(t, map[string][]*upstreamFake{"p": {a}, "f": {b}}, "p", "f")
	f.p.Fallbacks = router.Fallbacks{Generic: map[string][]string{"p": {"f"}}}
	rec, err := f.serve(t, `{"model":"p","stream":true}`, nil)
	if err != nil || rec.body.String() != "data: a\n\ndata: [DONE]\n\n" || !cut.closed {
		t.Fatalf("err %v body %q closed %v", err, rec.body.String(), cut.closed)
	}
	// The committed stream is reported when it ends, as a success.
	if n := len(f.health.observed); n != 2 || f.health.observed[1].Err != nil || !f.health.observed[1].Streamed || f.health.on[1] != f.deps[b] {
		t.Errorf("router saw %d attempts: %+v", n, f.health.observed)
	}
}

func TestStreamCutAfterCommitIsNotRetried(t *testing.T) {
	s := &scripted{pieces: []string{"data: a\n\n", "data: b\n\n"}, end: &provider.Error{Status: 502, Type: "api_error", Code: "upstream_stream_truncated", Message: "cut", Cause: provider.ErrTruncated}}
	a := script(func() (*provider.Result, error) { return &provider.Result{Status: 200, Stream: s}, nil })
	b := script(ok(`{}`))
	f := newFleet(t, map[string][]*upstreamFake{"p": {a}, "f": {b}}, "p", "f")
	f.p.Retries.NumRetries = 3
	f.p.Fallbacks = router.Fallbacks{Generic: map[string][]string{"p": {"f"}}}
	rec, err := f.serve(t, `{"model":"p","stream":true}`, nil)
	if err != nil || !strings.HasPrefix(rec.body.String(), "data: a\n\ndata: b\n\ndata: {\"error\"") || a.count() != 1 || b.count() != 0 {
		t.Fatalf("err %v body %q calls %d/%d", err, rec.body.String(), a.count(), b.count())
	}
	if n := len(f.health.observed); n != 1 || f.health.observed[0].Err == nil || f.health.observed[0].Err.Code != "upstream_stream_truncated" {
		t.Errorf("the cut after the commit point must reach the router when the stream ends: %+v", f.health.observed)
	}
}

// Under a full outage the retry budget keeps upstream attempts within
// 1.2× the client requests.
func TestRetryBudgetUnderOutage(t *testing.T) {
	ups := []*upstreamFake{script(fail(err503)), script(fail(err503)), script(fail(err503))}
	f := newFleet(t, map[string][]*upstreamFake{"p": ups}, "p")
	f.p.Retries.NumRetries = 2
	const n = 200
	for range n {
		if _, err := f.serve(t, `{"model":"p"}`, nil); provider.AsError(err).Status != 503 {
			t.Fatalf("err %v", err)
		}
	}
	total := ups[0].count() + ups[1].count() + ups[2].count()
	if total > n*12/10 || total < n {
		t.Errorf("%d upstream attempts for %d requests, want at most %d", total, n, n*12/10)
	}
}

func TestNoDeploymentAvailable(t *testing.T) {
	p, fb := script(ok(`{}`)), script(ok(`{}`))
	f := newFleet(t, map[string][]*upstreamFake{"p": {p}, "f": {fb}}, "p", "f")
	f.p.Fallbacks = router.Fallbacks{Generic: map[string][]string{"p": {"f"}}}
	now := time.Now()
	f.health.down[f.deps[p]] = now.Add(2500 * time.Millisecond)
	rec, err := f.serve(t, `{"model":"p"}`, nil)
	if err != nil || fb.count() != 1 || rec.headers["x-litellm-attempted-fallbacks"] != "1" {
		t.Fatalf("a primary with nothing available falls back: err %v, fallback calls %d", err, fb.count())
	}
	f.health.down[f.deps[fb]] = now.Add(10 * time.Second)
	_, err = f.serve(t, `{"model":"p"}`, nil)
	e := provider.AsError(err)
	if e.Status != 503 || e.Type != "service_unavailable" || e.RetryAfter != 3*time.Second || !strings.Contains(e.Message, "No deployments available") {
		t.Errorf("all down: %d %s %v %q, want 503 with Retry-After 3 s (the earliest recovery, rounded up)", e.Status, e.Type, e.RetryAfter, e.Message)
	}
	if p.count() != 0 || fb.count() != 1 {
		t.Errorf("attempts were made on deployments that are down")
	}
}

func TestPerRequestOptions(t *testing.T) {
	p, fb, other := script(fail(err500)), script(ok(`{}`)), script(ok(`{}`))
	f := newFleet(t, map[string][]*upstreamFake{"p": {p}, "f": {fb}, "other": {other}}, "p", "f", "other")
	f.p.Fallbacks = router.Fallbacks{Generic: map[string][]string{"p": {"other"}}}
	body := `{"model":"p","num_retries":0,"fallbacks":["f"],"messages":[{"role":"user","content":"say \"fallbacks\""}]}`
	rec, err := f.serve(t, body, nil)
	if err != nil || fb.count() != 1 || other.count() != 0 || rec.headers["x-litellm-max-retries"] != "0" {
		t.Fatalf("err %v: the request's fallbacks replace the configured ones (f %d, other %d), headers %v", err, fb.count(), other.count(), rec.headers)
	}
	sent := fb.bodies[0]
	if bytes.Contains(sent, []byte(`"num_retries"`)) || bytes.Contains(sent, []byte(`"fallbacks":`)) || !bytes.Contains(sent, []byte(`say \"fallbacks\"`)) {
		t.Errorf("upstream got %s: the gateway's members must go, the rest stay", sent)
	}
	// A key may name only fallbacks it may use.
	key := &auth.Principal{Key: &store.Key{Models: []string{"p"}}}
	_, err = f.serve(t, body, &Request{Principal: key})
	if e := provider.AsError(err); e.Status != 403 || fb.count() != 1 {
		t.Errorf("a fallback the key may not use: %v (fallback called %d times)", err, fb.count())
	}
	// Configured fallbacks the key may not use are passed over.
	_, err = f.serve(t, `{"model":"p"}`, &Request{Principal: key})
	if provider.AsError(err).Status != 500 || other.count() != 0 {
		t.Errorf("configured fallback outside the key's models: %v, called %d", err, other.count())
	}
	// The header form of num_retries.
	two := script(fail(err500), ok(`{}`))
	g := newFleet(t, map[string][]*upstreamFake{"p": {two}}, "p")
	if _, err := g.serve(t, `{"model":"p"}`, &Request{NumRetries: 1, NumRetriesSet: true}); err != nil || two.count() != 2 {
		t.Errorf("x-litellm-num-retries: 1: err %v, %d calls", err, two.count())
	}
}

func TestClientCredentials(t *testing.T) {
	p := script(ok(`{}`))
	f := newFleet(t, map[string][]*upstreamFake{"p": {p}}, "p")
	body := `{"model":"p","api_base":"https://mine.example/v1","api_key":"sk-client-0000000000000000"}`
	if _, err := f.serve(t, body, nil); provider.AsError(err).Status != 400 || p.count() != 0 {
		t.Fatalf("refused by default: %v, %d calls", err, p.count())
	}
	var got ClientCredentials
	f.p.Override = func(d *provider.Deployment, c ClientCredentials) (*provider.Deployment, error) {
		got = c
		od := *d
		od.APIBase, od.APIKey = c.APIBase, c.APIKey
		return &od, nil
	}
	rec, err := f.serve(t, body, nil)
	if err != nil || got.APIBase != "https://mine.example/v1" || got.APIKey.Reveal() != "sk-client-0000000000000000" || p.clients[0] != "https://mine.example/v1" {
		t.Fatalf("err %v override %+v sent to %v", err, got, p.clients)
	}
	if bytes.Contains(p.bodies[0], []byte("sk-client")) || bytes.Contains(p.bodies[0], []byte("api_base")) {
		t.Errorf("the request's credentials went upstream in the body: %s", p.bodies[0])
	}
	if rec.headers["x-litellm-model-id"] != "p-a" || len(f.health.observed) != 0 {
		t.Errorf("headers %v; the router observed %d attempts of a client's own upstream", rec.headers, len(f.health.observed))
	}
}

// A fallback to a deployment whose worst case costs more extends the
// budget reservation; one the budget cannot cover is skipped.
func TestFallbackCoversItsPrice(t *testing.T) {
	p, pricey := script(fail(err500)), script(ok(`{}`))
	f := newFleet(t, map[string][]*upstreamFake{"p": {p}, "f": {pricey}}, "p", "f")
	f.p.Fallbacks = router.Fallbacks{Generic: map[string][]string{"p": {"f"}}}
	c := counter.NewMemory(nil)
	f.p.Limiter = policy.New(c, nil, nil)
	f.p.Prices = map[string]spend.Price{"p-a": {Input: 1000, Output: 1000}, "f-a": {Input: 1e9, Output: 1e9}}
	budget := int64(10_000_000)
	key := &auth.Principal{Key: &store.Key{TokenHash: "h", MaxBudget: &budget}}
	body := `{"model":"p","max_tokens":10}`
	if _, err := f.serve(t, body, &Request{Principal: key}); err != nil || pricey.count() != 1 {
		t.Fatalf("a budget that covers the fallback: %v", err)
	}
	budget = 2000 // covers the primary's worst case, not the fallback's
	key = &auth.Principal{Key: &store.Key{TokenHash: "h2", MaxBudget: &budget}}
	_, err := f.serve(t, body, &Request{Principal: key})
	if provider.AsError(err).Status != 500 || pricey.count() != 1 {
		t.Errorf("a fallback the budget cannot cover: err %v, called %d times", err, pricey.count())
	}
	got, _ := c.Get(context.Background(), []string{"k:h2:budget"}, []counter.Kind{counter.Budget})
	if got[0] != 0 {
		t.Errorf("budget counter %d after a request that cost nothing", got[0])
	}
}

func TestErrorsKeepTheirType(t *testing.T) {
	// errFailed and errSkip never reach a client.
	a := script(fail(err503))
	f := newFleet(t, map[string][]*upstreamFake{"p": {a}}, "p")
	_, err := f.serve(t, `{"model":"p"}`, nil)
	if errors.Is(err, errFailed) || errors.Is(err, errSkip) || provider.AsError(err).Status != 503 {
		t.Errorf("err %v", err)
	}
}

// BenchmarkServe is the pipeline's own cost for a request answered at
// once, and with one request in ten failing its first attempt and retried
// on another deployment (within the retry budget): routing, bookkeeping
// and headers, without an upstream.
func BenchmarkServe(b *testing.B) {
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	answer := &provider.Result{Status: 200, ContentType: "application/json", Body: []byte(`{}`)}
	run := func(b *testing.B, failFirst bool) {
		var n int
		send := func() (*provider.Result, error) {
			n++
			if failFirst && n%11 == 1 {
				return nil, &err500
			}
			return answer, nil
		}
		var ws []router.Weighted
		for i := range 10 {
			ws = append(ws, router.Weighted{Deployment: &provider.Deployment{ID: "d" + string(rune('0'+i)), ModelName: "m", Provider: "fake",
				APIBase: "https://api.example.com/v1", Impl: &fakeProvider{result: send}}})
		}
		p := &Pipeline{Router: router.New(ws), Retries: router.Retries{NumRetries: 2}}
		w := &discard{}
		req := &Request{ID: "r", Op: provider.OpChat, Body: body}
		b.ReportAllocs()
		for b.Loop() {
			req.Received = time.Now()
			if err := p.Serve(context.Background(), req, w); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("first-attempt", func(b *testing.B) { run(b, false) })
	b.Run("retried", func(b *testing.B) { run(b, true) })
}

// discard is a Responder that keeps nothing.
type discard struct{}

func (discard) SetHeader(string, string)                 {}
func (discard) SetHeaderBytes(string, []byte)            {}
func (discard) Send(int, string, []byte)                 {}
func (discard) Stream(_ int, _ string, src StreamSource) { src.Done(nil) }

// A retry on another deployment allocates nothing either.
func TestRetryDoesNotAllocate(t *testing.T) {
	n := 0
	answer := &provider.Result{Status: 200, ContentType: "application/json", Body: []byte(`{}`)}
	send := func() (*provider.Result, error) {
		n++
		if n%2 == 1 {
			return nil, &err500
		}
		return answer, nil
	}
	var ws []router.Weighted
	for i := range 3 {
		ws = append(ws, router.Weighted{Deployment: &provider.Deployment{ID: "d" + string(rune('0'+i)), ModelName: "m", Provider: "fake", Impl: &fakeProvider{result: send}}})
	}
	p := &Pipeline{Router: router.New(ws), Retries: router.Retries{NumRetries: 2}}
	req := &Request{ID: "r", Op: provider.OpChat, Body: []byte(`{"model":"m"}`), Received: time.Now()}
	serve := func() {
		*p.routes().budget("m") = router.Budget{} // a fresh budget: every run may retry
		if err := p.Serve(context.Background(), req, discard{}); err != nil {
			t.Fatal(err)
		}
	}
	serve()
	if n != 2 {
		t.Fatalf("%d attempts, want a failure and a retry", n)
	}
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	if allocs := testing.AllocsPerRun(100, serve); allocs > 0 {
		t.Errorf("%.1f allocations per retried request", allocs)
	}
}
