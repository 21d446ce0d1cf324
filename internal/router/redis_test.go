package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// Two replicas sharing Redis enforce a deployment's rpm together: between
// them they admit exactly the rpm in a minute, not the rpm each.
func TestRPMCapAcrossReplicas(t *testing.T) {
	url := os.Getenv("SWITCHBOARD_TEST_REDIS_URL")
	if url == "" {
		t.Skip("set SWITCHBOARD_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "sbtest:" + hex.EncodeToString(b[:]) + ":"
	// Redis counts in windows of its clock's minutes; stay clear of a
	// boundary so that every pick below falls in one window.
	if s := time.Now().Second(); s >= 50 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}

	const rpm = 25
	var replicas [2]*Router
	var groups [2]*Group
	for i := range replicas {
		c := redis.NewClient(opts)
		t.Cleanup(func() {
			ctx := context.Background()
			iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
			_ = c.Close()
		})
		// Each replica has its own Deployment values, as separate
		// processes would; the ids are what they share.
		ws := []Weighted{
			{Deployment: &provider.Deployment{ID: "a", ModelName: "g"}, RPM: rpm},
			{Deployment: &provider.Deployment{ID: "b", ModelName: "g"}, RPM: rpm},
		}
		r, err := NewWith(ws, Options{Counters: counter.NewRedis(c, prefix)})
		if err != nil {
			t.Fatal(err)
		}
		replicas[i], groups[i] = r, r.Group("g")
	}

	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			r, g := replicas[w%2], groups[w%2]
			for range 15 {
				d, err := r.Pick(g, &Selection{Context: context.Background()})
				var nd *NoDeploymentsError
				if errors.As(err, &nd) {
					if nd.Reason != ReasonAtCapacity || nd.RetryAt.Before(time.Now()) {
						t.Errorf("refusal %+v, want at capacity until the next window", nd)
					}
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				r.Begin(d)
				r.End(g, d, Attempt{})
				mu.Lock()
				counts[d.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if counts["a"] != rpm || counts["b"] != rpm {
		t.Errorf("picks %v over two replicas of 60 attempts each, want exactly rpm %d per deployment", counts, rpm)
	}
}
