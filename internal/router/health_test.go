package router

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// hclock is the fake clock of the cooldown tests.
type hclock struct {
	mu sync.Mutex
	t  time.Time
}

func newHClock() *hclock { return &hclock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *hclock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *hclock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// hgroup is n deployments of group name, IDs name-0, name-1, …
func hgroup(name string, n int) []*provider.Deployment {
	out := make([]*provider.Deployment, n)
	for i := range out {
		out[i] = &provider.Deployment{ID: fmt.Sprintf("%s-%d", name, i), ModelName: name, Provider: "openai", Model: fmt.Sprintf("m%d", i)}
	}
	return out
}

func hint(n int) *int                     { return &n }
func hdur(d time.Duration) *time.Duration { return &d }
func upErr(code int) *provider.Error {
	return &provider.Error{Status: code, Type: provider.TypeForStatus(code), Retryable: provider.RetryableStatus(code), Message: "upstream said no"}
}
func failedAttempt(code int) Attempt { return Attempt{Err: upErr(code), Latency: time.Millisecond} }
func okAttemptH() Attempt            { return Attempt{Latency: time.Millisecond} }
func rateLimited(after time.Duration) Attempt {
	e := upErr(429)
	e.RetryAfter = after
	return Attempt{Err: e, Latency: time.Millisecond}
}

// usable asserts d's state at the clock's now.
func expectUsable(t *testing.T, m *Monitor, d *provider.Deployment, now time.Time, want bool) time.Time {
	t.Helper()
	ok, until := m.Usable(d, now)
	if ok != want {
		t.Fatalf("%s usable at %s = %v (until %s), want %v", d.ID, now.Format("15:04:05.000"), ok, until.Format("15:04:05.000"), want)
	}
	return until
}

func TestClassifyFailure(t *testing.T) {
	timeoutOwn := &provider.Error{Status: 504, Type: "timeout", Code: "timeout", Retryable: true}
	timeoutRequest := &provider.Error{Status: 504, Type: "timeout", Code: "timeout"}
	for name, c := range map[string]struct {
		e    *provider.Error
		want failClass
	}{
		"success":                  {nil, classNone},
		"429":                      {upErr(429), classRateLimit},
		"402 out of credit":        {upErr(402), classRateLimit},
		"500":                      {upErr(500), classServer},
		"502 unreachable":          {&provider.Error{Status: 502, Code: "upstream_unreachable", Retryable: true}, classServer},
		"503":                      {upErr(503), classServer},
		"501 not implemented":      {upErr(501), classServer},
		"408":                      {upErr(408), classTimeout},
		"deployment timeout":       {timeoutOwn, classTimeout},
		"request deadline":         {timeoutRequest, classNone},
		"401":                      {upErr(401), classAuth},
		"403":                      {upErr(403), classAuth},
		"404 model":                {&provider.Error{Status: 404, Code: "model_not_found"}, classNotFound},
		"404 azure deployment":     {&provider.Error{Status: 404, Code: "DeploymentNotFound"}, classNotFound},
		"404 gemini model":         {&provider.Error{Status: 404, Message: "gemini: models/gemini-x is not found for API version v1beta"}, classNotFound},
		"404 path":                 {&provider.Error{Status: 404, Message: "openai: Invalid URL (POST /v1/rerank)"}, classNone},
		"400":                      {upErr(400), classNone},
		"413":                      {upErr(413), classNone},
		"422":                      {upErr(422), classNone},
		"client closed":            {&provider.Error{Status: provider.StatusClientClosed, Type: "client_closed"}, classNone},
		"context window":           {&provider.Error{Status: 400, Code: "context_length_exceeded"}, classNone},
		"content policy":           {&provider.Error{Status: 400, Code: "content_policy_violation"}, classContentPolicy},
		"response too large (502)": {&provider.Error{Status: 502, Code: "upstream_response_too_large"}, classNone},
	} {
		if got := classifyFailure(c.e); got != c.want {
			t.Errorf("%s: class %q, want %q", name, got, c.want)
		}
	}
}

// In a group of several, the first failure that says something about a
// deployment takes it out (traffic moves within one request); failures the
// client caused never do.
func TestFirstFailureCoolsDeploymentOfAGroup(t *testing.T) {
	clk := newHClock()
	ds := hgroup("g", 3)
	m := NewMonitor(ds, HealthConfig{})
	now := clk.now()
	for _, code := range []int{400, 413, 422, 401, 403, provider.StatusClientClosed} {
		m.Observe(nil, ds[1], failedAttempt(code), now)
		expectUsable(t, m, ds[1], now, true)
	}
	m.Observe(nil, ds[0], failedAttempt(500), now)
	until := expectUsable(t, m, ds[0], now, false)
	if want := now.Add(DefaultCooldownTime); !until.Equal(want) {
		t.Fatalf("cooled until %s, want %s (cooldown_time default)", until, want)
	}
	expectUsable(t, m, ds[2], now, true)
	clk.advance(DefaultCooldownTime - time.Millisecond)
	expectUsable(t, m, ds[0], clk.now(), false)
	clk.advance(time.Millisecond)
	expectUsable(t, m, ds[0], clk.now(), true) // its probe
}

// A group's only deployment is protected like LiteLLM's: a blip shows the
// client the provider's real error; a sustained failure (more than 3 in a
// minute) cools it down.
func TestSingleDeploymentAllowsThreeFailsAMinute(t *testing.T) {
	clk := newHClock()
	ds := hgroup("solo", 1)
	m := NewMonitor(ds, HealthConfig{})
	for range 3 {
		m.Observe(nil, ds[0], failedAttempt(503), clk.now())
		expectUsable(t, m, ds[0], clk.now(), true)
	}
	clk.advance(time.Minute) // a new window
	for range 3 {
		m.Observe(nil, ds[0], failedAttempt(503), clk.now())
		expectUsable(t, m, ds[0], clk.now(), true)
	}
	m.Observe(nil, ds[0], failedAttempt(503), clk.now())
	expectUsable(t, m, ds[0], clk.now(), false)
}

func TestAllowedFailsAndPolicy(t *testing.T) {
	t.Run("allowed_fails", func(t *testing.T) {
		clk := newHClock()
		ds := hgroup("g", 2)
		m := NewMonitor(ds, HealthConfig{AllowedFails: hint(2)})
		for range 2 {
			m.Observe(nil, ds[0], failedAttempt(500), clk.now())
			expectUsable(t, m, ds[0], clk.now(), true)
		}
		m.Observe(nil, ds[0], failedAttempt(500), clk.now())
		expectUsable(t, m, ds[0], clk.now(), false)
	})
	t.Run("classes count apart", func(t *testing.T) {
		clk := newHClock()
		ds := hgroup("g", 2)
		m := NewMonitor(ds, HealthConfig{AllowedFailsPolicy: FailPolicy{RateLimit: hint(1), InternalServer: hint(1)}})
		m.Observe(nil, ds[0], failedAttempt(429), clk.now())
		m.Observe(nil, ds[0], failedAttempt(500), clk.now())
		expectUsable(t, m, ds[0], clk.now(), true)
		m.Observe(nil, ds[0], failedAttempt(429), clk.now())
		expectUsable(t, m, ds[0], clk.now(), false)
	})
	t.Run("deployment policy beats router policy", func(t *testing.T) {
		clk := newHClock()
		ds := hgroup("g", 2)
		m := NewMonitor(ds, HealthConfig{
			AllowedFailsPolicy: FailPolicy{Timeout: hint(0)},
			Deployments:        map[string]DeploymentHealth{"g-0": {AllowedFailsPolicy: FailPolicy{Timeout: hint(5)}}},
		})
		for range 5 {
			m.Observe(nil, ds[0], failedAttempt(408), clk.now())
		}
		expectUsable(t, m, ds[0], clk.now(), true)
		m.Observe(nil, ds[1], failedAttempt(408), clk.now())
		expectUsable(t, m, ds[1], clk.now(), false)
	})
	t.Run("401 only when a policy opts in", func(t *testing.T) {
		clk := newHClock()
		ds := hgroup("g", 2)
		m := NewMonitor(ds, HealthConfig{AllowedFails: hint(0)})
		for range 10 {
			m.Observe(nil, ds[0], failedAttempt(401), clk.now())
		}
		expectUsable(t, m, ds[0], clk.now(), true)
		m = NewMonitor(ds, HealthConfig{AllowedFailsPolicy: FailPolicy{Authentication: hint(0)}})
		m.Observe(nil, ds[0], failedAttempt(401), clk.now())
		expectUsable(t, m, ds[0], clk.now(), false)
	})
	t.Run("content policy only when a policy opts in", func(t *testing.T) {
		clk := newHClock()
		ds := hgroup("g", 2)
		refusal := Attempt{Err: &provider.Error{Status: 400, Code: "content_policy_violation"}}
		m := NewMonitor(ds, HealthConfig{})
		m.Observe(nil, ds[0], refusal, clk.now())
		expectUsable(t, m, ds[0], clk.now(), true)
		m = NewMonitor(ds, HealthConfig{Deployments: map[string]DeploymentHealth{"g-0": {AllowedFailsPolicy: FailPolicy{ContentPolicyViolation: hint(0)}}}})
		m.Observe(nil, ds[0], refusal, clk.now())
		expectUsable(t, m, ds[0], clk.now(), false)
	})
	t.Run("400 never, whatever the policy", func(t *testing.T) {
		clk := newHClock()
		ds := hgroup("g", 2)
		m := NewMonitor(ds, HealthConfig{AllowedFails: hint(0), AllowedFailsPolicy: FailPolicy{BadRequest: hint(0)}})
		for range 10 {
			m.Observe(nil, ds[0], failedAttempt(400), clk.now())
		}
		expectUsable(t, m, ds[0], clk.now(), true)
	})
}

func TestCooldownTime(t *testing.T) {
	clk := newHClock()
	ds := hgroup("g", 4)
	m := NewMonitor(ds, HealthConfig{
		CooldownTime:     hdur(30 * time.Second),
		MaxCooldownShare: new(1.0),
		Deployments: map[string]DeploymentHealth{
			"g-1": {CooldownTime: hdur(10 * time.Second)},
			"g-2": {CooldownTime: hdur(0)}, // LiteLLM: no cooldown for this one
		},
	})
	now := clk.now()
	for _, d := range ds {
		m.Observe(nil, d, failedAttempt(500), now)
	}
	for i, want := range []time.Duration{30 * time.Second, 10 * time.Second, 0, 30 * time.Second} {
		ok, until := m.Usable(ds[i], now)
		if want == 0 {
			if !ok {
				t.Errorf("%s: cooled down with cooldown_time 0", ds[i].ID)
			}
			continue
		}
		if ok || !until.Equal(now.Add(want)) {
			t.Errorf("%s: usable %v until %s, want cooled for %s", ds[i].ID, ok, until.Sub(now), want)
		}
	}

	m = NewMonitor(ds, HealthConfig{DisableCooldowns: true})
	for range 5 {
		m.Observe(nil, ds[0], failedAttempt(500), now)
	}
	expectUsable(t, m, ds[0], now, true)
}

func TestRetryAfter(t *testing.T) {
	now := newHClock().now()
	for _, c := range []struct {
		after, want time.Duration
	}{
		{20 * time.Second, 20 * time.Second},
		{time.Second, DefaultCooldownTime}, // at least cooldown_time
		{10 * time.Hour, maxRetryAfter},
	} {
		ds := hgroup("g", 2)
		m := NewMonitor(ds, HealthConfig{})
		m.Observe(nil, ds[0], rateLimited(c.after), now)
		if _, until := m.Usable(ds[0], now); until.Sub(now) != c.want {
			t.Errorf("Retry-After %s: cooled for %s, want %s", c.after, until.Sub(now), c.want)
		}
	}
}

// After a cooldown one probe goes through; a failed probe cools again for
// twice as long, up to the cap; a passing one ends it all.
func TestProbeAndGrowingCooldown(t *testing.T) {
	clk := newHClock()
	ds := hgroup("g", 2)
	m := NewMonitor(ds, HealthConfig{MaxCooldown: 30 * time.Second})
	d := ds[0]
	m.Observe(nil, d, failedAttempt(500), clk.now())
	for _, want := range []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second} {
		_, until := m.Usable(d, clk.now())
		clk.advance(until.Sub(clk.now()))
		pickNow := clk.now()
		expectUsable(t, m, d, pickNow, true)
		expectUsable(t, m, d, pickNow, true) // the same Pick asks again
		other := pickNow.Add(time.Nanosecond)
		if retry := expectUsable(t, m, d, other, false); !retry.Equal(pickNow.Add(probeEvery)) {
			t.Fatalf("a second Pick was told to come back at %s, want %s", retry, pickNow.Add(probeEvery))
		}
		clk.advance(50 * time.Millisecond)
		m.Observe(nil, d, failedAttempt(503), clk.now())
		_, until = m.Usable(d, clk.now())
		if got := until.Sub(clk.now()); got != want {
			t.Fatalf("after a failed probe: cooled for %s, want %s", got, want)
		}
	}
	_, until := m.Usable(d, clk.now())
	clk.advance(until.Sub(clk.now()))
	expectUsable(t, m, d, clk.now(), true)
	clk.advance(50 * time.Millisecond)
	m.Observe(nil, d, okAttemptH(), clk.now())
	// Back in full rotation: every Pick may have it.
	for i := range 3 {
		expectUsable(t, m, d, clk.now().Add(time.Duration(i)), true)
	}
	// And the next failure starts from cooldown_time again.
	m.Observe(nil, d, failedAttempt(500), clk.now())
	if _, until := m.Usable(d, clk.now()); until.Sub(clk.now()) != DefaultCooldownTime {
		t.Fatalf("after a recovery the cooldown is %s, want %s", until.Sub(clk.now()), DefaultCooldownTime)
	}
}

