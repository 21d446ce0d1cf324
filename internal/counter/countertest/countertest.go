// Package countertest is the contract suite every counter.Store must pass:
// all-or-nothing admission, exactness under concurrency, window roll-over,
// settlement and release, and Get/Set with TTLs. The same suite runs against
// the in-memory store and against Redis so both enforce identical semantics.
package countertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/counter"
)

// Sleeper is implemented by stores whose clock the test controls. The suite
// calls Sleep instead of time.Sleep when waiting for windows and TTLs, so a
// store with a fake clock runs the whole suite without real waiting.
type Sleeper interface {
	Sleep(d time.Duration)
}

// Run runs the contract suite. newStore must return a store isolated from
// every other call's (e.g. a fresh Memory, or Redis with a random prefix);
// subtests run in parallel, which keeps real-clock waits to about 2 s total.
func Run(t *testing.T, newStore func(t *testing.T) counter.Store) {
	t.Run("AllOrNothing", func(t *testing.T) { t.Parallel(); testAllOrNothing(t, newStore(t)) })
	t.Run("ConcurrencyDenialKeepsRPM", func(t *testing.T) { t.Parallel(); testConcurrencyDenialKeepsRPM(t, newStore(t)) })
	t.Run("EmptyAndInvalid", func(t *testing.T) { t.Parallel(); testEmptyAndInvalid(t, newStore(t)) })
	t.Run("BudgetExact", func(t *testing.T) { t.Parallel(); testBudgetExact(t, newStore(t)) })
	t.Run("BudgetSeed", func(t *testing.T) { t.Parallel(); testBudgetSeed(t, newStore(t)) })
	t.Run("RequestsExact", func(t *testing.T) { t.Parallel(); testRequestsExact(t, newStore(t)) })
	t.Run("ConcurrencyHighWater", func(t *testing.T) { t.Parallel(); testConcurrencyHighWater(t, newStore(t)) })
	t.Run("WindowRollover", func(t *testing.T) { t.Parallel(); testWindowRollover(t, newStore(t)) })
	t.Run("RetryAfterZeroForEventKinds", func(t *testing.T) { t.Parallel(); testRetryAfterZero(t, newStore(t)) })
	t.Run("AdjustSettle", func(t *testing.T) { t.Parallel(); testAdjustSettle(t, newStore(t)) })
	t.Run("AdjustRelease", func(t *testing.T) { t.Parallel(); testAdjustRelease(t, newStore(t)) })
	t.Run("GetSetTTL", func(t *testing.T) { t.Parallel(); testGetSetTTL(t, newStore(t)) })
	t.Run("AdmitTTL", func(t *testing.T) { t.Parallel(); testAdmitTTL(t, newStore(t)) })
}

const (
	// longWindow keeps exactness tests inside one window on a real clock:
	// epoch-aligned windows of ~1 year make a boundary during the test
	// practically impossible.
	longWindow = 24 * 365 * time.Hour
	// shortWindow is what roll-over and TTL tests wait for.
	shortWindow = time.Second
	// slack absorbs clock granularity (Redis works in milliseconds).
	slack = 60 * time.Millisecond
)

// key returns a key unique to this test run, so subtests never share
// counters even if a store implementation shares a prefix between them.
func key(t *testing.T, name string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return name + ":" + hex.EncodeToString(b[:])
}

func sleep(s counter.Store, d time.Duration) {
	if sl, ok := s.(Sleeper); ok {
		sl.Sleep(d)
		return
	}
	time.Sleep(d)
}

func admit(t *testing.T, s counter.Store, limits ...counter.Limit) counter.Decision {
	t.Helper()
	var d counter.Decision
	if err := s.Admit(context.Background(), limits, &d); err != nil {
		t.Fatalf("Admit: %v", err)
	}
	return d
}

func get(t *testing.T, s counter.Store, key string, kind counter.Kind) int64 {
	t.Helper()
	v, err := s.Get(context.Background(), []string{key}, []counter.Kind{kind})
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return v[0]
}

