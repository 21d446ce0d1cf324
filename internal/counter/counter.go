// Package counter holds the shared counters behind rate limits, parallel
// request limits and budgets: an in-process Memory store (the default, one
// replica) and a Redis store (N replicas enforcing one global limit).
//
// A request is admitted against all of its limits at once: Admit checks every
// limit and applies every Amount only if all of them allow, atomically, so a
// request refused by one limiter consumes nothing from the others (LiteLLM
// #39309, research §1.4) and concurrent requests cannot all slip past a
// check-then-act gap (LiteLLM #34732, research §1.1). With Redis that is one
// Lua script, i.e. one round-trip for all counters of a request.
//
// # Window semantics
//
// Requests and Tokens use fixed windows aligned to the window size on the
// Unix epoch (a 60 s window runs from :00 to :00 of each minute). A window is
// exact: it never admits more than Max, which is what the acceptance test
// ("each window admits between 570 and 600 of RPM 600") measures. The known
// cost of fixed windows is a burst of up to 2×Max across a window boundary;
// we accept it for exactness, O(1) state and one INCRBY per counter.
// RetryAfter is the time until the next window starts. The window is the
// lifetime of the counter: it is created with an expiry at the end of the
// current window, so no key suffix is needed and a Redis Cluster slot never
// depends on the clock. With Redis the clock is the Redis server's (TIME), so
// replicas with skewed clocks still agree on window boundaries.
//
// Concurrency counters hold slots until they are released with an Adjust of
// −1. Each admit refreshes the counter's TTL (Limit.Window), so slots leaked by
// a crashed replica expire instead of locking a key out forever (LiteLLM
// #20256, PR #28160).
//
// Budget counters are plain sums per budget period; callers put the period in
// the key and set Window to the time until the reset plus some slack. The TTL
// is set when the counter is created and not extended afterwards. A missing
// Budget counter starts from Limit.Seed (the ledger's spend so far).
//
// Counters never go below zero: an Adjust that would make one negative (a
// double release, a refund larger than the reservation) clamps it at 0, and an
// Adjust with a negative delta on a counter that does not exist (expired) is a
// no-op rather than creating a key without a TTL.
//
// # Redis Cluster
//
// Admit, Adjust and Set run one Lua script over all keys of the call, so in a
// Redis Cluster those keys must hash to one slot. Either give the store a
// prefix containing a hash tag (e.g. "{sb}:", which puts every counter in one
// slot) or build keys sharing a tag such as "{key:<hash>}". On a single node or
// with Sentinel it does not matter. Get uses a pipeline and has no such
// restriction.
//
// # Errors
//
// Errors from the backing store are returned, never swallowed: whether to fail
// closed (budgets) or open (rate limits) is policy, not this package's call.
// errors.Is(err, ErrUnavailable) reports that the store could not be reached
// (connection refused or reset, timeout, pool exhausted, server loading or
// failing over); errors.Is(err, ErrInvalid) reports a malformed request.
//
// Values are int64 but the Redis scripts do arithmetic in Lua doubles, so
// magnitudes are limited to 2^53 (9×10^15: nine billion dollars in
// micro-dollars); larger values are rejected with ErrInvalid.
package counter

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind says how a counter behaves over time.
type Kind uint8

const (
	// Requests counts requests in a fixed window aligned to Limit.Window.
	Requests Kind = iota + 1
	// Tokens sums tokens in a fixed window aligned to Limit.Window.
	Tokens
	// Concurrency counts slots held until released with Adjust(−1); its TTL
	// is refreshed on every admit so leaked slots expire.
	Concurrency
	// Budget sums spend (micro-dollars) within a budget period whose key the
	// caller chooses; its TTL is set once when the counter is created.
	Budget
)

