package counter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/counter/countertest"
)

const redisEnv = "SWITCHBOARD_TEST_REDIS_URL"

// newRedisClient connects to the test Redis or skips. Every caller gets a
// random key prefix so parallel tests and runs never share counters.
func newRedisClient(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	url := os.Getenv(redisEnv)
	if url == "" {
		tb.Skipf("set %s (e.g. redis://127.0.0.1:6379/0) to run the Redis tests", redisEnv)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("%s: %v", redisEnv, err)
	}
	c := redis.NewClient(opts)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	prefix := "sbtest:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		// Exactness tests use year-long windows; don't leave them behind.
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = c.Close()
	})
	return c, prefix
}

func newRedis(tb testing.TB) *counter.Redis {
	c, prefix := newRedisClient(tb)
	return counter.NewRedis(c, prefix)
}

func TestRedisContract(t *testing.T) {
	newRedisClient(t) // skip early, before the subtests, when unset
	countertest.Run(t, func(t *testing.T) counter.Store { return newRedis(t) })
}

// countHook counts commands sent to Redis (a pipeline counts once).
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// Admission for all five counters of a request, and settlement of all of
// them, each cost one round-trip once the scripts are cached.
func TestRedisOneRoundTrip(t *testing.T) {
	c, prefix := newRedisClient(t)
	s := counter.NewRedis(c, prefix)
	ctx := context.Background()
	limits := fiveLimits("rt")
	var d counter.Decision
	changes := []counter.Change{
		{Key: limits[1].Key, Kind: counter.Tokens, Delta: -300, Window: time.Minute},
		{Key: limits[2].Key, Kind: counter.Budget, Delta: -700},
		{Key: limits[4].Key, Kind: counter.Concurrency, Delta: -1},
	}
	// Warm the script cache (the first EVALSHA may fall back to EVAL).
	if err := s.Admit(ctx, limits, &d); err != nil {
		t.Fatal(err)
	}
	if err := s.Adjust(ctx, changes); err != nil {
		t.Fatal(err)
	}
	h := &countHook{}
	c.AddHook(h)
	if err := s.Admit(ctx, limits, &d); err != nil || !d.Allowed {
		t.Fatalf("%v %+v", err, d)
	}
	if n := h.n.Swap(0); n != 1 {
		t.Fatalf("Admit of 5 limits sent %d commands, want 1", n)
	}
	if err := s.Adjust(ctx, changes); err != nil {
		t.Fatal(err)
	}
	if n := h.n.Swap(0); n != 1 {
		t.Fatalf("Adjust of 3 changes sent %d commands, want 1", n)
	}
	// Keys really are prefixed and windowed keys carry a TTL within the window.
	ttl, err := c.PTTL(ctx, prefix+limits[0].Key).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("PTTL(rpm) = %v, %v; want within (0, 1m]", ttl, err)
	}
	ttl, err = c.PTTL(ctx, prefix+limits[4].Key).Result()
	if err != nil || ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Fatalf("PTTL(parallel) = %v, %v; want refreshed to ~10m", ttl, err)
	}
}

// Two stores over separate connections (two replicas) share one limit.
func TestRedisGlobalAcrossReplicas(t *testing.T) {
	c1, prefix := newRedisClient(t)
	c2, _ := newRedisClient(t)
	a, b := counter.NewRedis(c1, prefix), counter.NewRedis(c2, prefix)
	l := []counter.Limit{{Key: "rpm", Kind: counter.Requests, Max: 600, Amount: 1, Window: 365 * 24 * time.Hour}}
	var allowed atomic.Int64
	done := make(chan struct{})
	for _, s := range []*counter.Redis{a, b} {
		for range 8 {
			go func() {
				defer func() { done <- struct{}{} }()
				var d counter.Decision
				for range 225 { // 16×225 = 3,600 = 6× the limit
					if err := s.Admit(context.Background(), l, &d); err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						allowed.Add(1)
					}
				}
			}()
		}
	}
	for range 16 {
		<-done
	}
	if n := allowed.Load(); n != 600 {
		t.Fatalf("two replicas admitted %d, want exactly 600", n)
	}
}

// A dead Redis is reported as ErrUnavailable so policy can pick
// fail-open/fail-closed; it must not hang past the client's timeouts.
func TestRedisUnavailable(t *testing.T) {
	// Reserve a port, then close it so nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	s := counter.NewRedis(c, "x:")
	ctx := context.Background()
	var d counter.Decision
	l := []counter.Limit{{Key: "k", Kind: counter.Budget, Max: 1, Amount: 1, Window: time.Minute}}
	if err := s.Admit(ctx, l, &d); !errors.Is(err, counter.ErrUnavailable) {
		t.Fatalf("Admit: err = %v, want ErrUnavailable", err)
	}
	if err := s.Adjust(ctx, []counter.Change{{Key: "k", Kind: counter.Budget, Delta: -1}}); !errors.Is(err, counter.ErrUnavailable) {
		t.Fatalf("Adjust: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.Get(ctx, []string{"k"}, []counter.Kind{counter.Budget}); !errors.Is(err, counter.ErrUnavailable) {
		t.Fatalf("Get: err = %v, want ErrUnavailable", err)
	}
	if err := s.Set(ctx, []counter.Value{{Key: "k", Kind: counter.Budget}}); !errors.Is(err, counter.ErrUnavailable) {
		t.Fatalf("Set: err = %v, want ErrUnavailable", err)
	}
}

// A caller's deadline is a timeout too.
func TestRedisDeadlineUnavailable(t *testing.T) {
	c2, prefix := newRedisClient(t)
	s2 := counter.NewRedis(c2, prefix)
	var d counter.Decision
	l := []counter.Limit{{Key: "k", Kind: counter.Budget, Max: 1, Amount: 1, Window: time.Minute}}
	dctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if err := s2.Admit(dctx, l, &d); !errors.Is(err, counter.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Admit past deadline: err = %v, want ErrUnavailable wrapping DeadlineExceeded", err)
	}
}
