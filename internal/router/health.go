package router

import (
	"log/slog"
	"math"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// HealthConfig is what the Monitor takes from the configuration:
// router_settings (cooldowns), general_settings (health checks) and each
// deployment's own keys.
type HealthConfig struct {
	CooldownTime       *time.Duration // router_settings.cooldown_time; nil: 5 s
	DisableCooldowns   bool
	AllowedFails       *int
	AllowedFailsPolicy FailPolicy
	// MaxCooldownShare is router_settings.max_cooldown_share (Switchboard's
	// own key): the share of a group that may be cooled down while the rest
	// serve. nil: DefaultMaxCooldownShare.
	MaxCooldownShare *float64
	// MaxCooldown caps growing cooldowns; 0: DefaultMaxCooldown.
	MaxCooldown time.Duration
	// Deployments holds each deployment's own settings, by deployment ID.
	Deployments map[string]DeploymentHealth
	Checks      CheckConfig

	// Prepare makes the deployment a health check with health_check_model
	// calls, as router.Options.Prepare does for wildcard groups (nil: a
	// copy of the deployment naming the model).
	Prepare func(d *provider.Deployment, model string) (*provider.Deployment, error)

	Log *slog.Logger
	// Now is the clock of health-check records (tests); nil: time.Now.
	Now func() time.Time
}

// DeploymentHealth is one deployment's own cooldown and health-check keys.
type DeploymentHealth struct {
	CooldownTime       *time.Duration // litellm_params (or model_info).cooldown_time
	AllowedFails       *int           // model_info.allowed_fails
	AllowedFailsPolicy FailPolicy     // model_info.allowed_fails_policy
	Mode               string         // model_info.mode: what a health check sends
	DisableCheck       bool           // model_info.disable_background_health_check
	CheckTimeout       time.Duration  // model_info.health_check_timeout; 0: DefaultCheckTimeout
	CheckMaxTokens     int            // model_info.health_check_max_tokens; 0: 1
	CheckModel         string         // model_info.health_check_model
}

// Monitor is the Health of a Router: cooldowns decided from the outcomes
// End reports, shared with other replicas through Peers, and health checks.
// Usable reads atomics only; what weighs a decision takes the group's lock,
// which only failures, recoveries and checks do.
type Monitor struct {
	byDep    map[*provider.Deployment]*healthState // configured deployments; immutable
	byID     map[string]*healthState
	states   []*healthState // configuration order, for reports
	settings map[string]DeploymentHealth
	cfg      HealthConfig
	share    float64
	maxCool  time.Duration
	checks   CheckConfig
	log      *slog.Logger
	now      func() time.Time
	peers    atomic.Pointer[peersBox]

	// Deployments a wildcard group made for one requested model are not
	// configured; their state is made when they are first observed. They
	// are found by ID, which wildcards make per model ("<id>:<model>").
	dynamic    sync.Map // ID → *healthState
	templates  []string // IDs of the wildcard deployments
	hasDynamic atomic.Bool
	dynMu      sync.Mutex
	dynGroups  map[string]*healthGroup
	dynCount   int
}

// maxDynamic bounds the states kept for wildcard-made deployments; beyond
// it the ones in rotation are forgotten (a cooled one keeps its cooldown).
const maxDynamic = 4096

// Peers carries cooldown decisions to the other replicas. Publish is called
// on the request path (from End), so it must not block: queue and return.
type Peers interface {
	Publish(Event)
}

type peersBox struct{ p Peers }

type healthGroup struct {
	name    string
	mu      sync.Mutex // decisions about any member
	members []*healthState
}

// healthState is one deployment's health. The atomics are what Usable and
// the success path read and write; the rest is guarded by g.mu.
type healthState struct {
	d     *provider.Deployment
	id    string
	g     *healthGroup
	rules coolRules
	probe checkSpec

	// Read by every Pick.
	// until is the end of the current cooldown in Unix ns; 0: none. Once
	// it has passed the deployment is half-open until a probe succeeds.
	until    atomic.Int64
	probeTok atomic.Int64 // the now of the Pick granted the current probe
	// unhealthy: the last background health check failed.
	unhealthy atomic.Bool

	// Written by successes, on a cache line of their own so that they do
	// not keep invalidating the one every Pick reads.
	_        [64]byte
	lastOK   atomic.Int64 // Unix ns of the last success
	lastFail atomic.Int64 // Unix ns of the last failure that counts
	latency  atomic.Int64 // a recent successful attempt's latency, ns
	_        [64]byte

	checking atomic.Bool // a health check is running

	cooldowns [numFailClasses]atomic.Uint64 // decided here, by reason
	capped    atomic.Uint64                 // cooldowns the share cap prevented
	checksOK  atomic.Uint64
	checksBad atomic.Uint64

	// Guarded by g.mu.
	epoch       uint64
	strikes     int
	reason      failClass
	windowStart int64
	fails       [numFailClasses]int32
	lastErr     string
	lastErrAt   int64
	check       checkResult
}

// NewMonitor builds the health state of the configured deployments (every
// deployment of the Router, wildcard ones included, in configuration order).
func NewMonitor(deployments []*provider.Deployment, c HealthConfig) *Monitor {
	m := &Monitor{
		byDep:     map[*provider.Deployment]*healthState{},
		byID:      map[string]*healthState{},
		settings:  c.Deployments,
		cfg:       c,
		share:     DefaultMaxCooldownShare,
		maxCool:   c.MaxCooldown,
		checks:    c.Checks.withDefaults(),
		log:       c.Log,
		now:       c.Now,
		dynGroups: map[string]*healthGroup{},
	}
	if c.MaxCooldownShare != nil {
		m.share = min(max(*c.MaxCooldownShare, 0), 1)
	}
	if m.maxCool <= 0 {
		m.maxCool = DefaultMaxCooldown
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	size := map[string]int{}
	for _, d := range deployments {
		size[d.ModelName]++
	}
	groups := map[string]*healthGroup{}
	for _, d := range deployments {
		if m.byDep[d] != nil {
			continue
		}
		g := groups[d.ModelName]
		if g == nil {
			g = &healthGroup{name: d.ModelName}
			groups[d.ModelName] = g
		}
		dh := c.Deployments[d.ID]
		s := &healthState{d: d, id: d.ID, g: g, rules: resolveCoolRules(&c, &dh, size[d.ModelName]), probe: newCheckSpec(d, &dh, c.Prepare)}
		g.members = append(g.members, s)
		m.byDep[d] = s
		if d.ID != "" {
			m.byID[d.ID] = s
			if strings.Contains(d.ModelName, "*") {
				m.templates = append(m.templates, d.ID)
			}
		}
		m.states = append(m.states, s)
	}
	return m
}

// SetPeers installs the replicas' channel; nil: decisions stay here.
func (m *Monitor) SetPeers(p Peers) {
	if p == nil {
		m.peers.Store(nil)
		return
	}
	m.peers.Store(&peersBox{p})
}

// IDs lists the configured deployments' IDs, for loading shared state.
func (m *Monitor) IDs() []string {
	out := make([]string, 0, len(m.byID))
	for _, s := range m.states {
		if s.id != "" {
			out = append(out, s.id)
		}
	}
	return out
}

// lookup finds d's state without making one.
func (m *Monitor) lookup(d *provider.Deployment) *healthState {
	if s := m.byDep[d]; s != nil {
		return s
	}
	if m.hasDynamic.Load() {
		if v, ok := m.dynamic.Load(d.ID); ok {
			return v.(*healthState)
		}
	}
	return nil
}

// Usable implements Health.
func (m *Monitor) Usable(d *provider.Deployment, now time.Time) (bool, time.Time) {
	s := m.lookup(d)
	if s == nil {
		return true, time.Time{}
	}
	if s.unhealthy.Load() {
		return false, time.Time{}
	}
	u := s.until.Load()
	if u == 0 {
		return true, time.Time{}
	}
	n := now.UnixNano()
	if n < u {
		return false, time.Unix(0, u)
	}
	return s.grantProbe(n)
}

// grantProbe lets one attempt through a deployment whose cooldown is over
// (half-open). Pick asks about every candidate with one now, maybe more than
// once, so the grant is keyed by that now: the same Pick keeps hearing yes,
// any other hears no until the probe reports back (Observe) or probeEvery
// passes.
func (s *healthState) grantProbe(n int64) (bool, time.Time) {
	for {
		tok := s.probeTok.Load()
		if tok == n {
			return true, time.Time{}
		}
		if tok != 0 && n-tok < int64(probeEvery) {
			return false, time.Unix(0, tok+int64(probeEvery))
		}
		if s.probeTok.CompareAndSwap(tok, n) {
			return true, time.Time{}
		}
	}
}

// Observe implements Health.
func (m *Monitor) Observe(g *Group, d *provider.Deployment, a Attempt, now time.Time) {
	s := m.lookup(d)
	if s == nil {
		if s = m.adopt(g, d); s == nil {
			return
		}
	}
	n := now.UnixNano()
	if a.Err == nil {
		m.success(s, a, n)
		return
	}
	m.failure(s, a, n)
}

// adopt makes the state of a deployment a wildcard group made, under the
// rules of the wildcard deployment it was made from. Any other deployment
// it does not know — a copy carrying a client's own api_base or api_key —
// is not the configured one, and its failures must not cool that down.
func (m *Monitor) adopt(g *Group, d *provider.Deployment) *healthState {
	if g == nil || d.ID == "" {
		return nil
	}
	dh, ok := m.templateSettings(d.ID)
	if !ok {
		return nil
	}
	m.dynMu.Lock()
	defer m.dynMu.Unlock()
	if v, ok := m.dynamic.Load(d.ID); ok {
		return v.(*healthState)
	}
	if m.dynCount >= maxDynamic {
		m.forgetIdle()
	}
	hg := m.dynGroups[g.Name]
	if hg == nil {
		hg = &healthGroup{name: g.Name}
		m.dynGroups[g.Name] = hg
	}
	s := &healthState{d: d, id: d.ID, g: hg, rules: resolveCoolRules(&m.cfg, &dh, len(g.Deployments))}
	s.probe.skip = "made by a wildcard for one model"
	hg.mu.Lock()
	hg.members = append(hg.members, s)
	hg.mu.Unlock()
	m.dynamic.Store(d.ID, s)
	m.dynCount++
	m.hasDynamic.Store(true)
	return s
}

// templateSettings finds the settings of the wildcard deployment whose ID
// prefixes id ("<wildcard id>:<model>"); the longest wins.
func (m *Monitor) templateSettings(id string) (DeploymentHealth, bool) {
	best := ""
	for _, tid := range m.templates {
		if len(tid) > len(best) && strings.HasPrefix(id, tid+":") {
			best = tid
		}
	}
	if best == "" {
		return DeploymentHealth{}, false
	}
	return m.settings[best], true
}

// forgetIdle drops the wildcard-made states that are in rotation; the
// caller holds dynMu.
func (m *Monitor) forgetIdle() {
	for name, hg := range m.dynGroups {
		hg.mu.Lock()
		kept := hg.members[:0]
		for _, s := range hg.members {
			if s.out() {
				kept = append(kept, s)
				continue
			}
			m.dynamic.Delete(s.id)
			m.dynCount--
		}
		clear(hg.members[len(kept):])
		hg.members = kept
		hg.mu.Unlock()
		if len(kept) == 0 {
			delete(m.dynGroups, name)
		}
	}
}

// lastOKResolution skips rewriting lastOK (and the latency /health shows)
// on every success of a busy deployment: serving needs seconds, not
// nanoseconds, and each write is a cache line other cores must reload.
const lastOKResolution = int64(50 * time.Millisecond)

func (m *Monitor) success(s *healthState, a Attempt, n int64) {
	if ok := s.lastOK.Load(); n-ok > lastOKResolution || s.lastFail.Load() >= ok {
		s.lastOK.Store(n)
		if a.Latency > 0 {
			s.latency.Store(int64(a.Latency))
		}
	}
	// A success that began after the cooldown ended is the probe: the
	// deployment is back. One that began before is a straggler, which
	// proves nothing about the deployment now.
	if u := s.until.Load(); u != 0 && n >= u && n-int64(a.Latency) >= u {
		m.recover(s, u)
	}
}

func (m *Monitor) recover(s *healthState, u int64) {
	g := s.g
	g.mu.Lock()
	if s.until.Load() != u {
		g.mu.Unlock()
		return
	}
	s.until.Store(0)
	s.probeTok.Store(0)
	s.strikes = 0
	ev := Event{Kind: EventRecovered, Deployment: s.id, Epoch: s.epoch}
	g.mu.Unlock()
	m.log.Info("deployment passed its probe after a cooldown and is back in rotation", "model", g.name, "deployment", s.id)
	m.publish(ev)
}

func (m *Monitor) failure(s *healthState, a Attempt, n int64) {
	cls := classifyFailure(a.Err)
	if cls == classNone {
		return
	}
	s.lastFail.Store(n)
	g := s.g
	g.mu.Lock()
	s.lastErr, s.lastErrAt = healthErrorText(s.d, a.Err), n
	allowed := s.rules.allowed[cls]
	if allowed < 0 || s.rules.never {
		g.mu.Unlock()
		return
	}
	u := s.until.Load()
	var ev Event
	switch {
	case u != 0 && n-int64(a.Latency) >= u:
		// The probe failed: out again, for longer.
		ev = m.cool(s, cls, a.Err.RetryAfter, s.strikes+1, n)
	case u != 0:
		// Cooling down already, or half-open: an attempt sent before the
		// cooldown ended says nothing new.
		g.mu.Unlock()
		return
	default:
		if n-s.windowStart >= int64(failWindow) {
			s.windowStart, s.fails = n, [numFailClasses]int32{}
		}
		s.fails[cls]++
		if s.fails[cls] <= allowed {
			g.mu.Unlock()
			return
		}
		if !m.capAllows(s, n) {
			g.mu.Unlock()
			s.capped.Add(1)
			m.log.Debug("not cooling a failing deployment down: the rest of its group would take all its traffic",
				"model", g.name, "deployment", s.id, "reason", cls.String())
			return
		}
		ev = m.cool(s, cls, a.Err.RetryAfter, 0, n)
	}
	g.mu.Unlock()
	m.log.Info("deployment cooled down", "model", g.name, "deployment", s.id, "reason", cls.String(),
		"for", ev.Duration.String(), "failed_probes", ev.Strikes)
	m.publish(ev)
}

// cool starts a cooldown; the caller holds s.g.mu.
func (m *Monitor) cool(s *healthState, cls failClass, retryAfter time.Duration, strikes int, n int64) Event {
	d := cooldownFor(s.rules.base, strikes, retryAfter, m.maxCool)
	s.epoch = newCooldownEpoch()
	s.strikes = strikes
	s.reason = cls
	s.windowStart, s.fails = 0, [numFailClasses]int32{}
	s.probeTok.Store(0)
	s.until.Store(n + int64(d))
	s.cooldowns[cls].Add(1)
	return Event{Kind: EventCooled, Deployment: s.id, Epoch: s.epoch, Duration: d, Strikes: strikes, Reason: cls.String()}
}

// capAllows says whether s may be cooled down without taking more than the
// configured share of its group out while the rest are serving. Unhealthy
// and half-open deployments count as out. When no other deployment in
// rotation has served recently (its last outcome a success within
// servingWindow), the group is failing as a whole and everything may go:
// Pick then answers with a fast 503 and the earliest recovery, instead of
// sending attempts known to fail. The caller holds s.g.mu.
func (m *Monitor) capAllows(s *healthState, n int64) bool {
	members := s.g.members
	if len(members) <= 1 {
		return true
	}
	out := 0
	for _, o := range members {
		if o != s && o.out() {
			out++
		}
	}
	if float64(out+1) <= math.Floor(m.share*float64(len(members))+1e-9) {
		return true
	}
	for _, o := range members {
		if o != s && !o.out() && o.serving(n) {
			return false
		}
	}
	return true
}

func (s *healthState) out() bool { return s.unhealthy.Load() || s.until.Load() != 0 }

func (s *healthState) serving(n int64) bool {
	ok := s.lastOK.Load()
	return ok != 0 && n-ok < int64(servingWindow) && ok >= s.lastFail.Load()
}

func (m *Monitor) publish(ev Event) {
	if ev.Deployment == "" {
		return
	}
	if b := m.peers.Load(); b != nil {
		b.p.Publish(ev)
	}
}

// Apply takes in a decision another replica made (or this one, echoed).
// A cooldown replaces the local one when it ends later; a recovery ends the
// cooldown it was the probe of, so that every replica need not probe. A
// wildcard-made deployment this replica has not served yet is skipped.
func (m *Monitor) Apply(ev Event, now time.Time) {
	s := m.byID[ev.Deployment]
	if s == nil && m.hasDynamic.Load() {
		if v, ok := m.dynamic.Load(ev.Deployment); ok {
			s = v.(*healthState)
		}
	}
	if s == nil || ev.Epoch == 0 {
		return
	}
	n := now.UnixNano()
	g := s.g
	g.mu.Lock()
	defer g.mu.Unlock()
	switch ev.Kind {
	case EventCooled:
		if ev.Epoch == s.epoch || ev.Duration <= 0 || s.rules.never {
			return
		}
		until := n + int64(ev.Duration)
		if u := s.until.Load(); u != 0 && u >= until {
			return
		}
		s.epoch, s.strikes = ev.Epoch, ev.Strikes
		s.reason = failClassByName(ev.Reason)
		s.windowStart, s.fails = 0, [numFailClasses]int32{}
		s.probeTok.Store(0)
		s.until.Store(until)
		m.log.Debug("deployment cooled down by another replica", "model", g.name, "deployment", s.id, "reason", ev.Reason, "for", ev.Duration.String())
	case EventRecovered:
		if ev.Epoch != s.epoch || s.until.Load() == 0 {
			return
		}
		s.until.Store(0)
		s.probeTok.Store(0)
		s.strikes = 0
	}
}

func failClassByName(name string) failClass {
	for c := classRateLimit; c < numFailClasses; c++ {
		if failClassNames[c] == name {
			return c
		}
	}
	return classServer
}

// healthErrorText is an error as /health may show it: the public message,
// with the deployment's key and anything key-shaped removed. The cause,
// which can hold URLs with credentials, is never kept.
func healthErrorText(d *provider.Deployment, e *provider.Error) string {
	msg := e.Message
	if msg == "" {
		msg = e.Type
	}
	const maxLen = 500
	if len(msg) > maxLen {
		msg = msg[:maxLen]
	}
	return provider.Redact(msg, d.APIKey)
}

// DeploymentState is a deployment's place in rotation, as GET /health
// reports it.
type DeploymentState string

// The DeploymentStates.
const (
	StateHealthy   DeploymentState = "healthy"   // in rotation
	StateCooled    DeploymentState = "cooled"    // out until CooldownUntil, then one probe
	StateUnhealthy DeploymentState = "unhealthy" // failed its last health check
)

// DeploymentStatus is one deployment's health for GET /health and metrics.
// It holds no credential.
type DeploymentStatus struct {
	ID        string
	ModelName string // the group
	Model     string // provider/model, as litellm_params.model
	APIBase   string // without userinfo or query, which may hold credentials
	State     DeploymentState
	// HalfOpen: the cooldown is over and one probe is let through.
	HalfOpen       bool
	CooldownUntil  time.Time
	CooldownReason string
	FailedProbes   int
	LastError      string
	LastErrorAt    time.Time
	LastLatency    time.Duration
	Check          *CheckStatus // nil: never checked
	NotChecked     string       // why health checks skip it

	Cooldowns          map[string]uint64 // decided by this replica, by reason
	CooldownsPrevented uint64            // by the share cap
	ChecksOK           uint64
	ChecksFailed       uint64
}

// CheckStatus is a deployment's last health check.
type CheckStatus struct {
	At      time.Time
	Healthy bool
	Error   string
	Latency time.Duration
}

// Statuses reports every configured deployment in configuration order,
// then the wildcard-made ones that are out of rotation.
func (m *Monitor) Statuses(now time.Time) []DeploymentStatus {
	n := now.UnixNano()
	out := make([]DeploymentStatus, 0, len(m.states))
	for _, s := range m.states {
		out = append(out, m.status(s, n))
	}
	if m.hasDynamic.Load() {
		m.dynamic.Range(func(_, v any) bool {
			if s := v.(*healthState); s.out() {
				out = append(out, m.status(s, n))
			}
			return true
		})
	}
	return out
}

func (m *Monitor) status(s *healthState, n int64) DeploymentStatus {
	d := s.d
	st := DeploymentStatus{ID: s.id, ModelName: d.ModelName, Model: d.Provider + "/" + d.Model, APIBase: publicAPIBase(d.APIBase),
		State: StateHealthy, NotChecked: s.probe.skip}
	if lat := s.latency.Load(); lat > 0 {
		st.LastLatency = time.Duration(lat)
	}
	s.g.mu.Lock()
	if u := s.until.Load(); u != 0 {
		st.State, st.CooldownUntil, st.HalfOpen = StateCooled, time.Unix(0, u), n >= u
		st.CooldownReason, st.FailedProbes = s.reason.String(), s.strikes
	}
	if s.lastErrAt != 0 {
		st.LastError, st.LastErrorAt = s.lastErr, time.Unix(0, s.lastErrAt)
	}
	if !s.check.at.IsZero() {
		c := s.check
		st.Check = &CheckStatus{At: c.at, Healthy: c.healthy, Error: c.err, Latency: c.latency}
		if !c.healthy && st.State == StateHealthy {
			st.State = StateUnhealthy
		}
	}
	s.g.mu.Unlock()
	if s.unhealthy.Load() && st.State == StateHealthy {
		st.State = StateUnhealthy
	}
	st.Cooldowns = map[string]uint64{}
	for c := classRateLimit; c < numFailClasses; c++ {
		if v := s.cooldowns[c].Load(); v > 0 {
			st.Cooldowns[c.String()] = v
		}
	}
	st.CooldownsPrevented = s.capped.Load()
	st.ChecksOK, st.ChecksFailed = s.checksOK.Load(), s.checksBad.Load()
	return st
}

// publicAPIBase drops the parts of an api_base that may carry credentials.
func publicAPIBase(base string) string {
	if base == "" {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return u.String()
}
