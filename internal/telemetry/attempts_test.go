package telemetry

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
)

func TestAttemptMetrics(t *testing.T) {
	m := NewMetrics([]string{"gpt"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a, b := &provider.Deployment{ID: "dep-a"}, &provider.Deployment{ID: "dep-b"}
	m.AttemptStarted("gpt", a)
	m.AttemptEnded("gpt", a, router.Attempt{Err: &provider.Error{Status: 429}, Latency: time.Millisecond})
	m.Retried("gpt")
	m.AttemptStarted("gpt", b)
	m.AttemptStarted("gpt", b)
	m.AttemptEnded("gpt", b, router.Attempt{Latency: 20 * time.Millisecond})
	m.AttemptEnded("gpt", b, router.Attempt{Latency: 30 * time.Millisecond, Streamed: true})
	m.AttemptStarted("gpt", a)
	m.AttemptEnded("gpt", a, router.Attempt{Err: &provider.Error{Status: 502, Code: "upstream_stream_truncated"}, Streamed: true})
	m.FellBack("gpt", "backup")
	m.RetryBudgetExhausted("gpt")
	m.AttemptStarted("gpt", b) // still in flight
	out := scrape(t, m)
	for _, want := range []string{
		`switchboard_deployment_attempts_total{deployment="dep-a",model="gpt",outcome="rate_limited"} 1`,
		`switchboard_deployment_attempts_total{deployment="dep-a",model="gpt",outcome="truncated"} 1`,
		`switchboard_deployment_attempts_total{deployment="dep-b",model="gpt",outcome="ok"} 2`,
		`switchboard_deployment_in_flight{deployment="dep-a",model="gpt"} 0`,
		`switchboard_deployment_in_flight{deployment="dep-b",model="gpt"} 1`,
		`switchboard_deployment_latency_seconds_count{deployment="dep-b",model="gpt"} 1`,
		`switchboard_deployment_time_to_first_token_seconds_count{deployment="dep-b",model="gpt"} 1`,
		`switchboard_retries_total{model="gpt"} 1`,
		`switchboard_fallbacks_total{from="gpt",to="backup"} 1`,
		`switchboard_retry_budget_exhausted_total{model="gpt"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(out, `switchboard_deployment_latency_seconds_count{deployment="dep-a"`) {
		t.Error("failed attempts must not count as latency samples")
	}
}

func BenchmarkAttemptMetrics(b *testing.B) {
	m := NewMetrics([]string{"gpt"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	d := &provider.Deployment{ID: "dep"}
	a := router.Attempt{Latency: time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		m.AttemptStarted("gpt", d)
		m.AttemptEnded("gpt", d, a)
	}
}
