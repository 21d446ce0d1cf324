package policy

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	l := New(counter.NewMemory(nil), nil, nil)
	p := principal(store.Key{RPMLimit: ptr(2)})
	var a Admission
	for i := 0; i < 2; i++ {
		if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Tokens: 10}, &a); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		l.Settle(context.Background(), &a, 10, 0)
	}
	err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Tokens: 10}, &a)
	if e := provider.AsError(err); err == nil || e.Status != 429 || e.RetryAfter <= 0 || a.Held() {
		t.Fatalf("third request: %v (retry after %v), held %v", err, e.RetryAfter, a.Held())
	}
}

func TestParallelSlotsAreReleased(t *testing.T) {
	l := New(counter.NewMemory(nil), nil, nil)
	p := principal(store.Key{MaxParallelRequests: ptr(1)})
	var first, second Admission
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Tokens: 0}, &first); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Tokens: 0}, &second); err == nil {
		t.Fatal("a second parallel request was admitted")
	}
	l.Settle(context.Background(), &first, 0, 0)
	l.Settle(context.Background(), &first, 0, 0) // settling twice must not free a slot twice
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Tokens: 0}, &second); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// A request refused by one limit consumes nothing from the others.
func TestAllOrNothing(t *testing.T) {
	c := counter.NewMemory(nil)
	l := New(c, nil, nil)
	p := principal(store.Key{RPMLimit: ptr(10), TPMLimit: ptr(100)})
	var a Admission
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Tokens: 500}, &a); err == nil {
		t.Fatal("over the token limit but admitted")
	}
	got, err := c.Get(context.Background(), []string{"k:abc:rpm"}, []counter.Kind{counter.Requests})
	if err != nil || got[0] != 0 {
		t.Fatalf("rpm counter after a refusal = %v, %v; want 0", got, err)
	}
}

func TestTokensAreSettledToActualUsage(t *testing.T) {
	c := counter.NewMemory(nil)
	l := New(c, nil, nil)
	p := principal(store.Key{TPMLimit: ptr(1000)})
	var a Admission
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Tokens: 400}, &a); err != nil {
		t.Fatal(err)
	}
	if lr, rr, lt, rt := a.Headers(); lr != -1 || rr != -1 || lt != 1000 || rt != 600 {
		t.Errorf("headers %d %d %d %d", lr, rr, lt, rt)
	}
	l.Settle(context.Background(), &a, 25, 0)
	got, _ := c.Get(context.Background(), []string{"k:abc:tpm"}, []counter.Kind{counter.Tokens})
	if got[0] != 25 {
		t.Fatalf("tpm after settling = %d, want 25", got[0])
	}
}

func TestPerModelLimitsAndNoKey(t *testing.T) {
	l := New(counter.NewMemory(nil), nil, nil)
	p := principal(store.Key{ModelRPMLimit: map[string]int64{"gpt": 1}})
	var a Admission
	for _, model := range []string{"gpt", "claude", "claude"} {
		if err := l.Admit(context.Background(), &Request{Principal: p, Model: model, Tokens: 0}, &a); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
	}
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "gpt", Tokens: 0}, &a); err == nil {
		t.Fatal("per-model limit not enforced")
	}
	if err := l.Admit(context.Background(), &Request{Principal: &auth.Principal{Admin: true}, Model: "gpt", Tokens: 0}, &a); err != nil || a.Held() {
		t.Fatalf("master key: %v", err)
	}
	var none *Limiter
	if err := none.Admit(context.Background(), &Request{Principal: p, Model: "gpt", Tokens: 0}, &a); err != nil {
		t.Fatal(err)
	}
	none.Settle(context.Background(), &a, 0, 0)
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

// While the shared counters are unreachable each replica enforces its
// share of every rate limit and budgets refuse; both return to normal when
// the counters do.
func TestDegraded(t *testing.T) {
	f := &flaky{Store: counter.NewMemory(nil), down: true}
	l := New(f, nil, nil)
	l.SetReplicas(2)
	p := principal(store.Key{RPMLimit: ptr(4)})
	var a Admission
	for i := range 2 {
		if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m"}, &a); err != nil {
			t.Fatalf("request %d during the outage: %v", i+1, err)
		}
		l.Settle(context.Background(), &a, 0, 0)
	}
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m"}, &a); provider.AsError(err).Status != 429 {
		t.Fatalf("third request on a replica with half of rpm 4: %v", err)
	}
	if !l.Degraded() {
		t.Error("the outage is not reported")
	}
	budgeted := principal(store.Key{TokenHash: "b", MaxBudget: ptr(1_000_000)})
	if err := l.Admit(context.Background(), &Request{Principal: budgeted, Model: "m", Reserve: 10}, &a); provider.AsError(err).Status != 503 || a.Held() {
		t.Fatalf("a budget during the outage: %v", err)
	}
	f.down = false
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m"}, &a); err != nil {
		t.Fatal(err)
	}
	if l.Degraded() {
		t.Error("still degraded after recovery")
	}
	if err := l.Admit(context.Background(), &Request{Principal: budgeted, Model: "m", Reserve: 10}, &a); err != nil {
		t.Fatalf("budget after recovery: %v", err)
	}
}

