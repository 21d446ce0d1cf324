package counter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// The scripts share a prologue that reads the server clock. Using Redis's
// TIME rather than each replica's clock keeps window boundaries identical
// for every replica. replicate_commands makes TIME legal before writes on
// Redis < 7 (effects replication); on 7+ it is a no-op.
const luaNow = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// admitScript: KEYS[i] is limit i; ARGV holds kind, max, amount, window_ms,
// seed per limit (kind numbers as in Kind; seed is where a missing Budget
// counter starts). It reads and checks every counter
// before writing any, so a denial changes nothing. Returns
// {allowed, denied_index (0-based, -1), retry_after_ms, remaining...}.
var admitScript = redis.NewScript(luaNow + `
local n = #KEYS
local cur = {}
local missing = {}
local denied = -1
local retry = 0
for i = 1, n do
  local b = (i - 1) * 5
  local raw = redis.call('GET', KEYS[i])
  missing[i] = not raw
  local v = tonumber(raw or '0')
  if not raw and tonumber(ARGV[b + 1]) == 4 then v = tonumber(ARGV[b + 5]) end
  cur[i] = v
  if denied < 0 and v + tonumber(ARGV[b + 3]) > tonumber(ARGV[b + 2]) then
    denied = i - 1
    if tonumber(ARGV[b + 1]) <= 2 then
      local ttl = redis.call('PTTL', KEYS[i])
      local w = tonumber(ARGV[b + 4])
      if ttl > 0 then retry = ttl else retry = w - now % w end
    end
  end
end
local out = {0, denied, retry}
if denied >= 0 then
  for i = 1, n do
    local r = tonumber(ARGV[(i - 1) * 5 + 2]) - cur[i]
    if r < 0 then r = 0 end
    out[3 + i] = r
  end
  return out
end
out[1] = 1
for i = 1, n do
  local b = (i - 1) * 5
  local kind = tonumber(ARGV[b + 1])
  local w = tonumber(ARGV[b + 4])
  local v
  if missing[i] and kind == 4 then
    v = cur[i] + tonumber(ARGV[b + 3])
    redis.call('SET', KEYS[i], v)
  else
    v = redis.call('INCRBY', KEYS[i], ARGV[b + 3])
  end
  if kind == 3 then
    redis.call('PEXPIRE', KEYS[i], w)
  elseif missing[i] then
    if kind <= 2 then w = w - now % w end
    redis.call('PEXPIRE', KEYS[i], w)
  end
  local r = tonumber(ARGV[b + 2]) - v
  if r < 0 then r = 0 end
  out[3 + i] = r
end
return out
`)

// adjustScript: KEYS[i] is change i; ARGV holds kind, delta, window_ms per
// change. Counters clamp at 0; a non-positive delta on a missing counter is
// dropped so that no key is ever left without a TTL.
var adjustScript = redis.NewScript(luaNow + `
for i = 1, #KEYS do
  local b = (i - 1) * 3
  local kind = tonumber(ARGV[b + 1])
  local delta = tonumber(ARGV[b + 2])
  local w = tonumber(ARGV[b + 3])
  if redis.call('EXISTS', KEYS[i]) == 0 then
    if delta > 0 then
      if kind <= 2 then w = w - now % w end
      redis.call('SET', KEYS[i], ARGV[b + 2], 'PX', w)
    end
  else
    local v = redis.call('INCRBY', KEYS[i], ARGV[b + 2])
    if v < 0 then redis.call('SET', KEYS[i], 0, 'KEEPTTL') end
    if kind == 3 and delta > 0 then redis.call('PEXPIRE', KEYS[i], w) end
  end
end
return 0
`)

// setScript: KEYS[i] is value i; ARGV holds kind, value, ttl_ms per value.
// A script (not a pipeline) so windowed TTLs align to the server clock.
var setScript = redis.NewScript(luaNow + `
for i = 1, #KEYS do
  local b = (i - 1) * 3
  local kind = tonumber(ARGV[b + 1])
  local w = tonumber(ARGV[b + 3])
  if tonumber(ARGV[b + 2]) == 0 then
    redis.call('DEL', KEYS[i])
  else
    if kind <= 2 then w = w - now % w end
    redis.call('SET', KEYS[i], ARGV[b + 2], 'PX', w)
  end
end
return 0
`)

