package router

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// Health checks ping each deployment with the cheapest request that proves
// it serves: a one-token chat completion (a one-word embedding for
// embedding deployments), sent through the deployment's own provider, so
// that it exercises exactly what traffic does — URL, credentials, signing,
// error mapping.

// CheckConfig is general_settings' health-check keys.
type CheckConfig struct {
	// Background: background_health_checks. Failing deployments leave
	// rotation until a check passes; without it, GET /health checks on
	// demand and only reports (an admin looking at /health during a blip
	// must not take a deployment out with nothing to bring it back).
	Background bool
	// ReportOnly: enable_health_check_routing: false — checks run and are
	// reported, and routing ignores them (LiteLLM's default; ours is to
	// act on them, which is what background checks are for).
	ReportOnly  bool
	Interval    time.Duration // health_check_interval; 0: DefaultCheckInterval
	Concurrency int           // health_check_concurrency; 0: DefaultCheckConcurrency
	// HideDetails is health_check_details: false (only model and state are shown).
	HideDetails bool
}

// Defaults of the health checks (LiteLLM's where it has one).
const (
	DefaultCheckInterval    = 300 * time.Second
	DefaultCheckTimeout     = 60 * time.Second // LiteLLM's HEALTH_CHECK_TIMEOUT_SECONDS
	DefaultCheckConcurrency = 8                // LiteLLM checks everything at once; a bound is kinder to providers
)

func (c CheckConfig) withDefaults() CheckConfig {
	if c.Interval <= 0 {
		c.Interval = DefaultCheckInterval
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultCheckConcurrency
	}
	return c
}

// Checks returns the health-check settings in effect.
func (m *Monitor) Checks() CheckConfig { return m.checks }

// checkSpec is the request that checks one deployment; skip says why
// there is none (a mode with no cheap check, a wildcard without
// health_check_model).
type checkSpec struct {
	op       provider.Op
	skip     string // why the deployment is not checked
	body     []byte
	target   *provider.Deployment // the deployment, or a copy naming health_check_model
	timeout  time.Duration
	disabled bool // disable_background_health_check
}

func newCheckSpec(d *provider.Deployment, h *DeploymentHealth, prepare func(*provider.Deployment, string) (*provider.Deployment, error)) checkSpec {
	p := checkSpec{target: d, timeout: h.CheckTimeout, disabled: h.DisableCheck}
	if p.timeout <= 0 {
		p.timeout = DefaultCheckTimeout
	}
	if h.CheckModel != "" {
		// LiteLLM pings this model instead, which is how a wildcard
		// deployment ("openai/*") gets checked at all. The prefix of the
		// deployment's own provider is dropped; a "*" deployment keeps it to
		// find the provider.
		model := strings.TrimPrefix(h.CheckModel, d.Provider+"/")
		if prepare == nil {
			cp := *d
			cp.Model = model
			p.target = &cp
		} else if t, err := prepare(d, model); err != nil {
			p.skip = "health_check_model " + h.CheckModel + ": " + err.Error()
		} else {
			p.target = t
		}
	}
	maxTokens := h.CheckMaxTokens
	if maxTokens <= 0 {
		maxTokens = 1
	}
	model := strconv.Quote(d.ModelName)
	switch h.Mode {
	case "", "chat":
		p.op = provider.OpChat
		p.body = []byte(`{"model":` + model + `,"messages":[{"role":"user","content":"ping"}],"max_tokens":` + strconv.Itoa(maxTokens) + `}`)
	case "completion":
		p.op = provider.OpCompletion
		p.body = []byte(`{"model":` + model + `,"prompt":"ping","max_tokens":` + strconv.Itoa(maxTokens) + `}`)
	case "embedding":
		p.op = provider.OpEmbedding
		p.body = []byte(`{"model":` + model + `,"input":"ping"}`)
	default:
		// Images, audio, rerank…: no check costs next to nothing there.
		p.skip = "mode " + h.Mode + " has no cheap health check"
	}
	if p.skip == "" && h.CheckModel == "" && strings.Contains(d.Model, "*") {
		p.skip = "a wildcard deployment is checked only with model_info.health_check_model"
	}
	if p.skip == "" && p.target.Impl != nil && !p.target.Impl.Supports(p.op) {
		p.skip = p.target.Provider + " does not serve " + p.op.String()
	}
	if p.target.Impl == nil {
		p.skip = "no provider"
	}
	return p
}

type checkResult struct {
	at      time.Time
	healthy bool
	err     string
	latency time.Duration
}