func adjust(t *testing.T, s counter.Store, changes ...counter.Change) {
	t.Helper()
	if err := s.Adjust(context.Background(), changes); err != nil {
		t.Fatalf("Adjust: %v", err)
	}
}

func wantRemaining(t *testing.T, d counter.Decision, want ...int64) {
	t.Helper()
	if len(d.Remaining) != len(want) {
		t.Fatalf("Remaining = %v, want %v", d.Remaining, want)
	}
	for i := range want {
		if d.Remaining[i] != want[i] {
			t.Fatalf("Remaining = %v, want %v", d.Remaining, want)
		}
	}
}

func testAllOrNothing(t *testing.T, s counter.Store) {
	rpm := counter.Limit{Key: key(t, "rpm"), Kind: counter.Requests, Max: 10, Amount: 1, Window: longWindow}
	tpm := counter.Limit{Key: key(t, "tpm"), Kind: counter.Tokens, Max: 100, Amount: 200, Window: longWindow}
	d := admit(t, s, rpm, tpm)
	if d.Allowed || d.Denied != 1 {
		t.Fatalf("tpm over limit: Allowed=%v Denied=%d, want denied by 1", d.Allowed, d.Denied)
	}
	wantRemaining(t, d, 10, 100)
	if v := get(t, s, rpm.Key, counter.Requests); v != 0 {
		t.Fatalf("rpm after denied admit = %d, want 0 (nothing consumed)", v)
	}

	tpm.Amount = 60
	d = admit(t, s, rpm, tpm)
	if !d.Allowed || d.Denied != -1 {
		t.Fatalf("Allowed=%v Denied=%d, want allowed", d.Allowed, d.Denied)
	}
	wantRemaining(t, d, 9, 40)
	d = admit(t, s, rpm, tpm)
	if d.Allowed || d.Denied != 1 {
		t.Fatalf("second 60 tokens of 100: Allowed=%v Denied=%d", d.Allowed, d.Denied)
	}
	wantRemaining(t, d, 9, 40)
	got, err := s.Get(context.Background(), []string{rpm.Key, tpm.Key}, []counter.Kind{counter.Requests, counter.Tokens})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 1 || got[1] != 60 {
		t.Fatalf("counters = %v, want [1 60]", got)
	}
}

// A request refused for lack of a parallel slot must not use up RPM
// (LiteLLM #39309, reliability row L5).
func testConcurrencyDenialKeepsRPM(t *testing.T, s counter.Store) {
	rpm := counter.Limit{Key: key(t, "rpm"), Kind: counter.Requests, Max: 100, Amount: 1, Window: longWindow}
	par := counter.Limit{Key: key(t, "par"), Kind: counter.Concurrency, Max: 1, Amount: 1, Window: time.Minute}
	if d := admit(t, s, rpm, par); !d.Allowed {
		t.Fatalf("first admit denied by %d", d.Denied)
	}
	d := admit(t, s, rpm, par)
	if d.Allowed || d.Denied != 1 {
		t.Fatalf("second admit: Allowed=%v Denied=%d, want denied by slot", d.Allowed, d.Denied)
	}
	if v := get(t, s, rpm.Key, counter.Requests); v != 1 {
		t.Fatalf("rpm = %d, want 1", v)
	}
}

