package app

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/policy"
)

// Two replicas beating into one Redis each learn that there are (at least;
// other test processes may share the server) two of them, which is the
// share each enforces while Redis is unreachable.
func TestReplicaHeartbeat(t *testing.T) {
	url := os.Getenv("SWITCHBOARD_TEST_REDIS_URL")
	if url == "" {
		t.Skip("set SWITCHBOARD_TEST_REDIS_URL to run")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var limiters [2]*policy.Limiter
	done := make(chan struct{}, 2)
	for i := range limiters {
		c := redis.NewClient(opts)
		defer c.Close()
		limiters[i] = policy.New(counter.NewMemory(nil), nil, nil)
		go func() { replicaHeartbeat(ctx, c, limiters[i], slog.New(slog.DiscardHandler)); done <- struct{}{} }()
	}
	deadline := time.Now().Add(3 * heartbeatEvery)
	for (limiters[0].Replicas() < 2 || limiters[1].Replicas() < 2) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if a, b := limiters[0].Replicas(), limiters[1].Replicas(); a < 2 || b < 2 {
		t.Errorf("replicas seen: %d and %d, want both >= 2", a, b)
	}
	cancel()
	for range limiters {
		<-done
	}
}
