package telemetry

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
)

// attemptMetrics are the per-deployment series of the attempt loop. Label
// values are configured names (model group, deployment id), so the series
// are bounded by the configuration.
type attemptMetrics struct {
	attempts  *prometheus.CounterVec
	inflight  *prometheus.GaugeVec
	latency   *prometheus.HistogramVec
	ttft      *prometheus.HistogramVec
	retries   *prometheus.CounterVec
	fallbacks *prometheus.CounterVec
	exhausted *prometheus.CounterVec

	// deployments holds each deployment's resolved children, keyed by the
	// *provider.Deployment, so an attempt is a few atomic adds.
	deployments sync.Map
	groups      sync.Map // group name → *groupAttempts
}

// Outcomes of an attempt, as the outcome label.
const (
	outcomeOK = iota
	outcomeClientError
	outcomeRateLimited
	outcomeServerError
	outcomeTimeout
	outcomeUnreachable
	outcomeTruncated
	outcomeCancelled
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "client_error", "rate_limited", "server_error", "timeout", "unreachable", "truncated", "cancelled"}

type deploymentMetrics struct {
	group, id string
	attempts  [numOutcomes]lazy[prometheus.Counter]
	inflight  prometheus.Gauge
	latency   lazy[prometheus.Observer]
	ttft      lazy[prometheus.Observer]
}

type groupAttempts struct {
	retries   prometheus.Counter
	exhausted lazy[prometheus.Counter]
}

func newAttemptMetrics(reg *prometheus.Registry) *attemptMetrics {
	m := &attemptMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_deployment_attempts_total",
			Help: "Upstream attempts by model group, deployment and outcome (ok, client_error, rate_limited, server_error, timeout, unreachable, truncated, cancelled); retries and fallbacks are attempts too."},
			[]string{"model", "deployment", "outcome"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchboard_deployment_in_flight",
			Help: "Upstream attempts in progress per deployment (a stream counts until it ends)."}, []string{"model", "deployment"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_deployment_latency_seconds",
			Help: "Non-streamed successful attempts: time from sending to the upstream's response headers.", Buckets: latencyBuckets}, []string{"model", "deployment"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_deployment_time_to_first_token_seconds",
			Help: "Streamed successful attempts: time from sending to the first upstream bytes.", Buckets: latencyBuckets}, []string{"model", "deployment"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_retries_total",
			Help: "Retries within a model group (attempts after the group's first)."}, []string{"model"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_fallbacks_total",
			Help: "Requests moved from one model group to a fallback group."}, []string{"from", "to"}),
		exhausted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_retry_budget_exhausted_total",
			Help: "Retries and fallbacks not made because the retry budget (20% of requests) was spent, by the requested model group."}, []string{"model"}),
	}
	reg.MustRegister(m.attempts, m.inflight, m.latency, m.ttft, m.retries, m.fallbacks, m.exhausted)
	return m
}

func (m *attemptMetrics) deployment(group string, d *provider.Deployment) *deploymentMetrics {
	if v, ok := m.deployments.Load(d); ok {
		return v.(*deploymentMetrics)
	}
	dm := &deploymentMetrics{group: group, id: d.ID, inflight: m.inflight.WithLabelValues(group, d.ID)}
	v, _ := m.deployments.LoadOrStore(d, dm)
	return v.(*deploymentMetrics)
}

func (m *attemptMetrics) group(name string) *groupAttempts {
	if v, ok := m.groups.Load(name); ok {
		return v.(*groupAttempts)
	}
	v, _ := m.groups.LoadOrStore(name, &groupAttempts{retries: m.retries.WithLabelValues(name)})
	return v.(*groupAttempts)
}

// AttemptStarted implements proxy.AttemptObserver.
func (m *Metrics) AttemptStarted(group string, d *provider.Deployment) {
	m.att.deployment(group, d).inflight.Inc()
}

// AttemptEnded implements proxy.AttemptObserver.
func (m *Metrics) AttemptEnded(group string, d *provider.Deployment, a router.Attempt) {
	dm := m.att.deployment(group, d)
	dm.inflight.Dec()
	o := outcomeOf(a.Err)
	dm.attempts[o].get(func() prometheus.Counter { return m.att.attempts.WithLabelValues(dm.group, dm.id, outcomeNames[o]) }).Inc()
	if a.Err != nil || a.Latency <= 0 {
		return
	}
	if a.Streamed {
		dm.ttft.get(func() prometheus.Observer { return m.att.ttft.WithLabelValues(dm.group, dm.id) }).Observe(a.Latency.Seconds())
	} else {
		dm.latency.get(func() prometheus.Observer { return m.att.latency.WithLabelValues(dm.group, dm.id) }).Observe(a.Latency.Seconds())
	}
}

// Retried implements proxy.AttemptObserver.
func (m *Metrics) Retried(group string) { m.att.group(group).retries.Inc() }

// FellBack implements proxy.AttemptObserver. Fallbacks are rare, so the
// label lookup is not worth caching.
func (m *Metrics) FellBack(from, to string) { m.att.fallbacks.WithLabelValues(from, to).Inc() }

// RetryBudgetExhausted implements proxy.AttemptObserver.
func (m *Metrics) RetryBudgetExhausted(group string) {
	g := m.att.group(group)
	g.exhausted.get(func() prometheus.Counter { return m.att.exhausted.WithLabelValues(group) }).Inc()
}

func outcomeOf(e *provider.Error) int {
	switch {
	case e == nil:
		return outcomeOK
	case e.Status == provider.StatusClientClosed:
		return outcomeCancelled
	case e.Code == "upstream_stream_truncated":
		return outcomeTruncated
	case e.Status == 429:
		return outcomeRateLimited
	case e.Type == "timeout" || e.Status == 504 || e.Status == 408:
		return outcomeTimeout
	case e.Code == "upstream_unreachable":
		return outcomeUnreachable
	case e.Status >= 500:
		return outcomeServerError
	}
	return outcomeClientError
}
