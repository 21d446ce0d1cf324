package counter

import (
	"context"
	"sync"
	"time"
)

// Memory is an in-process Store: exact within one replica, and the default
// when no Redis is configured. All operations run under one mutex, which is
// what makes Admit all-or-nothing across limits; the critical section is a
// few map lookups, so contention stays low at gateway request rates.
type Memory struct {
	now func() time.Time

	mu sync.Mutex
	m  map[string]entry
}

// entry is one counter. exp is the expiry in Unix nanoseconds; every counter
// has one because every kind needs a TTL (see Limit.Window).
type entry struct {
	v   int64
	exp int64
}

// sweepSample and sweepRounds bound the lazy cleanup done on each write: we
// sample up to sweepSample entries and repeat (up to sweepRounds times) only
// while more than a quarter of the sample had expired, like Redis's active
// expiry. That keeps each call O(1) while expired keys (old windows, old
// budget periods, departed end users) cannot accumulate without bound.
const (
	sweepSample = 20
	sweepRounds = 4
)

// NewMemory returns an empty in-process store. now is the clock (time.Now
// when nil); tests inject a fake one to step across windows.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, m: make(map[string]entry)}
}

// Admit implements Store.
func (m *Memory) Admit(ctx context.Context, limits []Limit, d *Decision) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateLimits(limits); err != nil {
		return err
	}
	resetDecision(d, len(limits))

	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().UnixNano()

	// Phase 1: read and check everything; nothing is written yet, so a
	// denial leaves every counter as it was.
	for i := range limits {
		l := &limits[i]
		e, ok := m.load(l.Key, now)
		if !ok && l.Kind == Budget {
			e.v = l.Seed
		}
		cur := e.v
		if d.Denied < 0 && cur+l.Amount > l.Max {
			d.Denied = i
			if l.Kind.windowed() {
				end := windowEnd(now, l.Window)
				if ok {
					end = e.exp
				}
				d.RetryAfter = time.Duration(end - now)
			}
		}
		d.Remaining[i] = l.Max - cur - l.Amount
	}
	if d.Denied >= 0 {
		// Nothing was taken, so report what remains now.
		for i := range limits {
			d.Remaining[i] = max(d.Remaining[i]+limits[i].Amount, 0)
		}
		return nil
	}

	// Phase 2: all allowed; apply every amount.
	for i := range limits {
		l := &limits[i]
		e, ok := m.load(l.Key, now)
		if !ok && l.Kind == Budget {
			e.v = l.Seed
		}
		e.v += l.Amount
		switch {
		case l.Kind == Concurrency:
			// Refreshed on every admit so that only slots nobody has
			// touched for a whole Window expire.
			e.exp = now + int64(l.Window)
		case !ok && l.Kind.windowed():
			e.exp = windowEnd(now, l.Window)
		case !ok:
			e.exp = now + int64(l.Window)
		}
		m.m[l.Key] = e
	}
	d.Allowed = true
	m.sweep(now)
	return nil
}

// Adjust implements Store.
func (m *Memory) Adjust(ctx context.Context, changes []Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateChanges(changes); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().UnixNano()
	for i := range changes {
		c := &changes[i]
		e, ok := m.load(c.Key, now)
		if !ok {
			// A refund or release for a counter that already expired has
			// nothing left to undo; creating it would only leave a zero.
			if c.Delta <= 0 {
				continue
			}
			if c.Kind.windowed() {
				e.exp = windowEnd(now, c.Window)
			} else {
				e.exp = now + int64(c.Window)
			}
		} else if c.Kind == Concurrency && c.Delta > 0 {
			e.exp = now + int64(c.Window)
		}
		e.v = max(e.v+c.Delta, 0)
		m.m[c.Key] = e
	}
	m.sweep(now)
	return nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, keys []string, kinds []Kind) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validateGet(keys, kinds); err != nil {
		return nil, err
	}
	out := make([]int64, len(keys))
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().UnixNano()
	for i, k := range keys {
		e, _ := m.load(k, now)
		out[i] = e.v
	}
	return out, nil
}

// Set implements Store.
func (m *Memory) Set(ctx context.Context, values []Value) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateValues(values); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().UnixNano()
	for i := range values {
		v := &values[i]
		if v.Value == 0 {
			delete(m.m, v.Key)
			continue
		}
		e := entry{v: v.Value, exp: now + int64(v.TTL)}
		if v.Kind.windowed() {
			e.exp = windowEnd(now, v.TTL)
		}
		m.m[v.Key] = e
	}
	m.sweep(now)
	return nil
}

// Len reports how many counters are stored, expired ones included until the
// sweep reaches them; for tests and metrics.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

// load returns the live entry for key; an expired entry reads as missing and
// is deleted so the next write starts a fresh window or period.
func (m *Memory) load(key string, now int64) (entry, bool) {
	e, ok := m.m[key]
	if !ok {
		return entry{}, false
	}
	if now >= e.exp {
		delete(m.m, key)
		return entry{}, false
	}
	return e, true
}

// sweep deletes a bounded sample of expired entries; see sweepSample.
func (m *Memory) sweep(now int64) {
	for range sweepRounds {
		seen, expired := 0, 0
		// Map iteration starts at a random position, so successive calls
		// sample different parts of the map.
		for k, e := range m.m {
			if now >= e.exp {
				delete(m.m, k)
				expired++
			}
			seen++
			if seen == sweepSample {
				break
			}
		}
		if expired*4 <= seen {
			return
		}
	}
}

// windowEnd returns the end of the fixed window of size w (aligned to the
// Unix epoch) containing now, both in nanoseconds.
func windowEnd(now int64, w time.Duration) int64 {
	return now - now%int64(w) + int64(w)
}
