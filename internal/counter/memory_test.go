package counter_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/counter/countertest"
)

// fakeClock lets the contract suite step across windows and TTLs instantly.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// memoryWithClock is a Memory whose Sleep advances its own clock, which is
// how countertest.Sleeper finds the clock.
type memoryWithClock struct {
	*counter.Memory
	*fakeClock
}

func newFakeMemory() memoryWithClock {
	// Deliberately not aligned to a minute, so windows start mid-way.
	c := &fakeClock{t: time.Unix(1_700_000_017, 123_456_789)}
	return memoryWithClock{counter.NewMemory(c.Now), c}
}

func TestMemoryContract(t *testing.T) {
	countertest.Run(t, func(t *testing.T) counter.Store { return newFakeMemory() })
}

func TestMemoryWindowAligned(t *testing.T) {
	s := newFakeMemory()
	l := []counter.Limit{{Key: "rpm", Kind: counter.Requests, Max: 1, Amount: 1, Window: time.Minute}}
	var d counter.Decision
	if err := s.Admit(context.Background(), l, &d); err != nil || !d.Allowed {
		t.Fatalf("first: %v %+v", err, d)
	}
	if err := s.Admit(context.Background(), l, &d); err != nil || d.Allowed {
		t.Fatalf("second: %v %+v", err, d)
	}
	// The clock starts 37.123456789 s into a minute.
	if want := 60*time.Second - 37123456789*time.Nanosecond; d.RetryAfter != want {
		t.Fatalf("RetryAfter = %v, want %v (time to the next aligned minute)", d.RetryAfter, want)
	}
}

// Expired counters (one per end user per window, say) must not pile up.
func TestMemorySweepBoundsGrowth(t *testing.T) {
	s := newFakeMemory()
	var d counter.Decision
	l := []counter.Limit{{Kind: counter.Requests, Max: 10, Amount: 1, Window: time.Second}}
	for i := range 100_000 {
		l[0].Key = "user:" + string(rune('a'+i%26)) + ":" + time.Duration(i).String()
		if err := s.Admit(context.Background(), l, &d); err != nil {
			t.Fatal(err)
		}
		s.Sleep(time.Millisecond) // ~1,000 live keys at any time
	}
	if n := s.Len(); n > 5_000 {
		t.Fatalf("%d counters stored with ~1,000 live, sweep is not keeping up", n)
	}
}

func TestMemoryAdmitAllocs(t *testing.T) {
	s := counter.NewMemory(nil)
	limits := fiveLimits("k1")
	var d counter.Decision
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := s.Admit(ctx, limits, &d); err != nil || !d.Allowed {
			t.Fatalf("%v %+v", err, d)
		}
	})
	if allocs != 0 {
		t.Fatalf("Admit allocates %.1f times per call in steady state, want 0", allocs)
	}
}