// A probe grant that no attempt used lapses, so a Pick that chose another
// deployment cannot keep this one out.
func TestProbeGrantLapses(t *testing.T) {
	clk := newHClock()
	ds := hgroup("g", 2)
	m := NewMonitor(ds, HealthConfig{})
	m.Observe(nil, ds[0], failedAttempt(500), clk.now())
	clk.advance(DefaultCooldownTime)
	expectUsable(t, m, ds[0], clk.now(), true)
	expectUsable(t, m, ds[0], clk.now().Add(time.Millisecond), false)
	clk.advance(probeEvery)
	expectUsable(t, m, ds[0], clk.now(), true)
}

// Outcomes of attempts sent before a cooldown began (or ended) say nothing
// about the deployment now.
func TestStragglersAreIgnored(t *testing.T) {
	clk := newHClock()
	ds := hgroup("g", 2)
	m := NewMonitor(ds, HealthConfig{})
	d := ds[0]
	m.Observe(nil, d, failedAttempt(500), clk.now())
	_, until := m.Usable(d, clk.now())
	clk.advance(time.Second)
	m.Observe(nil, d, failedAttempt(500), clk.now()) // in flight when it was cooled
	if _, u := m.Usable(d, clk.now()); !u.Equal(until) {
		t.Fatalf("a straggler moved the cooldown from %s to %s", until, u)
	}
	clk.advance(until.Sub(clk.now()) + 100*time.Millisecond)
	long := Attempt{Err: upErr(500), Latency: 10 * time.Second} // began long before the cooldown ended
	m.Observe(nil, d, long, clk.now())
	expectUsable(t, m, d, clk.now(), true) // still half-open, not cooled again
	slowOK := Attempt{Latency: 10 * time.Second}
	m.Observe(nil, d, slowOK, clk.now())
	if st := m.Statuses(clk.now())[0]; st.State != StateCooled || !st.HalfOpen {
		t.Fatalf("a success sent before the cooldown ended closed it: %+v", st)
	}
}

