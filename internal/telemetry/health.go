package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-gw/switchboard/internal/router"
)

// Deployments is what the health metrics are read from (router.Monitor).
type Deployments interface {
	Statuses(now time.Time) []router.DeploymentStatus
}

// WatchDeployments exports each deployment's cooldown and health-check
// state, read at scrape time: nothing is added to the request path. Labels
// are the model group and the deployment ID, both from the configuration
// (wildcard-made deployments appear only while out of rotation, and their
// number is bounded by the router).
func (m *Metrics) WatchDeployments(d Deployments) {
	m.reg.MustRegister(&deploymentCollector{d: d})
}

var (
	cooldownDesc = prometheus.NewDesc("switchboard_deployment_cooldown",
		"1 while the deployment is cooled down (out of rotation after failures, or waiting for its probe to pass), else 0.",
		[]string{"model", "deployment"}, nil)
	unhealthyDesc = prometheus.NewDesc("switchboard_deployment_unhealthy",
		"1 while the deployment's last health check failed, else 0.",
		[]string{"model", "deployment"}, nil)
	cooldownsDesc = prometheus.NewDesc("switchboard_deployment_cooldowns_total",
		"Cooldowns this replica decided, by reason (rate_limit, timeout, server_error, not_found, auth, content_policy).",
		[]string{"model", "deployment", "reason"}, nil)
	preventedDesc = prometheus.NewDesc("switchboard_deployment_cooldowns_prevented_total",
		"Cooldowns not started because the rest of the group would have taken all of its traffic (router_settings.max_cooldown_share).",
		[]string{"model", "deployment"}, nil)
	checksDesc = prometheus.NewDesc("switchboard_health_checks_total",
		"Health checks by result (healthy, unhealthy).",
		[]string{"model", "deployment", "result"}, nil)
)

type deploymentCollector struct{ d Deployments }

func (c *deploymentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cooldownDesc, unhealthyDesc, cooldownsDesc, preventedDesc, checksDesc} {
		ch <- d
	}
}

func (c *deploymentCollector) Collect(ch chan<- prometheus.Metric) {
	flag := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for _, s := range c.d.Statuses(time.Now()) {
		ch <- prometheus.MustNewConstMetric(cooldownDesc, prometheus.GaugeValue, flag(s.State == router.StateCooled), s.ModelName, s.ID)
		ch <- prometheus.MustNewConstMetric(unhealthyDesc, prometheus.GaugeValue, flag(s.Check != nil && !s.Check.Healthy), s.ModelName, s.ID)
		for reason, n := range s.Cooldowns {
			ch <- prometheus.MustNewConstMetric(cooldownsDesc, prometheus.CounterValue, float64(n), s.ModelName, s.ID, reason)
		}
		if s.CooldownsPrevented > 0 {
			ch <- prometheus.MustNewConstMetric(preventedDesc, prometheus.CounterValue, float64(s.CooldownsPrevented), s.ModelName, s.ID)
		}
		if s.ChecksOK+s.ChecksFailed > 0 {
			ch <- prometheus.MustNewConstMetric(checksDesc, prometheus.CounterValue, float64(s.ChecksOK), s.ModelName, s.ID, "healthy")
			ch <- prometheus.MustNewConstMetric(checksDesc, prometheus.CounterValue, float64(s.ChecksFailed), s.ModelName, s.ID, "unhealthy")
		}
	}
}
