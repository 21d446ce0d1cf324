package app

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-gw/switchboard/internal/broadcast"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
)

// healthConfig maps the configuration's cooldown and health-check keys to
// the router's Monitor.
func healthConfig(cfg *config.Config, prepare func(*provider.Deployment, string) (*provider.Deployment, error), log *slog.Logger) router.HealthConfig {
	rs, gs := &cfg.RouterSettings, &cfg.GeneralSettings
	hc := router.HealthConfig{
		CooldownTime:       stdDuration(rs.CooldownTime),
		DisableCooldowns:   rs.DisableCooldowns != nil && *rs.DisableCooldowns,
		AllowedFails:       rs.AllowedFails,
		AllowedFailsPolicy: failPolicy(rs.AllowedFailsPolicy),
		MaxCooldownShare:   rs.MaxCooldownShare,
		Deployments:        map[string]router.DeploymentHealth{},
		Checks: router.CheckConfig{
			Background:  gs.BackgroundHealthChecks != nil && *gs.BackgroundHealthChecks,
			HideDetails: gs.HealthCheckDetails != nil && !*gs.HealthCheckDetails,
		},
		Prepare: prepare,
		Log:     log,
	}
	if hc.AllowedFails == nil {
		hc.AllowedFails = cfg.LiteLLMSettings.AllowedFails // the legacy place; router_settings wins
	}
	if gs.HealthCheckInterval != nil {
		hc.Checks.Interval = gs.HealthCheckInterval.Std()
	}
	if gs.HealthCheckConcurrency != nil {
		hc.Checks.Concurrency = *gs.HealthCheckConcurrency
	}
	for _, flag := range []*bool{rs.EnableHealthCheckRouting, gs.EnableHealthCheckRouting} {
		if flag != nil && !*flag {
			hc.Checks.ReportOnly = true
		}
	}
	for i := range cfg.ModelList {
		m := &cfg.ModelList[i]
		dh := router.DeploymentHealth{
			CooldownTime:       stdDuration(m.Params.CooldownTime),
			AllowedFails:       m.Info.AllowedFails,
			AllowedFailsPolicy: failPolicy(m.Info.AllowedFailsPolicy),
			Mode:               m.Info.Mode,
			DisableCheck:       m.Info.DisableBackgroundHealthCheck != nil && *m.Info.DisableBackgroundHealthCheck,
		}
		if dh.CooldownTime == nil {
			dh.CooldownTime = stdDuration(m.Info.CooldownTime)
		}
		if t := m.Info.HealthCheckTimeout; t != nil {
			dh.CheckTimeout = t.Std()
		}
		if n := m.Info.HealthCheckMaxTokens; n != nil {
			dh.CheckMaxTokens = *n
		}
		// model_info keys Switchboard does not type are free-form metadata.
		if s, ok := m.Info.Extra["health_check_model"].(string); ok {
			dh.CheckModel = s
		}
		hc.Deployments[m.ID] = dh
	}
	return hc
}

func stdDuration(d *config.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := d.Std()
	return &v
}

func failPolicy(p *config.AllowedFailsPolicy) router.FailPolicy {
	if p == nil {
		return router.FailPolicy{}
	}
	return router.FailPolicy{
		BadRequest:             p.BadRequestErrorAllowedFails,
		Authentication:         p.AuthenticationErrorAllowedFails,
		Timeout:                p.TimeoutErrorAllowedFails,
		RateLimit:              p.RateLimitErrorAllowedFails,
		ContentPolicyViolation: p.ContentPolicyViolationErrorAllowedFails,
		InternalServer:         p.InternalServerErrorAllowedFails,
	}
}

// Cooldowns are shared between replicas through Redis in two ways: each
// decision is published on cooldownChannel, so that every replica applies
// it within one message, and the current cooldowns are kept under
// cooldownKeyPrefix+id with the cooldown as TTL, so that a replica that
// starts, or whose subscription was broken, loads what it missed.
const (
	cooldownChannel   = "sb:cooldown"
	cooldownKeyPrefix = "sb:cooldown:"
	cooldownKind      = "cooldown"
	// cooldownQueue bounds decisions waiting to be shared. Full means Redis
	// is slower than deployments fail; a decision dropped here still holds
	// on this replica, and its key is not written.
	cooldownQueue = 256
	// cooldownIOTimeout bounds each Redis round trip of the sharer.
	cooldownIOTimeout = 2 * time.Second
)