// Reliability row B1: 200 concurrent requests on a budget that covers
// exactly 10 reservations admit exactly 10; settling to a lower actual cost
// frees the difference.
func TestBudgetReservations(t *testing.T) {
	c := counter.NewMemory(nil)
	l := New(c, nil, nil)
	p := principal(store.Key{MaxBudget: ptr(10_000)})
	var wg sync.WaitGroup
	var admitted atomic.Int64
	held := make([]*Admission, 200)
	for i := range held {
		held[i] = new(Admission)
		wg.Go(func() {
			err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Reserve: 1000}, held[i])
			switch e := provider.AsError(err); {
			case err == nil:
				admitted.Add(1)
			case e.Status != 400 || e.Type != "budget_exceeded":
				t.Errorf("refusal: %v", err)
			}
		})
	}
	wg.Wait()
	if admitted.Load() != 10 {
		t.Fatalf("admitted %d of 200, want exactly 10", admitted.Load())
	}
	for _, a := range held {
		l.Settle(context.Background(), a, 0, 900)
	}
	var a Admission
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Reserve: 1000}, &a); err != nil {
		t.Fatalf("1,000 left after settling 10 × 900: %v", err)
	}
	err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Reserve: 1000}, &a)
	msg := provider.AsError(err).Message
	for _, want := range []string{"Budget has been exceeded!", "Current cost: 0.01", "Max budget: 0.01"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}

// The counter starts from the spend the record holds for the period, and
// a request whose worst case does not fit is told why.
func TestBudgetSeededFromTheRecord(t *testing.T) {
	now := time.Now()
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	l := New(counter.NewMemory(nil), nil, nil)
	var a Admission
	current := principal(store.Key{TokenHash: "cur", MaxBudget: ptr(10_000), Spend: 9_500, BudgetDuration: "1d", BudgetResetAt: &later})
	err := l.Admit(context.Background(), &Request{Principal: current, Model: "m", Reserve: 1000}, &a)
	if e := provider.AsError(err); e.Type != "budget_exceeded" || !strings.Contains(e.Message, "lower max_tokens") {
		t.Fatalf("worst case over the remaining budget: %v", err)
	}
	if err := l.Admit(context.Background(), &Request{Principal: current, Model: "m", Reserve: 500}, &a); err != nil {
		t.Fatalf("a request that fits: %v", err)
	}
	// A record whose reset time has passed was read before the reset job
	// ran: its spend belongs to the last period.
	stale := principal(store.Key{TokenHash: "stale", MaxBudget: ptr(10_000), Spend: 10_000, BudgetDuration: "1d", BudgetResetAt: &earlier})
	if err := l.Admit(context.Background(), &Request{Principal: stale, Model: "m", Reserve: 1000}, &a); err != nil {
		t.Fatalf("a new period: %v", err)
	}
	// Spent exactly the budget: refused even with nothing to reserve.
	spent := principal(store.Key{TokenHash: "spent", MaxBudget: ptr(10_000), Spend: 10_000})
	if err := l.Admit(context.Background(), &Request{Principal: spent, Model: "m"}, &a); provider.AsError(err).Type != "budget_exceeded" {
		t.Fatalf("a used-up budget admitted an unpriced request: %v", err)
	}
	// ForgetBudget (an admin reset the spend) re-seeds from the record.
	if err := l.ForgetBudget(context.Background(), store.EntityKey, "spent", "", nil); err != nil {
		t.Fatal(err)
	}
	reset := principal(store.Key{TokenHash: "spent", MaxBudget: ptr(10_000)})
	if err := l.Admit(context.Background(), &Request{Principal: reset, Model: "m", Reserve: 1000}, &a); err != nil {
		t.Fatalf("after the spend was reset: %v", err)
	}
}

// Teams, users and end users have limits and budgets of their own, checked
// together with the key's; a refusal names who refused.
func TestTeamUserAndEndUser(t *testing.T) {
	l := New(counter.NewMemory(nil), nil, nil)
	p := &auth.Principal{Key: &store.Key{TokenHash: "k"},
		Team: &store.Team{TeamID: "t1", RPMLimit: ptr(3)},
		User: &store.User{UserID: "u1", MaxBudget: ptr(5_000)}}
	c := &store.Customer{UserID: "c1", RPMLimit: ptr(1)}
	var a Admission
	if err := l.Admit(context.Background(), &Request{Principal: p, Customer: c, Model: "m", Reserve: 1000}, &a); err != nil {
		t.Fatal(err)
	}
	err := l.Admit(context.Background(), &Request{Principal: p, Customer: c, Model: "m", Reserve: 1000}, &a)
	if e := provider.AsError(err); e.Status != 429 || !strings.Contains(e.Message, "end user c1") {
		t.Fatalf("end user rpm 1: %v", err)
	}
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Reserve: 1000}, &a); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Reserve: 4000}, &a); provider.AsError(err).Type != "budget_exceeded" {
		t.Fatalf("user budget: %v", err)
	}
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Reserve: 1000}, &a); err != nil {
		t.Fatal(err)
	}
	err = l.Admit(context.Background(), &Request{Principal: p, Model: "m"}, &a)
	if e := provider.AsError(err); e.Status != 429 || !strings.Contains(e.Message, "team t1") {
		t.Fatalf("team rpm 3: %v", err)
	}
}