// StartChecks runs the background health checks when they are configured:
// a round over every deployment at once, then one every interval. stop ends
// them and waits for running checks to return (their requests are
// cancelled), so nothing outlives the gateway.
func (m *Monitor) StartChecks() (stop func()) {
	if !m.checks.Background {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			m.checkRound(ctx, nil, !m.checks.ReportOnly, true)
			t.Reset(m.checks.Interval)
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

// CheckNow runs health checks now on the deployments keep accepts (nil:
// all), at most Concurrency at once, and returns when they are done or ctx
// ends. A deployment whose check is already running is not checked twice.
// With background checks the results move deployments in and out of
// rotation; without, they are only reported.
func (m *Monitor) CheckNow(ctx context.Context, keep func(*provider.Deployment) bool) {
	m.checkRound(ctx, keep, m.checks.Background && !m.checks.ReportOnly, false)
}

// checkRound checks the deployments keep accepts; routing says whether the
// verdicts move deployments in and out of rotation, background whether
// this is the periodic round, which skips disable_background_health_check
// deployments (an admin asking for /health still sees them checked).
func (m *Monitor) checkRound(ctx context.Context, keep func(*provider.Deployment) bool, routing, background bool) {
	sem := make(chan struct{}, m.checks.Concurrency)
	var wg sync.WaitGroup
	for _, s := range m.states {
		if s.probe.skip != "" || (keep != nil && !keep(s.d)) || (background && s.probe.disabled) {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			m.check(ctx, s, routing)
		}()
	}
	wg.Wait()
}

// check pings one deployment. It never runs twice at once for a deployment.
func (m *Monitor) check(parent context.Context, s *healthState, routing bool) {
	if !s.checking.CompareAndSwap(false, true) {
		return
	}
	defer s.checking.Store(false)
	ctx, cancel := context.WithTimeout(parent, s.probe.timeout)
	defer cancel()
	call := provider.Call{Op: s.probe.op, Deployment: s.probe.target, Body: s.probe.body, ClientModel: s.d.ModelName}
	var env openai.Envelope
	if err := openai.ParseEnvelope(s.probe.body, &env); err == nil {
		call.Envelope = &env
	}
	var res provider.Result
	start := time.Now()
	err := s.probe.target.Impl.Send(ctx, &call, &res)
	latency := time.Since(start)
	if err == nil {
		if res.Stream != nil {
			res.Stream.Close()
		}
		if res.Owner != nil {
			res.Owner.Release()
		}
	}
	if parent.Err() != nil {
		return // shutting down, or the /health caller left: no verdict
	}
	healthy, msg := judgeCheck(ctx, s.d, err, s.probe.timeout)
	m.record(s, checkResult{at: m.now(), healthy: healthy, err: msg, latency: latency}, routing)
}

// judge turns a check's outcome into a verdict. What fails a check is what
// says the deployment cannot serve anyone: a timeout, a 5xx, no connection,
// a 401/403 (its key is refused — unlike a client's request, the check is
// always authorised the same way as traffic), a 404 (its model does not
// exist) or an exhausted account (402). A 429 passes: the deployment is up
// and busy, which cooldowns handle, and an unhealthy verdict would keep it
// out for a whole interval. A 400 also passes: the deployment answered, and
// only the ping was not to its liking (e.g. a reasoning model refusing
// max_tokens).
func judgeCheck(ctx context.Context, d *provider.Deployment, err error, timeout time.Duration) (healthy bool, msg string) {
	if err == nil {
		return true, ""
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return false, "health check timed out after " + timeout.String()
	}
	e := provider.AsError(err)
	msg = healthErrorText(d, e)
	if e.Status == 404 {
		return false, msg // whatever it names, the ping's own path or model is missing
	}
	switch classifyFailure(e) {
	case classTimeout, classServer, classNotFound, classAuth:
		return false, msg
	case classRateLimit:
		return e.Status == 429, msg
	}
	return true, msg
}

func (m *Monitor) record(s *healthState, r checkResult, routing bool) {
	g := s.g
	g.mu.Lock()
	s.check = r
	g.mu.Unlock()
	if r.healthy {
		s.checksOK.Add(1)
	} else {
		s.checksBad.Add(1)
	}
	if !routing {
		return
	}
	was := s.unhealthy.Swap(!r.healthy)
	switch {
	case was && r.healthy:
		m.log.Info("deployment passed its health check and is back in rotation", "model", g.name, "deployment", s.d.ID)
	case !was && !r.healthy:
		m.log.Warn("deployment failed its health check and is out of rotation until a check passes",
			"model", g.name, "deployment", s.d.ID, "error", r.err)
	}
}