// String returns the kind's name for logs and test failures.
func (k Kind) String() string {
	switch k {
	case Requests:
		return "requests"
	case Tokens:
		return "tokens"
	case Concurrency:
		return "concurrency"
	case Budget:
		return "budget"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// windowed reports whether the counter's lifetime is an aligned window.
func (k Kind) windowed() bool { return k == Requests || k == Tokens }

func (k Kind) valid() bool { return k >= Requests && k <= Budget }

// Limit is one counter a request is admitted against.
type Limit struct {
	// Key names the counter, e.g. "key:<hash>:rpm" or
	// "team:<id>:budget:<periodStart>". Callers build keys; stores only
	// prefix them. Keys within one Admit must be distinct.
	Key  string
	Kind Kind
	// Max is the limit: requests, tokens, slots or micro-dollars.
	Max int64
	// Amount is what this request takes: 1 request, estimated tokens, 1
	// slot, reserved micro-dollars. Zero only checks.
	Amount int64
	// Window is the window size for Requests/Tokens, the TTL of the period
	// key for Budget, and the safety TTL of leaked slots for Concurrency.
	Window time.Duration
	// Seed is where a Budget counter that does not exist yet starts: the
	// spend the ledger already holds for the period. Seeding inside the same
	// atomic step as the check means the first requests of a period (or
	// after a counter store lost its data) are checked against the real
	// spend, and concurrent first requests cannot each seed and overshoot.
	// Ignored for other kinds and for counters that exist.
	Seed int64
}

// Decision is the outcome of Admit. Callers may reuse one Decision across
// calls so Remaining's backing array is reused.
type Decision struct {
	Allowed bool
	// Denied is the index in limits of the first limit that denied, or −1.
	Denied int
	// RetryAfter is when the denying limit frees up: the next window start
	// for Requests/Tokens, 0 for Budget and Concurrency (which free up on
	// events, not on a clock).
	RetryAfter time.Duration
	// Remaining holds, per limit, what remains after this request (if
	// allowed) or now (if denied), never below 0; for x-ratelimit-* headers.
	Remaining []int64
}

// Change is one Adjust: settlement of a reservation (actual − reserved, for
// Tokens and Budget) or the release of a Concurrency slot (Delta −1).
//
// Tokens/Requests deltas apply to the window current at Adjust time. A
// request admitted in one window and settled in the next therefore corrects
// the new window: a refund there lets in at most that request's
// over-estimate extra (clamped at 0), the price of fixed windows without
// per-request state.
type Change struct {
	Key   string
	Kind  Kind
	Delta int64
	// Window is required for Requests/Tokens (it locates the current
	// window) and for positive deltas that may create the counter; it may
	// be zero when releasing a slot or refunding a budget.
	Window time.Duration
}

// Value overwrites one counter, e.g. when rebuilding from the ledger after a
// Redis loss or resetting a budget.
type Value struct {
	Key   string
	Kind  Kind
	Value int64
	// TTL is the window size for Requests/Tokens (the value goes into the
	// current window) and the counter's TTL for the others. It must be > 0
	// unless Value is 0, which deletes the counter.
	TTL time.Duration
}

// Store is a set of shared counters.
type Store interface {
	// Admit checks every limit and, only if all allow, applies every
	// Amount — atomically. d is filled in; its Remaining buffer is reused.
	Admit(ctx context.Context, limits []Limit, d *Decision) error
	// Adjust adds Delta to each counter (clamped at 0) in one atomic step
	// and one round-trip for the whole slice.
	Adjust(ctx context.Context, changes []Change) error
	// Get reads current values; missing or expired counters read as 0.
	Get(ctx context.Context, keys []string, kinds []Kind) ([]int64, error)
	// Set overwrites counters.
	Set(ctx context.Context, values []Value) error
}

var (
	// ErrUnavailable marks errors where the backing store could not be
	// reached or did not answer in time; policy decides fail-open or
	// fail-closed on it.
	ErrUnavailable = errors.New("counter: store unavailable")
	// ErrInvalid marks malformed arguments (a programming error).
	ErrInvalid = errors.New("counter: invalid argument")
)

// maxMagnitude bounds values so Lua's doubles stay exact (2^53).
const maxMagnitude = 1 << 53

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func validateLimits(limits []Limit) error {
	for i := range limits {
		l := &limits[i]
		switch {
		case l.Key == "":
			return invalid("limit %d: empty key", i)
		case !l.Kind.valid():
			return invalid("limit %d (%s): bad kind %v", i, l.Key, l.Kind)
		case l.Max < 0 || l.Max >= maxMagnitude:
			return invalid("limit %d (%s): max %d out of range", i, l.Key, l.Max)
		case l.Amount < 0 || l.Amount >= maxMagnitude:
			return invalid("limit %d (%s): amount %d out of range", i, l.Key, l.Amount)
		case l.Seed < 0 || l.Seed >= maxMagnitude:
			return invalid("limit %d (%s): seed %d out of range", i, l.Key, l.Seed)
		case l.Window < time.Millisecond:
			// Every kind needs a TTL: windows for Requests/Tokens, leak
			// expiry for Concurrency, period expiry for Budget.
			return invalid("limit %d (%s): window %v < 1ms", i, l.Key, l.Window)
		}
		// Duplicate keys would each pass the check against the same
		// current value and then both apply, overshooting Max. Limits per
		// request are few, so the quadratic scan is cheaper than a map.
		for j := range i {
			if limits[j].Key == l.Key {
				return invalid("limit %d: duplicate key %s", i, l.Key)
			}
		}
	}
	return nil
}

func validateChanges(changes []Change) error {
	for i := range changes {
		c := &changes[i]
		switch {
		case c.Key == "":
			return invalid("change %d: empty key", i)
		case !c.Kind.valid():
			return invalid("change %d (%s): bad kind %v", i, c.Key, c.Kind)
		case c.Delta <= -maxMagnitude || c.Delta >= maxMagnitude:
			return invalid("change %d (%s): delta %d out of range", i, c.Key, c.Delta)
		case c.Kind.windowed() && c.Window < time.Millisecond:
			return invalid("change %d (%s): window %v < 1ms", i, c.Key, c.Window)
		case c.Delta > 0 && c.Window < time.Millisecond:
			return invalid("change %d (%s): positive delta needs a window", i, c.Key)
		}
	}
	return nil
}

func validateGet(keys []string, kinds []Kind) error {
	if len(keys) != len(kinds) {
		return invalid("%d keys but %d kinds", len(keys), len(kinds))
	}
	for i, k := range keys {
		if k == "" {
			return invalid("key %d: empty", i)
		}
		if !kinds[i].valid() {
			return invalid("key %d (%s): bad kind %v", i, k, kinds[i])
		}
	}
	return nil
}

func validateValues(values []Value) error {
	for i := range values {
		v := &values[i]
		switch {
		case v.Key == "":
			return invalid("value %d: empty key", i)
		case !v.Kind.valid():
			return invalid("value %d (%s): bad kind %v", i, v.Key, v.Kind)
		case v.Value < 0 || v.Value >= maxMagnitude:
			return invalid("value %d (%s): value %d out of range", i, v.Key, v.Value)
		case v.Value > 0 && v.TTL < time.Millisecond:
			// A counter without expiry would outlive its window or period
			// forever; Value 0 deletes and needs no TTL.
			return invalid("value %d (%s): ttl %v < 1ms", i, v.Key, v.TTL)
		}
	}
	return nil
}

// resetDecision prepares d for n limits, reusing its Remaining buffer.
func resetDecision(d *Decision, n int) {
	d.Allowed = false
	d.Denied = -1
	d.RetryAfter = 0
	if cap(d.Remaining) < n {
		d.Remaining = make([]int64, n)
	}
	d.Remaining = d.Remaining[:n]
}