// cooldownSharer implements router.Peers over Redis.
type cooldownSharer struct {
	c       redis.UniversalClient
	m       *router.Monitor
	log     *slog.Logger
	bus     broadcast.Bus
	queue   chan router.Event
	reload  chan struct{}
	dropped atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// shareCooldowns connects m to the other replicas through c: it loads the
// cooldowns in force, subscribes to new ones, and publishes m's own.
func shareCooldowns(c redis.UniversalClient, m *router.Monitor, log *slog.Logger) (*cooldownSharer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &cooldownSharer{c: c, m: m, log: log, queue: make(chan router.Event, cooldownQueue), reload: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
	bus, err := broadcast.NewRedis(c, cooldownChannel, cooldownHandler{s}, log)
	if err != nil {
		cancel()
		return nil, err
	}
	s.bus = bus
	s.reload <- struct{}{} // what was decided before this replica started
	go s.run()
	m.SetPeers(s)
	return s, nil
}

// Publish implements router.Peers; it never blocks the request that
// caused the decision.
func (s *cooldownSharer) Publish(e router.Event) {
	select {
	case s.queue <- e:
	default:
		if s.dropped.Add(1) == 1 {
			s.log.Warn("cooldown decisions are not reaching Redis fast enough; other replicas will not see some of them", "deployment", e.Deployment)
		}
	}
}

func (s *cooldownSharer) run() {
	defer close(s.done)
	for {
		select {
		case <-s.ctx.Done():
			return
		case e := <-s.queue:
			s.share(e)
		case <-s.reload:
			s.load()
		}
	}
}

// share stores a cooldown under its key and tells the other replicas.
func (s *cooldownSharer) share(e router.Event) {
	ctx, cancel := context.WithTimeout(s.ctx, cooldownIOTimeout)
	defer cancel()
	// A recovery needs no key change: a probe only follows the end of the
	// cooldown, when its key has expired.
	if e.Kind == router.EventCooled {
		if err := s.c.Set(ctx, cooldownKeyPrefix+e.Deployment, e.String(), e.Duration).Err(); err != nil && ctx.Err() == nil {
			s.log.Debug("could not store a cooldown in Redis", "deployment", e.Deployment, "error", err.Error())
		}
	}
	if err := s.bus.Publish(ctx, cooldownKind, e.String()); err != nil && s.ctx.Err() == nil {
		s.log.Debug("could not publish a cooldown", "deployment", e.Deployment, "error", err.Error())
	}
}

// load applies the cooldowns stored in Redis, each for what is left of it.
func (s *cooldownSharer) load() {
	ids := s.m.IDs()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, cooldownIOTimeout)
	defer cancel()
	gets := make([]*redis.StringCmd, len(ids))
	ttls := make([]*redis.DurationCmd, len(ids))
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			gets[i] = p.Get(ctx, cooldownKeyPrefix+id)
			ttls[i] = p.PTTL(ctx, cooldownKeyPrefix+id)
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		if s.ctx.Err() == nil {
			s.log.Warn("could not load the cooldowns other replicas decided; they apply here from their next decision", "error", err.Error())
		}
		return
	}
	now := time.Now()
	for i := range ids {
		v, err := gets[i].Result()
		left := ttls[i].Val()
		if err != nil || left <= 0 {
			continue
		}
		e, err := router.ParseEvent(v)
		if err != nil || e.Kind != router.EventCooled || e.Deployment != ids[i] {
			continue
		}
		e.Duration = left
		s.m.Apply(e, now)
	}
}

// Close stops sharing; safe to call twice. Call it before closing c.
func (s *cooldownSharer) Close() {
	s.once.Do(func() {
		s.m.SetPeers(nil)
		s.cancel()
		<-s.done
		_ = s.bus.Close()
	})
}

// cooldownHandler receives the bus's messages.
type cooldownHandler struct{ s *cooldownSharer }

func (h cooldownHandler) Message(kind, id string) {
	if kind != cooldownKind {
		return
	}
	if e, err := router.ParseEvent(id); err == nil {
		h.s.m.Apply(e, time.Now())
	}
}

// Reset: messages may have been lost while the subscription was down, so
// the stored cooldowns are loaded again (off the bus's goroutine).
func (h cooldownHandler) Reset() {
	select {
	case h.s.reload <- struct{}{}:
	default:
	}
}

// redisStatus is /health/readiness's view of Redis: a PING, briefly bounded
// so that a probe never hangs on it.
func (g *Gateway) redisStatus() (string, bool) {
	if g.redis == nil {
		return "", true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := g.redis.Ping(ctx).Err(); err != nil {
		return "unreachable", false
	}
	return "connected", true
}

// routed lists the deployments the router serves, for the Monitor.
func routed(ws []router.Weighted) []*provider.Deployment {
	out := make([]*provider.Deployment, len(ws))
	for i := range ws {
		out[i] = ws[i].Deployment
	}
	return out
}

// startHealth shares cooldowns through Redis when there is one and starts
// the background health checks; stop ends both and waits for them.
func (g *Gateway) startHealth() (stop func()) {
	var sharer *cooldownSharer
	if g.redis != nil {
		s, err := shareCooldowns(g.redis, g.monitor, g.log)
		if err != nil {
			g.log.Warn("cooldowns stay on this replica", "error", err.Error())
		} else {
			sharer = s
		}
	}
	stopChecks := g.monitor.StartChecks()
	if c := g.monitor.Checks(); c.Background {
		g.log.Info("background health checks are on", "interval", c.Interval.String(), "routing", !c.ReportOnly)
	}
	return func() {
		stopChecks()
		if sharer != nil {
			sharer.Close()
		}
	}
}
