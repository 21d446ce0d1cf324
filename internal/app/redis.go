package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/policy"
)

// redisOptions finds the shared counters' Redis where LiteLLM users put it:
// router_settings.redis_url / redis_host+redis_port+redis_password+redis_db,
// then REDIS_URL, then REDIS_HOST / REDIS_PORT / REDIS_PASSWORD. nil means
// none is configured and counters stay in this process.
func redisOptions(cfg *config.Config, env func(string) (string, bool)) (*redis.Options, error) {
	rs := cfg.RouterSettings
	get := func(name string) string { v, _ := env(name); return v }
	var o *redis.Options
	switch {
	case rs.RedisURL != "":
		u, err := redis.ParseURL(rs.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("router_settings.redis_url: %w", err)
		}
		o = u
	case rs.RedisHost != "":
		port := 6379
		if rs.RedisPort != nil {
			port = *rs.RedisPort
		}
		o = &redis.Options{Addr: net.JoinHostPort(rs.RedisHost, strconv.Itoa(port)), Password: rs.RedisPassword}
		if rs.RedisDB != nil {
			o.DB = *rs.RedisDB
		}
	case get("REDIS_URL") != "":
		u, err := redis.ParseURL(get("REDIS_URL"))
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		o = u
	case get("REDIS_HOST") != "":
		port := get("REDIS_PORT")
		if port == "" {
			port = "6379"
		}
		o = &redis.Options{Addr: net.JoinHostPort(get("REDIS_HOST"), port), Password: get("REDIS_PASSWORD")}
	default:
		return nil, nil
	}
	// Admission waits on Redis: an unhealthy one must fail fast (limits
	// then fail open) rather than hold every request.
	o.DialTimeout = time.Second
	o.ReadTimeout = 250 * time.Millisecond
	o.WriteTimeout = 250 * time.Millisecond
	o.MaxRetries = 0
	return o, nil
}

const (
	// replicasKey is the sorted set of live replicas (score: last beat, ms).
	replicasKey = "sb:replicas"
	// heartbeatEvery is how often a replica says it is alive; one silent
	// for three beats no longer counts.
	heartbeatEvery = 5 * time.Second
)

// replicaHeartbeat keeps this replica in Redis's set of live replicas and
// tells the limiter how many there are, so that while Redis is unreachable
// each replica enforces its share of every rate limit (the last count seen
// stands during the outage). It returns when ctx ends, leaving the set.
func replicaHeartbeat(ctx context.Context, c *redis.Client, l *policy.Limiter, log *slog.Logger) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		now := time.Now().UnixMilli()
		var card *redis.IntCmd
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, replicasKey, redis.Z{Score: float64(now), Member: id})
			p.ZRemRangeByScore(ctx, replicasKey, "-inf", strconv.FormatInt(now-3*heartbeatEvery.Milliseconds(), 10))
			card = p.ZCard(ctx, replicasKey)
			p.PExpire(ctx, replicasKey, 3*heartbeatEvery)
			return nil
		})
		if err == nil {
			l.SetReplicas(int(card.Val()))
		} else if ctx.Err() == nil {
			log.Debug("replica heartbeat failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.Background(), time.Second)
			c.ZRem(lctx, replicasKey, id)
			cancel()
			return
		case <-t.C:
		}
	}
}
