package router

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/provider/openaicompat"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

const checkKey = "sk-proj-healthcheck0123456789abcdefghijkl"

// flakyUpstream is an OpenAI-compatible server that fails until told to
// recover, echoing the caller's key in its errors as real providers do.
type flakyUpstream struct {
	srv     *httptest.Server
	healthy atomic.Bool
	mu      sync.Mutex
	bodies  []map[string]any
	paths   []string
}

func newFlakyUpstream(t *testing.T) *flakyUpstream {
	u := &flakyUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		u.mu.Lock()
		u.bodies = append(u.bodies, body)
		u.paths = append(u.paths, r.URL.Path)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !u.healthy.Load() {
			w.WriteHeader(500)
			fmt.Fprintf(w, `{"error":{"message":"internal failure for %s","type":"server_error"}}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			return
		}
		if strings.HasSuffix(r.URL.Path, "/embeddings") {
			fmt.Fprint(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"model":"e","usage":{"prompt_tokens":1,"total_tokens":1}}`)
			return
		}
		fmt.Fprint(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"p"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *flakyUpstream) last() (string, map[string]any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.paths) == 0 {
		return "", nil
	}
	return u.paths[len(u.paths)-1], u.bodies[len(u.bodies)-1]
}

// openAIDeployment is a real OpenAI-compatible deployment of u.
func openAIDeployment(t *testing.T, u *flakyUpstream, id, model string) *provider.Deployment {
	t.Helper()
	client := upstream.New(upstream.Options{})
	t.Cleanup(client.Close)
	d := &provider.Deployment{ID: id, ModelName: "g", Provider: "openai", Model: model, APIBase: u.srv.URL + "/v1", APIKey: checkKey}
	if err := openaicompat.Prepare(d, func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	d.Impl = provider.NewHTTP("openai", client, openaicompat.Codec{}, openaicompat.Ops...)
	return d
}

// A background check takes a failing deployment out of rotation until a
// check passes; what it sends is a one-token ping of the deployment's own
// model, and what it keeps of the error holds no key.
func TestHealthCheckFailsThenRecovers(t *testing.T) {
	u := newFlakyUpstream(t)
	d := openAIDeployment(t, u, "d0", "gpt-test")
	other := openAIDeployment(t, u, "d1", "gpt-test")
	m := NewMonitor([]*provider.Deployment{d, other}, HealthConfig{Checks: CheckConfig{Background: true}})
	ctx := context.Background()

	m.CheckNow(ctx, func(x *provider.Deployment) bool { return x == d })
	if ok, until := m.Usable(d, time.Now()); ok || !until.IsZero() {
		t.Fatalf("after a failed check: usable %v until %v, want out with no known end", ok, until)
	}
	path, body := u.last()
	if path != "/v1/chat/completions" || body["model"] != "gpt-test" || body["max_tokens"] != float64(1) {
		t.Fatalf("the check sent %s %v", path, body)
	}
	st := m.Statuses(time.Now())[0]
	if st.State != StateUnhealthy || st.Check == nil || st.Check.Healthy || !strings.Contains(st.Check.Error, "internal failure") {
		t.Fatalf("status after a failed check: %+v %+v", st, st.Check)
	}
	if strings.Contains(fmt.Sprintf("%+v %+v", st, *st.Check), checkKey) {
		t.Fatalf("the check's error shows the key: %q", st.Check.Error)
	}
	if ok, _ := m.Usable(other, time.Now()); !ok {
		t.Fatal("an unchecked deployment is out of rotation")
	}

	u.healthy.Store(true)
	m.CheckNow(ctx, nil)
	if ok, _ := m.Usable(d, time.Now()); !ok {
		t.Fatal("still out of rotation after a passing check")
	}
	if st := m.Statuses(time.Now())[0]; st.State != StateHealthy || st.ChecksOK != 1 || st.ChecksFailed != 1 || st.Check.Latency <= 0 {
		t.Fatalf("status after recovering: %+v", st)
	}
}

func TestHealthCheckEmbeddingMode(t *testing.T) {
	u := newFlakyUpstream(t)
	u.healthy.Store(true)
	d := openAIDeployment(t, u, "e0", "text-embedding-test")
	m := NewMonitor([]*provider.Deployment{d}, HealthConfig{Deployments: map[string]DeploymentHealth{"e0": {Mode: "embedding"}}})
	m.CheckNow(context.Background(), nil)
	path, body := u.last()
	if path != "/v1/embeddings" || body["input"] != "ping" || body["max_tokens"] != nil {
		t.Fatalf("an embedding check sent %s %v", path, body)
	}
	if st := m.Statuses(time.Now())[0]; st.Check == nil || !st.Check.Healthy {
		t.Fatalf("status %+v", st)
	}
}

// fakeProvider answers checks with err, optionally waiting for release.
type fakeProvider struct {
	err      error
	block    chan struct{} // nil: answer at once
	calls    atomic.Int32
	inflight atomic.Int32
	most     atomic.Int32
	lastCall atomic.Pointer[provider.Call]
}

func (f *fakeProvider) Name() string { return "fake" }
func (f *fakeProvider) Supports(op provider.Op) bool {
	return op == provider.OpChat || op == provider.OpEmbedding
}
func (f *fakeProvider) Send(ctx context.Context, c *provider.Call, _ *provider.Result) error {
	f.calls.Add(1)
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		most := f.most.Load()
		if n <= most || f.most.CompareAndSwap(most, n) {
			break
		}
	}
	cp := *c
	f.lastCall.Store(&cp)
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return &provider.Error{Status: 504, Type: "timeout", Message: "timed out", Cause: ctx.Err()}
		}
	}
	return f.err
}