type ledgerFunc func(keyHash, model string, since time.Time) (int64, error)

func (f ledgerFunc) KeyModelSpend(_ context.Context, keyHash, model string, since time.Time) (int64, error) {
	return f(keyHash, model, since)
}

// A key's per-model budget starts from the ledger's spend for the period,
// read once per period and process.
func TestModelMaxBudget(t *testing.T) {
	var calls int
	var since time.Time
	l := New(counter.NewMemory(nil), ledgerFunc(func(_, model string, s time.Time) (int64, error) {
		calls++
		since = s
		return 8_000, nil
	}), nil)
	p := principal(store.Key{ModelMaxBudget: map[string]store.ModelBudget{"gpt": {MaxBudget: 10_000, BudgetDuration: "1d"}}})
	var a Admission
	for range 2 {
		if err := l.Admit(context.Background(), &Request{Principal: p, Model: "gpt", Reserve: 1000}, &a); err != nil {
			t.Fatal(err)
		}
	}
	err := l.Admit(context.Background(), &Request{Principal: p, Model: "gpt", Reserve: 1000}, &a)
	if e := provider.AsError(err); e.Type != "budget_exceeded" || !strings.Contains(e.Message, "model=gpt") {
		t.Fatalf("third request: %v", err)
	}
	if err := l.Admit(context.Background(), &Request{Principal: p, Model: "claude", Reserve: 1000}, &a); err != nil {
		t.Fatalf("another model: %v", err)
	}
	if start, _, _ := store.Period(time.Now(), "1d"); calls != 1 || !since.Equal(start) {
		t.Errorf("ledger asked %d times since %v, want once since %v", calls, since, start)
	}
}

// soft_budget logs one alert per period once the spend reaches it.
func TestSoftBudgetAlert(t *testing.T) {
	var logs strings.Builder
	l := New(counter.NewMemory(nil), nil, slog.New(slog.NewTextHandler(&logs, nil)))
	p := principal(store.Key{SoftBudget: ptr(1_500)})
	var a Admission
	for range 4 {
		if err := l.Admit(context.Background(), &Request{Principal: p, Model: "m", Reserve: 1000}, &a); err != nil {
			t.Fatal(err)
		}
		l.Settle(context.Background(), &a, 0, 1000)
	}
	if n := strings.Count(logs.String(), "soft_budget_crossed"); n != 1 {
		t.Errorf("%d alerts, want 1:\n%s", n, logs.String())
	}
}

// A fallback to a pricier deployment extends the reservation: the budget
// is checked again for the difference, and a refusal leaves the admission
// holding what it held.
func TestExtendReservation(t *testing.T) {
	c := counter.NewMemory(nil)
	l := New(c, nil, nil)
	p := principal(store.Key{MaxBudget: ptr(10_000)})
	ctx := context.Background()
	var a, b Admission
	if err := l.Admit(ctx, &Request{Principal: p, Model: "m", Reserve: 3000}, &a); err != nil {
		t.Fatal(err)
	}
	if err := l.Extend(ctx, &a, 1000); err != nil {
		t.Fatalf("a smaller worst case needs nothing more: %v", err)
	}
	if err := l.Extend(ctx, &a, 6000); err != nil {
		t.Fatalf("6,000 of 10,000: %v", err)
	}
	if err := l.Admit(ctx, &Request{Principal: p, Model: "m", Reserve: 5000}, &b); err == nil {
		t.Fatal("the extended reservation was not counted: a second request for 5,000 was admitted")
	}
	err := l.Extend(ctx, &a, 12_000)
	if e := provider.AsError(err); err == nil || e.Type != "budget_exceeded" {
		t.Fatalf("extending past the budget: %v", err)
	}
	l.Settle(ctx, &a, 0, 2000)
	got, err := c.Get(ctx, []string{"k:abc:budget"}, []counter.Kind{counter.Budget})
	if err != nil || got[0] != 2000 {
		t.Fatalf("after settling at 2,000 the budget counter is %v (%v); the refused extension leaked or the extension was not settled", got, err)
	}
	var none Admission
	if err := l.Extend(ctx, &none, 5000); err != nil {
		t.Fatalf("an admission holding nothing: %v", err)
	}
}
