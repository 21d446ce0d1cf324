package policy

import (
	"context"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/store"
)

func ptr(v int64) *int64 { return &v }

func principal(k store.Key) *auth.Principal {
	if k.TokenHash == "" {
		k.TokenHash = "abc"
	}
	return &auth.Principal{Key: &k}
}

func TestRequestsPerMinute(t *testing.T) {
	l := New(counter.NewMemory(nil), nil)
	p := principal(store.Key{RPMLimit: ptr(2)})
	var a Admission
	for i := 0; i < 2; i++ {
		if err := l.Admit(context.Background(), p, "m", 10, &a); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		l.Settle(context.Background(), &a, 10)
	}
	err := l.Admit(context.Background(), p, "m", 10, &a)
	if e := provider.AsError(err); err == nil || e.Status != 429 || e.RetryAfter <= 0 || a.Held() {
		t.Fatalf("third request: %v (retry after %v), held %v", err, e.RetryAfter, a.Held())
	}
}

func TestParallelSlotsAreReleased(t *testing.T) {
	l := New(counter.NewMemory(nil), nil)
	p := principal(store.Key{MaxParallelRequests: ptr(1)})
	var first, second Admission
	if err := l.Admit(context.Background(), p, "m", 0, &first); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(context.Background(), p, "m", 0, &second); err == nil {
		t.Fatal("a second parallel request was admitted")
	}
	l.Settle(context.Background(), &first, 0)
	l.Settle(context.Background(), &first, 0) // settling twice must not free a slot twice
	if err := l.Admit(context.Background(), p, "m", 0, &second); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// A request refused by one limit consumes nothing from the others.
func TestAllOrNothing(t *testing.T) {
	c := counter.NewMemory(nil)
	l := New(c, nil)
	p := principal(store.Key{RPMLimit: ptr(10), TPMLimit: ptr(100)})
	var a Admission
	if err := l.Admit(context.Background(), p, "m", 500, &a); err == nil {
		t.Fatal("over the token limit but admitted")
	}
	got, err := c.Get(context.Background(), []string{"{k:abc}:rpm"}, []counter.Kind{counter.Requests})
	if err != nil || got[0] != 0 {
		t.Fatalf("rpm counter after a refusal = %v, %v; want 0", got, err)
	}
}

func TestTokensAreSettledToActualUsage(t *testing.T) {
	c := counter.NewMemory(nil)
	l := New(c, nil)
	p := principal(store.Key{TPMLimit: ptr(1000)})
	var a Admission
	if err := l.Admit(context.Background(), p, "m", 400, &a); err != nil {
		t.Fatal(err)
	}
	if lr, rr, lt, rt := a.Headers(); lr != -1 || rr != -1 || lt != 1000 || rt != 600 {
		t.Errorf("headers %d %d %d %d", lr, rr, lt, rt)
	}
	l.Settle(context.Background(), &a, 25)
	got, _ := c.Get(context.Background(), []string{"{k:abc}:tpm"}, []counter.Kind{counter.Tokens})
	if got[0] != 25 {
		t.Fatalf("tpm after settling = %d, want 25", got[0])
	}
}

func TestPerModelLimitsAndNoKey(t *testing.T) {
	l := New(counter.NewMemory(nil), nil)
	p := principal(store.Key{ModelRPMLimit: map[string]int64{"gpt": 1}})
	var a Admission
	for _, model := range []string{"gpt", "claude", "claude"} {
		if err := l.Admit(context.Background(), p, model, 0, &a); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
	}
	if err := l.Admit(context.Background(), p, "gpt", 0, &a); err == nil {
		t.Fatal("per-model limit not enforced")
	}
	if err := l.Admit(context.Background(), &auth.Principal{Admin: true}, "gpt", 0, &a); err != nil || a.Held() {
		t.Fatalf("master key: %v", err)
	}
	var none *Limiter
	if err := none.Admit(context.Background(), p, "gpt", 0, &a); err != nil {
		t.Fatal(err)
	}
	none.Settle(context.Background(), &a, 0)
}

// flaky is a counter store that can be switched off like a Redis outage.
type flaky struct {
	counter.Store
	down bool
}

func (f *flaky) Admit(ctx context.Context, l []counter.Limit, d *counter.Decision) error {
	if f.down {
		return counter.ErrUnavailable
	}
	return f.Store.Admit(ctx, l, d)
}

// Rate limits fail open while the counters are unreachable, and are
// enforced again when they return.
func TestFailOpen(t *testing.T) {
	f := &flaky{Store: counter.NewMemory(nil), down: true}
	l := New(f, nil)
	p := principal(store.Key{RPMLimit: ptr(1)})
	var a Admission
	for i := 0; i < 3; i++ {
		if err := l.Admit(context.Background(), p, "m", 0, &a); err != nil {
			t.Fatalf("during the outage: %v", err)
		}
	}
	if !l.FailingOpen() {
		t.Error("the outage is not reported")
	}
	f.down = false
	if err := l.Admit(context.Background(), p, "m", 0, &a); err != nil {
		t.Fatal(err)
	}
	if l.FailingOpen() {
		t.Error("still failing open after recovery")
	}
	if err := l.Admit(context.Background(), p, "m", 0, &a); err == nil {
		t.Error("limit not enforced after recovery")
	}
}
