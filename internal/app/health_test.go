package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
)

func TestHealthConfigFromConfig(t *testing.T) {
	path := t.TempDir() + "/config.yaml"
	src := `
model_list:
  - model_name: g
    litellm_params: {model: mock/a, cooldown_time: 7}
    model_info: {id: a, cooldown_time: 99, allowed_fails: 4, mode: embedding, health_check_timeout: 3, health_check_max_tokens: 5,
                 disable_background_health_check: true, health_check_model: mock/b,
                 allowed_fails_policy: {RateLimitErrorAllowedFails: 9}}
  - model_name: g
    litellm_params: {model: mock/b}
    model_info: {id: b, cooldown_time: 11}
router_settings:
  cooldown_time: 30
  disable_cooldowns: false
  max_cooldown_share: 0.25
  allowed_fails_policy: {TimeoutErrorAllowedFails: 2, AuthenticationErrorAllowedFails: 1}
  enable_health_check_routing: false
litellm_settings: {allowed_fails: 6}
general_settings: {background_health_checks: true, health_check_interval: 60, health_check_concurrency: 3, health_check_details: false}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	hc := healthConfig(cfg, nil, nil)
	switch {
	case hc.CooldownTime == nil || *hc.CooldownTime != 30*time.Second:
		t.Errorf("cooldown_time = %v", hc.CooldownTime)
	case hc.AllowedFails == nil || *hc.AllowedFails != 6:
		t.Errorf("allowed_fails from litellm_settings = %v", hc.AllowedFails)
	case hc.MaxCooldownShare == nil || *hc.MaxCooldownShare != 0.25:
		t.Errorf("max_cooldown_share = %v", hc.MaxCooldownShare)
	case hc.AllowedFailsPolicy.Timeout == nil || *hc.AllowedFailsPolicy.Timeout != 2 || *hc.AllowedFailsPolicy.Authentication != 1:
		t.Errorf("allowed_fails_policy = %+v", hc.AllowedFailsPolicy)
	case hc.Checks != router.CheckConfig{Background: true, ReportOnly: true, Interval: time.Minute, Concurrency: 3, HideDetails: true}:
		t.Errorf("checks = %+v", hc.Checks)
	}
	a, b := hc.Deployments["a"], hc.Deployments["b"]
	if a.CooldownTime == nil || *a.CooldownTime != 7*time.Second || a.AllowedFails == nil || *a.AllowedFails != 4 ||
		a.Mode != "embedding" || a.CheckTimeout != 3*time.Second || a.CheckMaxTokens != 5 || !a.DisableCheck ||
		a.CheckModel != "mock/b" || a.AllowedFailsPolicy.RateLimit == nil || *a.AllowedFailsPolicy.RateLimit != 9 {
		t.Errorf("deployment a = %+v", a)
	}
	if b.CooldownTime == nil || *b.CooldownTime != 11*time.Second {
		t.Errorf("deployment b's model_info.cooldown_time = %v", b.CooldownTime)
	}
}

func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("SWITCHBOARD_TEST_REDIS_URL")
	if url == "" {
		t.Skip("set SWITCHBOARD_TEST_REDIS_URL to run")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// replica is one gateway's view of a group of three deployments whose IDs
// are unique to the test run (the Redis may be shared).
func replica(t *testing.T, ids []string) (*router.Monitor, []*provider.Deployment) {
	ds := make([]*provider.Deployment, len(ids))
	for i, id := range ids {
		ds[i] = &provider.Deployment{ID: id, ModelName: "g", Provider: "openai", Model: "m"}
	}
	return router.NewMonitor(ds, router.HealthConfig{}), ds
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Two replicas on one Redis: a cooldown decided on one is avoided by the
// other as soon as the message arrives; a replica that starts later loads
// it; the probe that ends it on one ends it everywhere.
func TestCooldownsSharedThroughRedis(t *testing.T) {
	c1, c2, c3 := testRedis(t), testRedis(t), testRedis(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	run := hex.EncodeToString(b[:])
	ids := []string{"a-" + run, "b-" + run, "c-" + run}
	log := slog.New(slog.DiscardHandler)

	m1, ds1 := replica(t, ids)
	m2, ds2 := replica(t, ids)
	s1, err := shareCooldowns(c1, m1, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := shareCooldowns(c2, m2, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	// Both subscribed: a probe message each way.
	waitSubscribed(t, c1, 2)

	e := &provider.Error{Status: 429, RetryAfter: 30 * time.Second, Retryable: true, Message: "slow down"}
	m1.Observe(nil, ds1[0], router.Attempt{Err: e}, time.Now())
	if ok, _ := m1.Usable(ds1[0], time.Now()); ok {
		t.Fatal("the deciding replica did not cool the deployment down")
	}
	waitUntil(t, "replica 2 applies the cooldown", func() bool { ok, _ := m2.Usable(ds2[0], time.Now()); return !ok })
	if _, until := m2.Usable(ds2[0], time.Now()); time.Until(until) < 25*time.Second {
		t.Fatalf("replica 2 cooled for %s, want about 30s", time.Until(until))
	}
	if ok, _ := m2.Usable(ds2[1], time.Now()); !ok {
		t.Fatal("replica 2 cooled a deployment nobody cooled")
	}

	// A replica starting now loads it from its key.
	waitUntil(t, "the cooldown is stored", func() bool { return c1.Exists(context.Background(), cooldownKeyPrefix+ids[0]).Val() == 1 })
	_, until1 := m1.Usable(ds1[0], time.Now())
	time.Sleep(time.Second) // so that "what is left" differs from the whole
	m3, ds3 := replica(t, ids)
	s3, err := shareCooldowns(c3, m3, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	waitUntil(t, "a new replica loads the cooldown", func() bool { ok, _ := m3.Usable(ds3[0], time.Now()); return !ok })
	if _, until3 := m3.Usable(ds3[0], time.Now()); until3.Sub(until1).Abs() > 500*time.Millisecond {
		t.Fatalf("the new replica's cooldown ends at %s, the deciding replica's at %s", until3, until1)
	}

	// Replica 2 decides a short cooldown on another deployment; its probe
	// passes on replica 1, which ends it on replica 2 too and drops the key.
	m2.Observe(nil, ds2[1], router.Attempt{Err: &provider.Error{Status: 500, Retryable: true}}, time.Now())
	waitUntil(t, "replica 1 applies replica 2's cooldown", func() bool { ok, _ := m1.Usable(ds1[1], time.Now()); return !ok })
	_, until := m1.Usable(ds1[1], time.Now())
	time.Sleep(time.Until(until) + 10*time.Millisecond)
	if ok, _ := m1.Usable(ds1[1], time.Now()); !ok {
		t.Fatal("no probe after the cooldown")
	}
	m1.Observe(nil, ds1[1], router.Attempt{Latency: time.Millisecond}, time.Now())
	waitUntil(t, "replica 2 sees the recovery", func() bool {
		for _, st := range m2.Statuses(time.Now()) {
			if st.ID == ids[1] {
				return st.State == router.StateHealthy
			}
		}
		return false
	})
	c1.Del(context.Background(), cooldownKeyPrefix+ids[0])
}

// waitSubscribed waits until the cooldown channel has at least n
// subscribers (other test processes may share it, so not exactly n).
func waitSubscribed(t *testing.T, c *redis.Client, n int64) {
	t.Helper()
	waitUntil(t, "the replicas subscribe", func() bool {
		m, err := c.PubSubNumSub(context.Background(), cooldownChannel).Result()
		return err == nil && m[cooldownChannel] >= n
	})
}

// Closing stops the sharer's goroutine and it publishes nothing more.
func TestCooldownSharerCloses(t *testing.T) {
	c := testRedis(t)
	m, ds := replica(t, []string{"close-test"})
	s, err := shareCooldowns(c, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	select {
	case <-s.done:
	default:
		t.Fatal("the sharer's goroutine is still running")
	}
	// Decisions after Close stay local and do not block.
	m.Observe(nil, ds[0], router.Attempt{Err: &provider.Error{Status: 500, Retryable: true}}, time.Now())
	m.Observe(nil, ds[0], router.Attempt{Err: &provider.Error{Status: 500, Retryable: true}}, time.Now())
}