func testEmptyAndInvalid(t *testing.T, s counter.Store) {
	ctx := context.Background()
	d := counter.Decision{Remaining: make([]int64, 8)}
	if err := s.Admit(ctx, nil, &d); err != nil || !d.Allowed || d.Denied != -1 || len(d.Remaining) != 0 {
		t.Fatalf("empty admit: %v %+v", err, d)
	}
	k := key(t, "k")
	bad := [][]counter.Limit{
		{{Key: "", Kind: counter.Requests, Max: 1, Amount: 1, Window: time.Second}},
		{{Key: k, Kind: 0, Max: 1, Amount: 1, Window: time.Second}},
		{{Key: k, Kind: counter.Requests, Max: 1, Amount: 1}},
		{{Key: k, Kind: counter.Requests, Max: -1, Amount: 1, Window: time.Second}},
		{{Key: k, Kind: counter.Budget, Max: 1, Amount: -1, Window: time.Second}},
		{
			{Key: k, Kind: counter.Requests, Max: 1, Amount: 1, Window: time.Second},
			{Key: k, Kind: counter.Requests, Max: 1, Amount: 1, Window: time.Second},
		},
	}
	for i, limits := range bad {
		if err := s.Admit(ctx, limits, &d); !errors.Is(err, counter.ErrInvalid) {
			t.Errorf("bad limits %d: err = %v, want ErrInvalid", i, err)
		}
	}
	if err := s.Adjust(ctx, []counter.Change{{Key: k, Kind: counter.Budget, Delta: 5}}); !errors.Is(err, counter.ErrInvalid) {
		t.Errorf("positive delta without window: err = %v, want ErrInvalid", err)
	}
	if err := s.Set(ctx, []counter.Value{{Key: k, Kind: counter.Budget, Value: 5}}); !errors.Is(err, counter.ErrInvalid) {
		t.Errorf("set without ttl: err = %v, want ErrInvalid", err)
	}
	if _, err := s.Get(ctx, []string{k}, nil); !errors.Is(err, counter.ErrInvalid) {
		t.Errorf("get with mismatched kinds: err = %v, want ErrInvalid", err)
	}
	if v := get(t, s, k, counter.Requests); v != 0 {
		t.Fatalf("invalid calls changed %s to %d", k, v)
	}
}

// admitConcurrently runs n Admits at once and returns how many were allowed.
func admitConcurrently(t *testing.T, s counter.Store, n int, limits ...counter.Limit) int64 {
	t.Helper()
	var allowed, failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			var d counter.Decision
			if err := s.Admit(context.Background(), limits, &d); err != nil {
				failed.Add(1)
				return
			}
			if d.Allowed {
				allowed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d Admits failed", f, n)
	}
	return allowed.Load()
}

// Reliability row B1: 200 concurrent requests against a budget of 10
// requests' cost admit exactly 10.
func testBudgetExact(t *testing.T, s counter.Store) {
	const amount = 12_345
	b := counter.Limit{Key: key(t, "budget"), Kind: counter.Budget, Max: 10 * amount, Amount: amount, Window: time.Hour}
	if got := admitConcurrently(t, s, 200, b); got != 10 {
		t.Fatalf("admitted %d of 200, want exactly 10", got)
	}
	if v := get(t, s, b.Key, counter.Budget); v != 10*amount {
		t.Fatalf("reserved %d, want %d", v, 10*amount)
	}
}

// A missing budget counter starts from the ledger's spend (Seed) within the
// same atomic step, so concurrent first requests of a period cannot each
// seed it and overshoot; once it exists the seed is ignored.
func testBudgetSeed(t *testing.T, s counter.Store) {
	const amount = 1_000
	b := counter.Limit{Key: key(t, "seeded"), Kind: counter.Budget, Max: 10 * amount, Amount: amount, Window: time.Hour, Seed: 7 * amount}
	if got := admitConcurrently(t, s, 200, b); got != 3 {
		t.Fatalf("admitted %d of 200 with 7 of 10 already spent, want exactly 3", got)
	}
	if v := get(t, s, b.Key, counter.Budget); v != 10*amount {
		t.Fatalf("counter %d, want %d", v, 10*amount)
	}
	adjust(t, s, counter.Change{Key: b.Key, Kind: counter.Budget, Delta: -5 * amount})
	b.Seed = 0 // an existing counter keeps its value whatever the caller seeds
	if d := admit(t, s, b); !d.Allowed || d.Remaining[0] != 4*amount {
		t.Fatalf("after a refund: allowed=%v remaining=%v, want allowed with %d left", d.Allowed, d.Remaining, 4*amount)
	}
	over := counter.Limit{Key: key(t, "overseeded"), Kind: counter.Budget, Max: amount, Amount: 1, Window: time.Hour, Seed: 2 * amount}
	if d := admit(t, s, over); d.Allowed || d.Remaining[0] != 0 {
		t.Fatalf("seeded over the budget: allowed=%v remaining=%v, want denied with 0 left", d.Allowed, d.Remaining)
	}
	if v := get(t, s, over.Key, counter.Budget); v != 0 {
		t.Fatalf("a denied admit created the counter (%d)", v)
	}
}