func fakeDeployment(id string, p provider.Provider) *provider.Deployment {
	return &provider.Deployment{ID: id, ModelName: "g", Provider: "openai", Model: "m-" + id, APIKey: checkKey, Impl: p}
}

func TestHealthCheckVerdicts(t *testing.T) {
	for _, c := range []struct {
		code    int
		healthy bool
	}{
		{429, true},  // busy, not down: cooldowns handle it
		{400, true},  // answered; only the ping displeased it
		{422, true},  // likewise
		{401, false}, // its key is refused
		{403, false},
		{404, false}, // its model does not exist
		{402, false}, // its account is out of credit
		{500, false},
		{503, false},
	} {
		p := &fakeProvider{err: upErr(c.code)}
		d := fakeDeployment("d", p)
		m := NewMonitor([]*provider.Deployment{d}, HealthConfig{Checks: CheckConfig{Background: true}})
		m.CheckNow(context.Background(), nil)
		if ok, _ := m.Usable(d, time.Now()); ok != c.healthy {
			t.Errorf("a check answered %d: usable %v, want %v", c.code, ok, c.healthy)
		}
	}
}

func TestHealthCheckTimeout(t *testing.T) {
	p := &fakeProvider{block: make(chan struct{})}
	d := fakeDeployment("slow", p)
	m := NewMonitor([]*provider.Deployment{d}, HealthConfig{
		Checks:      CheckConfig{Background: true},
		Deployments: map[string]DeploymentHealth{"slow": {CheckTimeout: 50 * time.Millisecond}},
	})
	done := make(chan struct{})
	go func() { m.CheckNow(context.Background(), nil); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a check with a 50ms timeout is still running after 10s")
	}
	st := m.Statuses(time.Now())[0]
	if st.State != StateUnhealthy || st.Check == nil || !strings.Contains(st.Check.Error, "timed out") {
		t.Fatalf("status after a hung check: %+v", st)
	}
}

