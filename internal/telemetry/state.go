package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-gw/switchboard/internal/spend"
)

// WatchSpend exports the spend writer's state, read at scrape time (nothing
// on the request path). A growing queue or spill count means the database is
// not keeping up or is down; rows are waiting, not lost.
func (m *Metrics) WatchSpend(stats func() spend.Stats) {
	gauge := func(name, help string, v func(spend.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v(stats()) })
	}
	counter := func(name, help string, v func(spend.Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(stats()) })
	}
	m.reg.MustRegister(
		gauge("switchboard_spend_queue_rows", "Spend rows recorded and not yet in the database or a spill file.", func(s spend.Stats) float64 { return float64(s.Queued) }),
		counter("switchboard_spend_rows_written_total", "Spend rows inserted into the database.", func(s spend.Stats) float64 { return float64(s.Written) }),
		counter("switchboard_spend_rows_spilled_total", "Spend rows written to the spill directory while the database could not take them.", func(s spend.Stats) float64 { return float64(s.Spilled) }),
		counter("switchboard_spend_rows_replayed_total", "Spilled spend rows later inserted into the database.", func(s spend.Stats) float64 { return float64(s.Replayed) }),
		counter("switchboard_spend_rows_rejected_total", "Spend rows the database refused as invalid (set aside in the spill directory).", func(s spend.Stats) float64 { return float64(s.Rejected) }),
		counter("switchboard_spend_batch_failures_total", "Spend batches the database failed to take (retried).", func(s spend.Stats) float64 { return float64(s.FailedBatches) }),
	)
}

// WatchCounters exports whether the shared counters (Redis) are
// unreachable, which changes how limits and budgets are enforced.
func (m *Metrics) WatchCounters(degraded func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_counters_degraded",
		Help: "1 while the shared counters (Redis) are unreachable: rate limits are enforced per replica (each its share) and requests with a budget are refused."}, func() float64 {
		if degraded() {
			return 1
		}
		return 0
	}))
}