// Reliability row L1 in miniature: 3,000 concurrent requests against RPM
// 600 admit exactly 600, and the rejected ones consume nothing elsewhere.
func testRequestsExact(t *testing.T, s counter.Store) {
	rpm := counter.Limit{Key: key(t, "rpm"), Kind: counter.Requests, Max: 600, Amount: 1, Window: longWindow}
	team := counter.Limit{Key: key(t, "team-rpm"), Kind: counter.Requests, Max: 1_000_000, Amount: 1, Window: longWindow}
	if got := admitConcurrently(t, s, 3000, team, rpm); got != 600 {
		t.Fatalf("admitted %d of 3000, want exactly 600", got)
	}
	got, err := s.Get(context.Background(), []string{rpm.Key, team.Key}, []counter.Kind{counter.Requests, counter.Requests})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 600 || got[1] != 600 {
		t.Fatalf("counters = %v, want [600 600]", got)
	}
}

// Slots acquired and released by many goroutines are never over-granted.
func testConcurrencyHighWater(t *testing.T, s counter.Store) {
	const maxSlots, workers, rounds = 5, 40, 25
	par := counter.Limit{Key: key(t, "par"), Kind: counter.Concurrency, Max: maxSlots, Amount: 1, Window: time.Minute}
	release := []counter.Change{{Key: par.Key, Kind: counter.Concurrency, Delta: -1}}
	var held, high, admitted, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var d counter.Decision
			limits := []counter.Limit{par}
			for range rounds {
				if err := s.Admit(context.Background(), limits, &d); err != nil {
					failed.Add(1)
					return
				}
				if !d.Allowed {
					continue
				}
				admitted.Add(1)
				// held is raised after the slot is granted and lowered
				// before it is returned, so it never exceeds the slots
				// the store has actually handed out.
				h := held.Add(1)
				for {
					m := high.Load()
					if h <= m || high.CompareAndSwap(m, h) {
						break
					}
				}
				time.Sleep(50 * time.Microsecond)
				held.Add(-1)
				if err := s.Adjust(context.Background(), release); err != nil {
					failed.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d operations failed", f)
	}
	if h := high.Load(); h > maxSlots {
		t.Fatalf("high-water mark %d slots, limit %d", h, maxSlots)
	}
	if admitted.Load() == 0 {
		t.Fatal("no slot was ever granted")
	}
	if v := get(t, s, par.Key, counter.Concurrency); v != 0 {
		t.Fatalf("slots held after all releases = %d, want 0", v)
	}
}

func testWindowRollover(t *testing.T, s counter.Store) {
	for _, kind := range []counter.Kind{counter.Requests, counter.Tokens} {
		// The three admits below must land in one window; if a boundary
		// falls between them (rare with a 1 s window) try a fresh key.
		for attempt := 0; ; attempt++ {
			if attempt == 5 {
				t.Fatalf("%v: never saw a denial within one window", kind)
			}
			l := counter.Limit{Key: key(t, "win"), Kind: kind, Max: 20, Amount: 10, Window: shortWindow}
			if d := admit(t, s, l); !d.Allowed {
				t.Fatalf("%v: first admit denied", kind)
			}
			if d := admit(t, s, l); !d.Allowed {
				continue
			}
			d := admit(t, s, l)
			if d.Allowed {
				continue
			}
			if d.Denied != 0 || d.RetryAfter <= 0 || d.RetryAfter > shortWindow {
				t.Fatalf("%v: Denied=%d RetryAfter=%v, want 0 and (0, %v]", kind, d.Denied, d.RetryAfter, shortWindow)
			}
			wantRemaining(t, d, 0)
			sleep(s, d.RetryAfter+slack)
			d = admit(t, s, l)
			if !d.Allowed {
				t.Fatalf("%v: denied after waiting RetryAfter", kind)
			}
			wantRemaining(t, d, 10)
			break
		}
	}
}

// Budgets and slots free up on events (settlement, release, period reset),
// not on a clock, so there is no honest RetryAfter to give.
func testRetryAfterZero(t *testing.T, s counter.Store) {
	for _, kind := range []counter.Kind{counter.Budget, counter.Concurrency} {
		l := counter.Limit{Key: key(t, "ev"), Kind: kind, Max: 1, Amount: 1, Window: time.Minute}
		admit(t, s, l)
		d := admit(t, s, l)
		if d.Allowed || d.RetryAfter != 0 {
			t.Fatalf("%v: Allowed=%v RetryAfter=%v, want denied with 0", kind, d.Allowed, d.RetryAfter)
		}
	}
}

func testAdjustSettle(t *testing.T, s counter.Store) {
	b := counter.Limit{Key: key(t, "budget"), Kind: counter.Budget, Max: 1000, Amount: 500, Window: time.Hour}
	tok := counter.Limit{Key: key(t, "tpm"), Kind: counter.Tokens, Max: 1000, Amount: 100, Window: longWindow}
	if d := admit(t, s, b, tok); !d.Allowed {
		t.Fatalf("admit denied by %d", d.Denied)
	}
	// Settle down: the request cost less than reserved.
	adjust(t, s,
		counter.Change{Key: b.Key, Kind: counter.Budget, Delta: -200},
		counter.Change{Key: tok.Key, Kind: counter.Tokens, Delta: 50, Window: longWindow})
	if v := get(t, s, b.Key, counter.Budget); v != 300 {
		t.Fatalf("budget after settling down = %d, want 300", v)
	}
	if v := get(t, s, tok.Key, counter.Tokens); v != 150 {
		t.Fatalf("tokens after correction = %d, want 150", v)
	}
	// Settle up: more than reserved (e.g. an estimate that was too low).
	adjust(t, s, counter.Change{Key: b.Key, Kind: counter.Budget, Delta: 400, Window: time.Hour})
	if v := get(t, s, b.Key, counter.Budget); v != 700 {
		t.Fatalf("budget after settling up = %d, want 700", v)
	}
	if d := admit(t, s, b); d.Allowed {
		t.Fatal("500 more fits in 1000 with 700 spent")
	}
	// Over-refund clamps at zero instead of granting credit.
	adjust(t, s, counter.Change{Key: b.Key, Kind: counter.Budget, Delta: -5000})
	if v := get(t, s, b.Key, counter.Budget); v != 0 {
		t.Fatalf("budget after over-refund = %d, want 0", v)
	}
	b.Amount = 1000
	if d := admit(t, s, b); !d.Allowed {
		t.Fatal("full budget after refund denied")
	}
	b.Amount = 1
	if d := admit(t, s, b); d.Allowed {
		t.Fatal("refund granted credit below zero")
	}
}

func testAdjustRelease(t *testing.T, s counter.Store) {
	par := counter.Limit{Key: key(t, "par"), Kind: counter.Concurrency, Max: 1, Amount: 1, Window: time.Minute}
	rel := counter.Change{Key: par.Key, Kind: counter.Concurrency, Delta: -1}
	if d := admit(t, s, par); !d.Allowed {
		t.Fatal("first slot denied")
	}
	if d := admit(t, s, par); d.Allowed {
		t.Fatal("second slot granted with max 1")
	}
	adjust(t, s, rel)
	if d := admit(t, s, par); !d.Allowed {
		t.Fatal("slot denied after release")
	}
	// Double release (e.g. a defer plus an error path) must not go below
	// zero, or the next admits would over-grant.
	adjust(t, s, rel, counter.Change{Key: key(t, "unknown"), Kind: counter.Concurrency, Delta: -1})
	adjust(t, s, rel)
	if v := get(t, s, par.Key, counter.Concurrency); v != 0 {
		t.Fatalf("slots after double release = %d, want 0", v)
	}
	if d := admit(t, s, par); !d.Allowed {
		t.Fatal("slot denied after double release")
	}
	if d := admit(t, s, par); d.Allowed {
		t.Fatal("double release granted an extra slot")
	}
}

func testGetSetTTL(t *testing.T, s counter.Store) {
	ctx := context.Background()
	keys := []string{key(t, "budget"), key(t, "rpm"), key(t, "par"), key(t, "long"), key(t, "missing")}
	kinds := []counter.Kind{counter.Budget, counter.Requests, counter.Concurrency, counter.Budget, counter.Budget}
	err := s.Set(ctx, []counter.Value{
		{Key: keys[0], Kind: kinds[0], Value: 123, TTL: shortWindow},
		{Key: keys[1], Kind: kinds[1], Value: 5, TTL: shortWindow},
		{Key: keys[2], Kind: kinds[2], Value: 2, TTL: shortWindow},
		{Key: keys[3], Kind: kinds[3], Value: 7, TTL: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, keys, kinds)
	if err != nil {
		t.Fatal(err)
	}
	// keys[1] is windowed: a boundary may already have passed.
	if got[0] != 123 || (got[1] != 5 && got[1] != 0) || got[2] != 2 || got[3] != 7 || got[4] != 0 {
		t.Fatalf("Get = %v, want [123 5 2 7 0]", got)
	}
	// Set overwrites and is what admission sees.
	if err := s.Set(ctx, []counter.Value{{Key: keys[3], Kind: counter.Budget, Value: 95, TTL: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	b := counter.Limit{Key: keys[3], Kind: counter.Budget, Max: 100, Amount: 6, Window: time.Hour}
	if d := admit(t, s, b); d.Allowed {
		t.Fatal("admitted 6 over a Set value of 95 with max 100")
	}
	// Value 0 deletes (budget reset).
	if err := s.Set(ctx, []counter.Value{{Key: keys[3], Kind: counter.Budget}}); err != nil {
		t.Fatal(err)
	}
	if v := get(t, s, keys[3], counter.Budget); v != 0 {
		t.Fatalf("after reset = %d, want 0", v)
	}
	sleep(s, shortWindow+slack)
	if got, err = s.Get(ctx, keys[:3], kinds[:3]); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != 0 {
			t.Fatalf("%s (%v) = %d after its TTL, want 0", keys[i], kinds[i], v)
		}
	}
}

// Counters created by Admit and Adjust carry TTLs: budget periods end, and a
// slot leaked by a crashed replica frees itself (reliability row L4).
func testAdmitTTL(t *testing.T, s counter.Store) {
	b := counter.Limit{Key: key(t, "budget"), Kind: counter.Budget, Max: 10, Amount: 10, Window: shortWindow}
	par := counter.Limit{Key: key(t, "par"), Kind: counter.Concurrency, Max: 1, Amount: 1, Window: shortWindow}
	created := key(t, "adjusted")
	if d := admit(t, s, b, par); !d.Allowed {
		t.Fatal("denied")
	}
	adjust(t, s, counter.Change{Key: created, Kind: counter.Budget, Delta: 3, Window: shortWindow})
	if v := get(t, s, created, counter.Budget); v != 3 {
		t.Fatalf("counter created by Adjust = %d, want 3", v)
	}
	if d := admit(t, s, b, par); d.Allowed {
		t.Fatal("admitted over budget and slot")
	}
	sleep(s, shortWindow+slack)
	if d := admit(t, s, b, par); !d.Allowed {
		t.Fatalf("after TTL: denied by %d, want leaked slot and old period gone", d.Denied)
	}
	if v := get(t, s, created, counter.Budget); v != 0 {
		t.Fatalf("counter created by Adjust = %d after its TTL, want 0", v)
	}
}