// Two rounds at once (a /health call during the background round) never
// check one deployment twice at the same time.
func TestHealthChecksNeverOverlapForADeployment(t *testing.T) {
	p := &fakeProvider{block: make(chan struct{})}
	d := fakeDeployment("d", p)
	m := NewMonitor([]*provider.Deployment{d}, HealthConfig{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); m.CheckNow(context.Background(), nil) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the other rounds reach the deployment
	close(p.block)
	wg.Wait()
	if most := p.most.Load(); most != 1 {
		t.Fatalf("%d checks of one deployment ran at once", most)
	}
}

// Without background checks, a check (GET /health) reports and leaves
// routing alone: nothing would bring the deployment back.
func TestOnDemandChecksOnlyReport(t *testing.T) {
	p := &fakeProvider{err: upErr(500)}
	d := fakeDeployment("d", p)
	m := NewMonitor([]*provider.Deployment{d}, HealthConfig{})
	m.CheckNow(context.Background(), nil)
	if ok, _ := m.Usable(d, time.Now()); !ok {
		t.Fatal("an on-demand check took the deployment out of rotation")
	}
	if st := m.Statuses(time.Now())[0]; st.State != StateUnhealthy {
		t.Fatalf("the failed check is not reported: %+v", st)
	}
}

func TestWhatIsChecked(t *testing.T) {
	p := &fakeProvider{}
	plain := fakeDeployment("plain", p)
	image := fakeDeployment("image", p)
	wild := &provider.Deployment{ID: "wild", ModelName: "openai/*", Provider: "openai", Model: "*", Impl: p}
	wildNamed := &provider.Deployment{ID: "wild-named", ModelName: "anthropic/*", Provider: "openai", Model: "*", Impl: p}
	off := fakeDeployment("off", p)
	m := NewMonitor([]*provider.Deployment{plain, image, wild, wildNamed, off}, HealthConfig{
		Checks: CheckConfig{Background: true, Interval: time.Hour},
		Deployments: map[string]DeploymentHealth{
			"image":      {Mode: "image_generation"},
			"wild-named": {CheckModel: "openai/gpt-cheap"},
			"off":        {DisableCheck: true},
		},
	})
	stop := m.StartChecks()
	deadline := time.Now().Add(10 * time.Second)
	for p.calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("the background round made %d checks, want 2 (plain, and the wildcard with health_check_model)", n)
	}
	checked := map[string]bool{}
	for _, st := range m.Statuses(time.Now()) {
		checked[st.ID] = st.Check != nil
	}
	if !checked["plain"] || !checked["wild-named"] || checked["image"] || checked["wild"] || checked["off"] {
		t.Fatalf("checked: %v", checked)
	}
	// health_check_model names the model the ping asks for.
	m2 := NewMonitor([]*provider.Deployment{wildNamed}, HealthConfig{Deployments: map[string]DeploymentHealth{"wild-named": {CheckModel: "openai/gpt-cheap"}}})
	m2.CheckNow(context.Background(), nil)
	if c := p.lastCall.Load(); c == nil || c.Deployment.Model != "gpt-cheap" || wildNamed.Model != "*" {
		t.Fatalf("health_check_model: the check went to %+v", c)
	}
	// An admin's /health checks the disabled one too.
	m.CheckNow(context.Background(), func(d *provider.Deployment) bool { return d == off })
	if st := m.Statuses(time.Now())[4]; st.Check == nil {
		t.Fatal("an on-demand check skipped a deployment with disable_background_health_check")
	}
}

// stop ends the background checks, cancelling one in flight, and nothing
// runs after it returns.
func TestStartChecksStops(t *testing.T) {
	p := &fakeProvider{block: make(chan struct{})}
	d := fakeDeployment("d", p)
	m := NewMonitor([]*provider.Deployment{d}, HealthConfig{Checks: CheckConfig{Background: true, Interval: time.Millisecond}})
	stop := m.StartChecks()
	deadline := time.Now().Add(10 * time.Second)
	for p.inflight.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not return while a check was in flight")
	}
	if n := p.inflight.Load(); n != 0 {
		t.Fatalf("%d checks still running after stop", n)
	}
	calls := p.calls.Load()
	time.Sleep(20 * time.Millisecond)
	if p.calls.Load() != calls {
		t.Fatal("checks ran after stop")
	}
	stop() // twice is fine
	// A check cancelled by shutdown is no verdict.
	if st := m.Statuses(time.Now())[0]; st.State != StateHealthy || st.Check != nil {
		t.Fatalf("a cancelled check left a verdict: %+v", st)
	}
}

// enable_health_check_routing: false keeps background checks to reports.
func TestChecksReportOnly(t *testing.T) {
	p := &fakeProvider{err: upErr(503)}
	d := fakeDeployment("d", p)
	m := NewMonitor([]*provider.Deployment{d}, HealthConfig{Checks: CheckConfig{Background: true, ReportOnly: true, Interval: time.Hour}})
	stop := m.StartChecks()
	deadline := time.Now().Add(10 * time.Second)
	for m.Statuses(time.Now())[0].Check == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	if ok, _ := m.Usable(d, time.Now()); !ok {
		t.Fatal("a report-only check took the deployment out of rotation")
	}
	if st := m.Statuses(time.Now())[0]; st.State != StateUnhealthy {
		t.Fatalf("state %s, want the failed check reported", st.State)
	}
}
