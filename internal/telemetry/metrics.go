// Package telemetry holds the gateway's Prometheus metrics and its logger.
// Metric labels are bounded: operation, configured model group, provider,
// status code and outcome — never keys, users or free text.
package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-gw/switchboard/internal/proxy"
)

// Metrics implements proxy.Observer on a private registry.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	ttft     *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
	attempts *prometheus.CounterVec
	inflight prometheus.Gauge
	att      *attemptMetrics
	log      *slog.Logger

	// groups holds pre-resolved children per model group so that observing a
	// request is a few atomic adds, not label hashing. Immutable after New.
	groups map[string]*groupMetrics
	other  *groupMetrics
}

// groupMetrics resolves a group's children on first use (so /metrics lists
// only series that happened) and keeps them, so later requests skip the
// label lookup.
type groupMetrics struct {
	name             string
	ok               [9]lazy[prometheus.Counter]
	duration         [9]lazy[prometheus.Observer]
	ttft             lazy[prometheus.Observer]
	promptTokens     lazy[prometheus.Counter]
	completionTokens lazy[prometheus.Counter]
}

// lazy is a metric child created once, on first use.
type lazy[T any] struct{ p atomic.Pointer[T] }

func (l *lazy[T]) get(make func() T) T {
	if v := l.p.Load(); v != nil {
		return *v
	}
	v := make()
	l.p.Store(&v) // a race creates the same child twice: WithLabelValues is idempotent
	return v
}

// otherModel labels requests for models no group serves, keeping the label
// set bounded whatever clients send.
const otherModel = "other"

var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// NewMetrics registers the gateway's metrics for the given model groups.
func NewMetrics(groups []string, log *slog.Logger) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), log: log, groups: map[string]*groupMetrics{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_requests_total",
		Help: "Inference requests by operation, model group and HTTP status (499: client went away)."}, []string{"op", "model", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_request_duration_seconds",
		Help: "Time from receiving a request to its last byte.", Buckets: latencyBuckets}, []string{"op", "model"})
	m.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_time_to_first_token_seconds",
		Help: "Streams: time from receiving the request to the first byte sent to the client.", Buckets: latencyBuckets}, []string{"model"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_tokens_total",
		Help: "Tokens by model group and direction (prompt, completion)."}, []string{"model", "direction"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_upstream_attempts_total",
		Help: "Upstream attempts by provider and outcome (ok, client_error, rate_limited, server_error, timeout, unreachable, truncated, cancelled)."}, []string{"provider", "outcome"})
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_requests_in_flight", Help: "Inference requests being served."})
	m.reg.MustRegister(m.requests, m.duration, m.ttft, m.tokens, m.attempts, m.inflight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.att = newAttemptMetrics(m.reg)
	for _, g := range groups {
		m.groups[g] = m.newGroup(g)
	}
	m.other = m.newGroup(otherModel)
	return m
}

func (m *Metrics) newGroup(name string) *groupMetrics { return &groupMetrics{name: name} }

// Handler serves the Prometheus exposition.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is for the collectors later features add.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Started counts a request in flight; Observe ends it.
func (m *Metrics) Started() { m.inflight.Inc() }

// Observe implements proxy.Observer.
func (m *Metrics) Observe(o *proxy.Outcome) {
	m.inflight.Dec()
	g, name := m.groups[o.Model], o.Model
	if g == nil {
		g, name = m.other, otherModel
	}
	op := o.Op.String()
	if o.Status == 200 && int(o.Op) < len(g.ok) {
		g.ok[o.Op].get(func() prometheus.Counter { return m.requests.WithLabelValues(op, name, "200") }).Inc()
	} else {
		m.requests.WithLabelValues(op, name, strconv.Itoa(o.Status)).Inc()
	}
	if int(o.Op) < len(g.duration) {
		g.duration[o.Op].get(func() prometheus.Observer { return m.duration.WithLabelValues(op, name) }).Observe(o.Duration.Seconds())
	}
	if o.Streamed && o.FirstByte > 0 {
		g.ttft.get(func() prometheus.Observer { return m.ttft.WithLabelValues(name) }).Observe(o.FirstByte.Seconds())
	}
	if o.Usage.PromptTokens > 0 {
		g.promptTokens.get(func() prometheus.Counter { return m.tokens.WithLabelValues(name, "prompt") }).Add(float64(o.Usage.PromptTokens))
	}
	if o.Usage.CompletionTokens > 0 {
		g.completionTokens.get(func() prometheus.Counter { return m.tokens.WithLabelValues(name, "completion") }).Add(float64(o.Usage.CompletionTokens))
	}
	if o.Deployment != nil {
		m.attempts.WithLabelValues(o.Deployment.Provider, attemptOutcome(o)).Inc()
	}
	if m.log.Enabled(context.Background(), slog.LevelDebug) {
		m.log.Debug("request", "request_id", o.RequestID, "op", o.Op.String(), "model", o.Model,
			"status", o.Status, "result", o.Result, "duration_ms", o.Duration.Milliseconds(),
			"prompt_tokens", o.Usage.PromptTokens, "completion_tokens", o.Usage.CompletionTokens, "error", o.Err)
	}
}

func attemptOutcome(o *proxy.Outcome) string {
	switch {
	case o.Result == "ok":
		return "ok"
	case o.Result == "cancelled":
		return "cancelled"
	case o.Result == "truncated":
		return "truncated"
	case o.Status == 429:
		return "rate_limited"
	case o.Status == 504 || o.Status == 408:
		return "timeout"
	case o.Status == 502:
		return "unreachable"
	case o.Status >= 500:
		return "server_error"
	}
	return "client_error"
}