// The share cap: never more than half a group out while the rest serve;
// but when the rest fail too, everything goes and Pick answers fast.
func TestShareCapAndFullOutage(t *testing.T) {
	clk := newHClock()
	ds := hgroup("g", 3)
	m := NewMonitor(ds, HealthConfig{})
	now := clk.now()
	for _, d := range ds {
		m.Observe(nil, d, okAttemptH(), now)
	}
	clk.advance(100 * time.Millisecond)
	m.Observe(nil, ds[0], failedAttempt(500), clk.now())
	expectUsable(t, m, ds[0], clk.now(), false)
	m.Observe(nil, ds[1], failedAttempt(500), clk.now())
	expectUsable(t, m, ds[1], clk.now(), true) // ds[2] serves: it keeps ds[1] in
	if st := m.Statuses(clk.now())[1]; st.CooldownsPrevented != 1 {
		t.Fatalf("prevented cooldowns = %d, want 1", st.CooldownsPrevented)
	}
	// Now ds[2] fails too: nobody is serving, so it may go, and then ds[1].
	clk.advance(100 * time.Millisecond)
	m.Observe(nil, ds[2], failedAttempt(503), clk.now())
	expectUsable(t, m, ds[2], clk.now(), false)
	m.Observe(nil, ds[1], failedAttempt(500), clk.now())
	expectUsable(t, m, ds[1], clk.now(), false)

	// Pick, through a router on the same clock: a fast "no deployment"
	// with the earliest recovery, ds[0]'s.
	r, err := NewWith([]Weighted{{Deployment: ds[0]}, {Deployment: ds[1]}, {Deployment: ds[2]}}, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	r.SetHealth(m)
	g, _ := r.Resolve("g")
	_, err = r.Pick(g, &Selection{})
	var nd *NoDeploymentsError
	if !errors.As(err, &nd) {
		t.Fatalf("Pick in a full outage: %v, want *NoDeploymentsError", err)
	}
	_, first := m.Usable(ds[0], clk.now())
	if !nd.RetryAt.Equal(first) {
		t.Fatalf("RetryAt %s, want the earliest recovery %s", nd.RetryAt, first)
	}
	// At that moment exactly one attempt is let through.
	clk.advance(first.Sub(clk.now()))
	d, err := r.Pick(g, &Selection{})
	if err != nil || d != ds[0] {
		t.Fatalf("Pick at the earliest recovery: %v, %v; want the probe on %s", d, err, ds[0].ID)
	}
	clk.advance(time.Millisecond)
	if _, err := r.Pick(g, &Selection{}); !errors.As(err, &nd) {
		t.Fatalf("a second Pick during the probe: %v, want *NoDeploymentsError", err)
	}
}

func TestShareCapSizes(t *testing.T) {
	for _, c := range []struct {
		n        int
		share    float64
		maxOut   int
		describe string
	}{
		{2, 0.5, 1, "one of two"},
		{4, 0.5, 2, "two of four"},
		{10, 0.5, 5, "five of ten"},
		{4, 0.25, 1, "a quarter"},
		{3, 0, 0, "none while others serve"},
		{3, 1, 3, "all"},
	} {
		t.Run(c.describe, func(t *testing.T) {
			clk := newHClock()
			ds := hgroup("g", c.n)
			m := NewMonitor(ds, HealthConfig{MaxCooldownShare: &c.share})
			// The last deployment keeps serving throughout.
			server := ds[c.n-1]
			cooled := 0
			for _, d := range ds[:c.n-1] {
				m.Observe(nil, server, okAttemptH(), clk.now())
				m.Observe(nil, d, failedAttempt(500), clk.now())
				if ok, _ := m.Usable(d, clk.now()); !ok {
					cooled++
				}
			}
			want := min(c.maxOut, c.n-1)
			if cooled != want {
				t.Fatalf("%d of %d cooled while one serves, want %d", cooled, c.n, want)
			}
		})
	}
}

// Without a recent success from the rest (a quiet group), the cap does not
// hold a failing deployment in.
func TestShareCapNeedsRecentSuccess(t *testing.T) {
	clk := newHClock()
	ds := hgroup("g", 2)
	m := NewMonitor(ds, HealthConfig{MaxCooldownShare: new(0.0)})
	m.Observe(nil, ds[1], okAttemptH(), clk.now())
	m.Observe(nil, ds[0], failedAttempt(500), clk.now())
	expectUsable(t, m, ds[0], clk.now(), true)
	clk.advance(servingWindow)
	m.Observe(nil, ds[0], failedAttempt(500), clk.now())
	expectUsable(t, m, ds[0], clk.now(), false)
}

func TestEventWireFormat(t *testing.T) {
	for _, e := range []Event{
		{Kind: EventCooled, Deployment: "d|with|bars", Epoch: 0xabc1, Duration: 1500 * time.Millisecond, Strikes: 2, Reason: "rate_limit"},
		{Kind: EventRecovered, Deployment: "azure-eu:gpt-4o", Epoch: 7},
	} {
		got, err := ParseEvent(e.String())
		if err != nil || got != e {
			t.Errorf("round trip of %+v: %+v, %v", e, got, err)
		}
	}
	for _, s := range []string{"", "c", "c|1", "c|1|5|0|x", "c|0|5|0|x|d", "c|1|0|0|x|d", "c|1|-5|0|x|d", "c|1|5|-1|x|d", "c|zz|5|0|x|d", "r|1|", "x|1|d", "c|1|5|0|x|"} {
		if e, err := ParseEvent(s); err == nil {
			t.Errorf("ParseEvent(%q) accepted %+v", s, e)
		}
	}
}

// hbus links Monitors the way Redis pub/sub does: every event reaches every
// replica, the publisher included, at the time it is delivered.
type hbus struct {
	mu   sync.Mutex
	subs []*Monitor
	now  func() time.Time
}

type hbusPeer struct{ b *hbus }

func (p hbusPeer) Publish(e Event) {
	// Through the wire form, as Redis carries it.
	ev, err := ParseEvent(e.String())
	if err != nil {
		panic(err)
	}
	p.b.mu.Lock()
	subs := append([]*Monitor(nil), p.b.subs...)
	p.b.mu.Unlock()
	for _, m := range subs {
		m.Apply(ev, p.b.now())
	}
}

func (b *hbus) join(m *Monitor) {
	b.mu.Lock()
	b.subs = append(b.subs, m)
	b.mu.Unlock()
	m.SetPeers(hbusPeer{b})
}

// Two replicas: a cooldown decided on one is applied on the other, and the
// probe that ends it on one ends it on both.
func TestTwoReplicasShareCooldowns(t *testing.T) {
	clk := newHClock()
	b := &hbus{now: clk.now}
	a := NewMonitor(hgroup("g", 3), HealthConfig{})
	dsB := hgroup("g", 3) // the other replica's own deployment values, same IDs
	rb := NewMonitor(dsB, HealthConfig{})
	b.join(a)
	b.join(rb)
	dsA := a.states
	a.Observe(nil, dsA[0].d, rateLimited(12*time.Second), clk.now())
	until := expectUsable(t, rb, dsB[0], clk.now(), false)
	if until.Sub(clk.now()) != 12*time.Second {
		t.Fatalf("replica B cooled for %s, want 12s", until.Sub(clk.now()))
	}
	expectUsable(t, rb, dsB[1], clk.now(), true)

	clk.advance(12 * time.Second)
	// A's probe passes: B need not probe.
	expectUsable(t, a, dsA[0].d, clk.now(), true)
	clk.advance(10 * time.Millisecond)
	a.Observe(nil, dsA[0].d, okAttemptH(), clk.now())
	for i := range 3 {
		expectUsable(t, rb, dsB[0], clk.now().Add(time.Duration(i)), true)
	}
	// A cooldown decided on B comes back to A, and a failed probe on B
	// grows it on A too.
	rb.Observe(nil, dsB[2], failedAttempt(500), clk.now())
	expectUsable(t, a, dsA[2].d, clk.now(), false)
	clk.advance(DefaultCooldownTime)
	expectUsable(t, rb, dsB[2], clk.now(), true)
	clk.advance(10 * time.Millisecond)
	rb.Observe(nil, dsB[2], failedAttempt(500), clk.now())
	if _, u := a.Usable(dsA[2].d, clk.now()); u.Sub(clk.now()) != 2*DefaultCooldownTime {
		t.Fatalf("A sees the grown cooldown as %s, want %s", u.Sub(clk.now()), 2*DefaultCooldownTime)
	}
}

// A replica applying an older, shorter cooldown keeps its own longer one.
func TestApplyKeepsTheLaterCooldown(t *testing.T) {
	clk := newHClock()
	ds := hgroup("g", 2)
	m := NewMonitor(ds, HealthConfig{})
	m.Observe(nil, ds[0], rateLimited(time.Minute), clk.now())
	m.Apply(Event{Kind: EventCooled, Deployment: "g-0", Epoch: 99, Duration: time.Second}, clk.now())
	if _, u := m.Usable(ds[0], clk.now()); u.Sub(clk.now()) != time.Minute {
		t.Fatalf("cooldown shortened to %s by an older event", u.Sub(clk.now()))
	}
	// A recovery of some other cooldown does not end this one.
	m.Apply(Event{Kind: EventRecovered, Deployment: "g-0", Epoch: 99}, clk.now())
	expectUsable(t, m, ds[0], clk.now(), false)
	m.Apply(Event{Kind: EventCooled, Deployment: "unknown", Epoch: 5, Duration: time.Hour}, clk.now())
}

// Deployments a wildcard group makes per model get their own cooldowns,
// under the wildcard deployment's settings.
func TestWildcardDeploymentsAreCooledApart(t *testing.T) {
	clk := newHClock()
	tmpl := &provider.Deployment{ID: "wild", ModelName: "openai/*", Provider: "openai", Model: "*"}
	m := NewMonitor([]*provider.Deployment{tmpl}, HealthConfig{Deployments: map[string]DeploymentHealth{"wild": {CooldownTime: hdur(42 * time.Second)}}})
	made := func(model string) (*Group, *provider.Deployment) {
		d := &provider.Deployment{ID: "wild:" + model, ModelName: model, Provider: "openai", Model: model}
		return &Group{Name: model, Deployments: []*provider.Deployment{d, {ID: "other:" + model}}}, d
	}
	g1, d1 := made("gpt-a")
	_, d2 := made("gpt-b")
	m.Observe(g1, d1, Attempt{Err: &provider.Error{Status: 404, Code: "model_not_found"}}, clk.now())
	until := expectUsable(t, m, d1, clk.now(), false)
	if until.Sub(clk.now()) != 42*time.Second {
		t.Fatalf("wildcard-made deployment cooled for %s, want the wildcard's 42s", until.Sub(clk.now()))
	}
	expectUsable(t, m, d2, clk.now(), true)
	// A copy of a configured deployment carrying a client's own api_base
	// is not that deployment: its failures cool nothing.
	conf := &provider.Deployment{ID: "conf", ModelName: "g", Provider: "openai", Model: "m"}
	m2 := NewMonitor([]*provider.Deployment{tmpl, conf}, HealthConfig{})
	override := *conf
	override.APIBase = "https://client.example.com"
	for range 5 {
		m2.Observe(&Group{Name: "g", Deployments: []*provider.Deployment{conf, {ID: "x"}}}, &override, failedAttempt(500), clk.now())
	}
	expectUsable(t, m2, conf, clk.now(), true)
	expectUsable(t, m2, &override, clk.now(), true)
	// The same model's deployment made again (after the wildcard forgot its
	// group) is the same deployment.
	_, again := made("gpt-a")
	expectUsable(t, m, again, clk.now(), false)
	var found bool
	for _, st := range m.Statuses(clk.now()) {
		found = found || st.ID == "wild:gpt-a" && st.State == StateCooled
	}
	if !found {
		t.Fatal("/health does not list the cooled wildcard-made deployment")
	}
}

func TestStatusesHoldNoKey(t *testing.T) {
	clk := newHClock()
	const key = "sk-live-abcdefghijklmnopqrstuvwxyz0123456789"
	ds := hgroup("g", 2)
	ds[0].APIKey = key
	ds[0].APIBase = "https://user:" + key + "@example.com/v1?api-key=" + key
	m := NewMonitor(ds, HealthConfig{})
	e := upErr(401)
	e.Message = "Incorrect API key provided: " + key
	e.Cause = errors.New("POST https://example.com/v1?key=" + key)
	m.Observe(nil, ds[0], Attempt{Err: e}, clk.now())
	e = upErr(500)
	e.Message = "boom for " + key
	m.Observe(nil, ds[0], Attempt{Err: e}, clk.now())
	st := m.Statuses(clk.now())[0]
	if text := fmt.Sprintf("%+v", st); strings.Contains(text, key) || strings.Contains(text, "abcdefghij") {
		t.Fatalf("a status shows the key: %s", text)
	}
	if st.APIBase != "https://example.com/v1" || st.LastError == "" || st.State != StateCooled {
		t.Fatalf("status = %+v", st)
	}
}

// Usable and the success path are on every request: no allocation.
func TestHotPathDoesNotAllocate(t *testing.T) {
	clk := newHClock()
	ds := hgroup("g", 10)
	m := NewMonitor(ds, HealthConfig{})
	m.Observe(nil, ds[3], failedAttempt(500), clk.now())
	now := clk.now()
	allocs := testing.AllocsPerRun(1000, func() {
		for _, d := range ds {
			m.Usable(d, now)
		}
		m.Observe(nil, ds[0], okAttemptH(), now)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per request", allocs)
	}
}

func BenchmarkMonitorUsable10(b *testing.B) {
	ds := hgroup("g", 10)
	m := NewMonitor(ds, HealthConfig{})
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range ds {
			m.Usable(d, now)
		}
	}
}

func BenchmarkMonitorObserveSuccess(b *testing.B) {
	ds := hgroup("g", 10)
	m := NewMonitor(ds, HealthConfig{})
	a := okAttemptH()
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(nil, ds[0], a, time.Now())
	}
}

// BenchmarkPickWithMonitor is the router's decision with cooldowns on, for
// a group of 10: Pick, Begin, End.
func BenchmarkPickWithMonitor(b *testing.B) {
	ds := hgroup("g", 10)
	ws := make([]Weighted, len(ds))
	for i, d := range ds {
		ws[i] = Weighted{Deployment: d}
	}
	r := New(ws)
	m := NewMonitor(ds, HealthConfig{})
	r.SetHealth(m)
	g, _ := r.Resolve("g")
	s := &Selection{}
	a := okAttemptH()
	b.ReportAllocs()
	for b.Loop() {
		d, err := r.Pick(g, s)
		if err != nil {
			b.Fatal(err)
		}
		r.Begin(d)
		r.End(g, d, a)
	}
}
