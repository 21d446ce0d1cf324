package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
	"github.com/switchboard-gw/switchboard/internal/store"
)

const (
	testMaster     = "sk-master-0123456789abcdef0123456789abcdef"
	testVirtualKey = "sk-virtual-0123456789abcdef0123456789abcd"
	upstreamKey    = "sk-upstream-SECRET-abcdefghijklmnopqrstuvwx"
)

// oneKey is a key store holding one virtual (non-admin) key.
type oneKey struct{}

func (oneKey) GetKey(_ context.Context, hash string) (*store.Key, error) {
	if hash == auth.HashKey(testVirtualKey) {
		return &store.Key{TokenHash: hash}, nil
	}
	return nil, store.ErrNotFound
}
func (oneKey) GetTeam(context.Context, string) (*store.Team, error) { return nil, store.ErrNotFound }
func (oneKey) GetUser(context.Context, string) (*store.User, error) { return nil, store.ErrNotFound }
func (oneKey) GetCustomer(context.Context, string) (*store.Customer, error) {
	return nil, store.ErrNotFound
}

// failing answers every call with an error that quotes the deployment's key.
type failing struct{}

func (failing) Name() string              { return "failing" }
func (failing) Supports(provider.Op) bool { return true }
func (failing) Send(_ context.Context, c *provider.Call, _ *provider.Result) error {
	return &provider.Error{Status: 503, Type: "service_unavailable", Message: "overloaded; key " + c.Deployment.APIKey.Reveal() + " is fine"}
}

type answering struct{}

func (answering) Name() string              { return "answering" }
func (answering) Supports(provider.Op) bool { return true }
func (answering) Send(context.Context, *provider.Call, *provider.Result) error {
	return nil
}

func healthServer(t *testing.T, h Health, redis func() (string, bool)) *Server {
	t.Helper()
	s := New(Config{Version: "test"}, Deps{Auth: auth.New(testMaster, oneKey{}), Log: slog.New(slog.DiscardHandler), Health: h, Redis: redis}, nil)
	t.Cleanup(func() { s.cancelBase() })
	return s
}

func get(s *Server, path, key string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI(path)
	if key != "" {
		ctx.Request.Header.Set("Authorization", "Bearer "+key)
	}
	s.handle(ctx)
	return ctx
}

func TestHealthEndpoint(t *testing.T) {
	bad := &provider.Deployment{ID: "bad", ModelName: "g", Provider: "openai", Model: "gpt-x",
		APIBase: "https://user:" + upstreamKey + "@bad.example.com/v1?key=" + upstreamKey, APIKey: upstreamKey, Impl: failing{}}
	good := &provider.Deployment{ID: "good", ModelName: "g", Provider: "openai", Model: "gpt-y", APIKey: upstreamKey, Impl: answering{}}
	other := &provider.Deployment{ID: "other", ModelName: "h", Provider: "openai", Model: "gpt-z", APIKey: upstreamKey, Impl: answering{}}
	m := router.NewMonitor([]*provider.Deployment{bad, good, other}, router.HealthConfig{})
	// A failure during traffic cools "bad" down as well.
	m.Observe(nil, bad, router.Attempt{Err: &provider.Error{Status: 500, Message: "boom with " + upstreamKey}}, time.Now())
	s := healthServer(t, m, nil)

	if ctx := get(s, "/health", ""); ctx.Response.StatusCode() != 401 {
		t.Fatalf("/health without a key: %d", ctx.Response.StatusCode())
	}
	if ctx := get(s, "/health", testVirtualKey); ctx.Response.StatusCode() != 403 {
		t.Fatalf("/health with a virtual key: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	ctx := get(s, "/health", testMaster)
	body := string(ctx.Response.Body())
	if ctx.Response.StatusCode() != 200 || string(ctx.Response.Header.ContentType()) != "application/json" {
		t.Fatalf("/health: %d %s", ctx.Response.StatusCode(), body)
	}
	if strings.Contains(body, upstreamKey) || strings.Contains(body, "SECRET") {
		t.Fatalf("/health shows a key: %s", body)
	}
	var resp struct {
		Healthy        []map[string]any `json:"healthy_endpoints"`
		Unhealthy      []map[string]any `json:"unhealthy_endpoints"`
		HealthyCount   int              `json:"healthy_count"`
		UnhealthyCount int              `json:"unhealthy_count"`
	}
	if err := json.Unmarshal(ctx.Response.Body(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.HealthyCount != 2 || resp.UnhealthyCount != 1 || len(resp.Unhealthy) != 1 {
		t.Fatalf("counts: %s", body)
	}
	u := resp.Unhealthy[0]
	if u["model"] != "openai/gpt-x" || u["model_id"] != "bad" || u["state"] != "cooled" || u["cooldown_until"] == nil ||
		u["api_base"] != "https://bad.example.com/v1" || !strings.Contains(u["error"].(string), "overloaded") {
		t.Fatalf("unhealthy endpoint: %v", u)
	}
	if c, _ := u["last_check"].(map[string]any); c == nil || c["healthy"] != false {
		t.Fatalf("the on-demand check is not reported: %v", u)
	}
	if resp.Healthy[0]["state"] != "healthy" || resp.Healthy[0]["last_check"] == nil {
		t.Fatalf("healthy endpoint: %v", resp.Healthy[0])
	}

	// ?model= narrows it to a group.
	ctx = get(s, "/health?model=h", testMaster)
	if err := json.Unmarshal(ctx.Response.Body(), &resp); err != nil || resp.HealthyCount != 1 || resp.UnhealthyCount != 0 || resp.Healthy[0]["model_id"] != "other" {
		t.Fatalf("/health?model=h: %s", ctx.Response.Body())
	}
}

func TestHealthEndpointWithoutDetails(t *testing.T) {
	d := &provider.Deployment{ID: "d", ModelName: "g", Provider: "openai", Model: "m", APIBase: "https://x.example.com", Impl: failing{}}
	m := router.NewMonitor([]*provider.Deployment{d}, router.HealthConfig{Checks: router.CheckConfig{Background: true, HideDetails: true}})
	ctx := get(healthServer(t, m, nil), "/health", testMaster)
	if body := string(ctx.Response.Body()); body != `{"healthy_endpoints":[{"model":"openai/m","model_name":"g","state":"healthy"}],"unhealthy_endpoints":[],"healthy_count":1,"unhealthy_count":0}` {
		t.Fatalf("/health with health_check_details: false and background checks: %s", body)
	}
}

func TestReadinessReportsRedis(t *testing.T) {
	for _, c := range []struct {
		redis  func() (string, bool)
		status string
		field  string
	}{
		{nil, `"status":"healthy"`, ""},
		{func() (string, bool) { return "", true }, `"status":"healthy"`, ""},
		{func() (string, bool) { return "connected", true }, `"status":"healthy"`, `"redis":"connected"`},
		{func() (string, bool) { return "unreachable", false }, `"status":"degraded"`, `"redis":"unreachable"`},
	} {
		ctx := get(healthServer(t, nil, c.redis), "/health/readiness", "")
		body := string(ctx.Response.Body())
		if ctx.Response.StatusCode() != 200 || !strings.Contains(body, c.status) || (c.field != "" && !strings.Contains(body, c.field)) ||
			(c.field == "" && strings.Contains(body, `"redis"`)) {
			t.Errorf("readiness: %d %s", ctx.Response.StatusCode(), body)
		}
	}
}
