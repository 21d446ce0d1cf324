package app

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-gw/switchboard/internal/config"
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
