package telemetry

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/proxy"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestObserve(t *testing.T) {
	m := NewMetrics([]string{"gpt"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	dep := &provider.Deployment{Provider: "openai"}
	for _, o := range []proxy.Outcome{
		{Op: provider.OpChat, Model: "gpt", Deployment: dep, Status: 200, Result: "ok", Streamed: true, FirstByte: 30 * time.Millisecond, Duration: time.Second, Usage: openai.Usage{PromptTokens: 10, CompletionTokens: 5}},
		{Op: provider.OpChat, Model: "gpt", Deployment: dep, Status: 200, Result: "ok", Duration: time.Second, Usage: openai.Usage{PromptTokens: 1, CompletionTokens: 1}},
		{Op: provider.OpChat, Model: "gpt", Deployment: dep, Status: 429, Result: "error"},
		{Op: provider.OpChat, Model: "", Status: 404, Result: "error"},
	} {
		m.Started()
		m.Observe(&o)
	}
	out := scrape(t, m)
	for _, want := range []string{
		`switchboard_requests_total{model="gpt",op="chat",status="200"} 2`,
		`switchboard_requests_total{model="gpt",op="chat",status="429"} 1`,
		`switchboard_requests_total{model="other",op="chat",status="404"} 1`,
		`switchboard_tokens_total{direction="prompt",model="gpt"} 11`,
		`switchboard_upstream_attempts_total{outcome="rate_limited",provider="openai"} 1`,
		`switchboard_time_to_first_token_seconds_count{model="gpt"} 1`,
		`switchboard_requests_in_flight 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(out, `op="embedding"`) {
		t.Errorf("series exported for operations that never happened")
	}
}

func TestLoggerRedacts(t *testing.T) {
	var b strings.Builder
	log := NewLogger(&b, slog.LevelDebug, false)
	log.Info("x", "api_key", "sk-live-123", "authorization", "Bearer abc", "detail", "upstream said sk-proj-abcdef0123", "request_id", "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b", "prompt_tokens", 12)
	out := b.String()
	for _, leak := range []string{"sk-live-123", "Bearer abc", "sk-proj-abcdef0123"} {
		if strings.Contains(out, leak) {
			t.Errorf("log leaked %q: %s", leak, out)
		}
	}
	for _, keep := range []string{"3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b", "prompt_tokens=12"} {
		if !strings.Contains(out, keep) {
			t.Errorf("log lost %q: %s", keep, out)
		}
	}
}