// Redis is a Store shared by all replicas. Every Admit, Adjust and Set is
// one Lua script (atomic, one round-trip); Get is one pipeline.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis returns a store over c, which the application builds and owns
// (timeouts, pool size, TLS). prefix is prepended to every key, e.g.
// "sb:" — or "{sb}:" to keep all counters in one Cluster slot.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	return &Redis{c: c, prefix: prefix}
}

// Admit implements Store.
func (r *Redis) Admit(ctx context.Context, limits []Limit, d *Decision) error {
	if err := validateLimits(limits); err != nil {
		return err
	}
	resetDecision(d, len(limits))
	if len(limits) == 0 {
		d.Allowed = true
		return nil
	}
	keys := make([]string, len(limits))
	args := make([]any, 0, 5*len(limits))
	for i := range limits {
		l := &limits[i]
		keys[i] = r.prefix + l.Key
		args = append(args, int(l.Kind), l.Max, l.Amount, l.Window.Milliseconds(), l.Seed)
	}
	res, err := admitScript.Run(ctx, r.c, keys, args...).Int64Slice()
	if err != nil {
		return wrapErr("admit", err)
	}
	if len(res) != 3+len(limits) {
		return fmt.Errorf("counter: redis admit: %d results for %d limits", len(res), len(limits))
	}
	d.Allowed = res[0] == 1
	d.Denied = int(res[1])
	d.RetryAfter = time.Duration(res[2]) * time.Millisecond
	copy(d.Remaining, res[3:])
	return nil
}

// Adjust implements Store.
func (r *Redis) Adjust(ctx context.Context, changes []Change) error {
	if err := validateChanges(changes); err != nil {
		return err
	}
	if len(changes) == 0 {
		return nil
	}
	keys := make([]string, len(changes))
	args := make([]any, 0, 3*len(changes))
	for i := range changes {
		c := &changes[i]
		keys[i] = r.prefix + c.Key
		args = append(args, int(c.Kind), c.Delta, c.Window.Milliseconds())
	}
	return wrapErr("adjust", adjustScript.Run(ctx, r.c, keys, args...).Err())
}

// Get implements Store. Reads need no atomicity across keys, so they go in
// a pipeline, which also works when keys span Cluster slots.
func (r *Redis) Get(ctx context.Context, keys []string, kinds []Kind) ([]int64, error) {
	if err := validateGet(keys, kinds); err != nil {
		return nil, err
	}
	out := make([]int64, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, r.prefix+k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrapErr("get", err)
	}
	for i, c := range cmds {
		s, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, wrapErr("get", err)
		}
		if out[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return nil, fmt.Errorf("counter: redis get %s: %w", keys[i], err)
		}
	}
	return out, nil
}

// Set implements Store.
func (r *Redis) Set(ctx context.Context, values []Value) error {
	if err := validateValues(values); err != nil {
		return err
	}
	if len(values) == 0 {
		return nil
	}
	keys := make([]string, len(values))
	args := make([]any, 0, 3*len(values))
	for i := range values {
		v := &values[i]
		keys[i] = r.prefix + v.Key
		args = append(args, int(v.Kind), v.Value, v.TTL.Milliseconds())
	}
	return wrapErr("set", setScript.Run(ctx, r.c, keys, args...).Err())
}

// wrapErr labels err with the operation and marks it ErrUnavailable when the
// server could not be reached or answered too late, so policy can apply its
// fail-open/fail-closed rule without string matching.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if unavailable(err) {
		return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
	}
	return fmt.Errorf("counter: redis %s: %w", op, err)
}

func unavailable(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, redis.ErrClosed),
		errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, redis.ErrPoolExhausted),
		errors.As(err, &ne):
		return true
	}
	// Server-side states during restarts and failovers: the data is not
	// reachable right now, which policy should treat like a timeout.
	return redis.IsLoadingError(err) ||
		redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) ||
		redis.IsMasterDownError(err) ||
		redis.IsReadOnlyError(err) ||
		redis.IsMaxClientsError(err)
}
