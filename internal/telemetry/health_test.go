package telemetry

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
)

type down struct{}

func (down) Name() string              { return "down" }
func (down) Supports(provider.Op) bool { return true }
func (down) Send(context.Context, *provider.Call, *provider.Result) error {
	return &provider.Error{Status: 503, Retryable: true, Message: "down"}
}

func TestWatchDeployments(t *testing.T) {
	m := NewMetrics([]string{"g"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a := &provider.Deployment{ID: "a", ModelName: "g", Provider: "openai", Model: "x", Impl: down{}}
	b := &provider.Deployment{ID: "b", ModelName: "g", Provider: "openai", Model: "y", Impl: down{}}
	mon := router.NewMonitor([]*provider.Deployment{a, b}, router.HealthConfig{})
	m.WatchDeployments(mon)
	mon.Observe(nil, a, router.Attempt{Err: &provider.Error{Status: 429, Retryable: true}}, time.Now())
	mon.CheckNow(context.Background(), func(d *provider.Deployment) bool { return d == b })
	out := scrape(t, m)
	for _, want := range []string{
		`switchboard_deployment_cooldown{deployment="a",model="g"} 1`,
		`switchboard_deployment_cooldown{deployment="b",model="g"} 0`,
		`switchboard_deployment_cooldowns_total{deployment="a",model="g",reason="rate_limit"} 1`,
		`switchboard_deployment_unhealthy{deployment="b",model="g"} 1`,
		`switchboard_health_checks_total{deployment="b",model="g",result="unhealthy"} 1`,
		`switchboard_health_checks_total{deployment="b",model="g",result="healthy"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
}
