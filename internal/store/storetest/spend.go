package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

func seedOwners(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	must(t, s.CreateKey(ctx, &store.Key{TokenHash: hash(1), TeamID: "T", UserID: "U"}))
	must(t, s.CreateTeam(ctx, &store.Team{TeamID: "T"}))
	must(t, s.CreateUser(ctx, &store.User{UserID: "U"}))
}

type spends struct{ key, team, user, customer int64 }

func entitySpend(t *testing.T, s store.Store, customer string) spends {
	t.Helper()
	ctx := context.Background()
	k, err := s.GetKey(ctx, hash(1))
	must(t, err)
	tm, err := s.GetTeam(ctx, "T")
	must(t, err)
	u, err := s.GetUser(ctx, "U")
	must(t, err)
	out := spends{key: k.Spend, team: tm.Spend, user: u.Spend}
	if customer != "" {
		c, err := s.GetCustomer(ctx, customer)
		must(t, err)
		out.customer = c.Spend
	}
	return out
}

func report(t *testing.T, s store.Store, f store.ReportFilter) []store.ReportRow {
	t.Helper()
	rs, err := s.SpendReport(context.Background(), f)
	must(t, err)
	return rs
}

func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func testSpend(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedOwners(t, s)
	d1 := day0()
	d2 := day0().Add(24 * time.Hour)
	base := store.SpendRow{KeyHash: hash(1), TeamID: "T", UserID: "U", EndUser: "cust", ModelGroup: "gpt", StartTime: d1, EndTime: d1.Add(time.Second)}
	r1, r2, r3 := base, base, base
	r1.RequestID, r1.Cost, r1.PromptTokens, r1.CompletionTokens, r1.Tags = "r1", 100, 10, 5, []string{"a", "b", "a"}
	r2.RequestID, r2.Status, r2.UserID, r2.EndUser = "r2", store.StatusError, "", ""
	r3.RequestID, r3.Cost, r3.ModelGroup, r3.StartTime, r3.Tags, r3.UserID = "r3", 50, "claude", d2, []string{"b"}, ""
	n, err := s.InsertSpend(ctx, []store.SpendRow{r1, r2, r3, r1})
	must(t, err)
	if n != 3 {
		t.Fatalf("inserted %d, want 3", n)
	}
	// The customer was created on first sight.
	equal(t, "entity spend", entitySpend(t, s, "cust"), spends{key: 150, team: 150, user: 100, customer: 150})

	D1, D2 := utcDay(d1), utcDay(d2)
	equal(t, "model report", report(t, s, store.ReportFilter{GroupBy: store.EntityModel}), []store.ReportRow{
		{Day: D1, GroupID: "gpt", Spend: 100, PromptTokens: 10, CompletionTokens: 5, Requests: 2, FailedRequests: 1},
		{Day: D2, GroupID: "claude", Spend: 50, Requests: 1},
	})
	equal(t, "tag report", report(t, s, store.ReportFilter{GroupBy: store.EntityTag}), []store.ReportRow{
		{Day: D1, GroupID: "a", Spend: 100, PromptTokens: 10, CompletionTokens: 5, Requests: 1},
		{Day: D1, GroupID: "b", Spend: 100, PromptTokens: 10, CompletionTokens: 5, Requests: 1},
		{Day: D2, GroupID: "b", Spend: 50, Requests: 1},
	})
	equal(t, "key report from D2", report(t, s, store.ReportFilter{GroupBy: store.EntityKey, From: d2}), []store.ReportRow{
		{Day: D2, GroupID: hash(1), Spend: 50, Requests: 1},
	})
	equal(t, "user report to D1", report(t, s, store.ReportFilter{GroupBy: store.EntityUser, To: d1}), []store.ReportRow{
		{Day: D1, GroupID: "U", Spend: 100, PromptTokens: 10, CompletionTokens: 5, Requests: 1},
	})
	equal(t, "end user report", report(t, s, store.ReportFilter{GroupBy: store.EntityEndUser, From: d1, To: d2}), []store.ReportRow{
		{Day: D1, GroupID: "cust", Spend: 100, PromptTokens: 10, CompletionTokens: 5, Requests: 1},
		{Day: D2, GroupID: "cust", Spend: 50, Requests: 1},
	})
	if rs := report(t, s, store.ReportFilter{GroupBy: store.EntityTeam}); len(rs) != 2 || rs[0].Requests != 2 {
		t.Fatalf("team report: %+v", rs)
	}
	_, err = s.SpendReport(ctx, store.ReportFilter{GroupBy: "planet"})
	wantErr(t, err, store.ErrInvalid)

	// A replay changes nothing.
	n, err = s.InsertSpend(ctx, []store.SpendRow{r3, r2, r1})
	must(t, err)
	if n != 0 {
		t.Fatalf("replay inserted %d", n)
	}
	equal(t, "entity spend after replay", entitySpend(t, s, "cust"), spends{key: 150, team: 150, user: 100, customer: 150})

	// Rows for deleted or unknown owners are still recorded.
	r4 := store.SpendRow{RequestID: "r4", KeyHash: hash(77), TeamID: "gone", Cost: 3, StartTime: d1, EndTime: d1}
	n, err = s.InsertSpend(ctx, []store.SpendRow{r4})
	if err != nil || n != 1 {
		t.Fatalf("orphan row: %d %v", n, err)
	}

	bad := base
	bad.RequestID, bad.Status = "bad", "exploded"
	_, err = s.InsertSpend(ctx, []store.SpendRow{bad})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.InsertSpend(ctx, []store.SpendRow{{}})
	wantErr(t, err, store.ErrInvalid)
	n, err = s.InsertSpend(ctx, nil)
	if n != 0 || err != nil {
		t.Fatalf("empty batch: %d %v", n, err)
	}
}

// testSpendReplay inserts the same 1,000 rows from 8 goroutines at once,
// each in its own order: every request must be counted exactly once.
func testSpendReplay(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedOwners(t, s)
	rows := make([]store.SpendRow, 1000)
	var wantSpend, wantFailed int64
	for i := range rows {
		st := day0().Add(time.Duration(i) * time.Minute) // spans two UTC days
		rows[i] = store.SpendRow{
			RequestID: fmt.Sprintf("req-%04d", i), KeyHash: hash(1), TeamID: "T", UserID: "U", EndUser: "e",
			ModelGroup: "gpt", StartTime: st, EndTime: st.Add(time.Second), Cost: int64(i + 1), PromptTokens: 2,
			CompletionTokens: 3, Tags: []string{"x"}, Status: store.StatusOK,
		}
		if i%10 == 0 {
			rows[i].Status = store.StatusError
			wantFailed++
		}
		wantSpend += int64(i + 1)
	}
	var inserted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		batch := slices.Clone(rows)
		rand.New(rand.NewPCG(uint64(g), 1)).Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		wg.Go(func() {
			n, err := s.InsertSpend(ctx, batch)
			if err != nil {
				errs <- err
			}
			inserted.Add(int64(n))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if inserted.Load() != 1000 {
		t.Fatalf("inserted %d rows in total, want 1000", inserted.Load())
	}
	equal(t, "entity spend", entitySpend(t, s, "e"), spends{key: wantSpend, team: wantSpend, user: wantSpend, customer: wantSpend})
	for _, g := range []string{store.EntityKey, store.EntityTeam, store.EntityUser, store.EntityEndUser, store.EntityModel, store.EntityTag} {
		var sum store.ReportRow
		rs := report(t, s, store.ReportFilter{GroupBy: g})
		if len(rs) != 2 {
			t.Fatalf("%s report has %d rows, want 2 days", g, len(rs))
		}
		for _, r := range rs {
			sum.Spend += r.Spend
			sum.Requests += r.Requests
			sum.FailedRequests += r.FailedRequests
			sum.PromptTokens += r.PromptTokens
			sum.CompletionTokens += r.CompletionTokens
		}
		want := store.ReportRow{Spend: wantSpend, Requests: 1000, FailedRequests: wantFailed, PromptTokens: 2000, CompletionTokens: 3000}
		equal(t, g+" daily totals", sum, want)
	}
	_, total, err := s.ListSpend(ctx, store.SpendFilter{})
	must(t, err)
	if total != 1000 {
		t.Fatalf("ledger has %d rows", total)
	}
}

func testMoneyExact(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedOwners(t, s)
	rows := make([]store.SpendRow, 10_000)
	for i := range rows {
		rows[i] = store.SpendRow{RequestID: fmt.Sprint("m", i), KeyHash: hash(1), TeamID: "T", UserID: "U", ModelGroup: "m",
			StartTime: day0(), EndTime: day0(), Cost: 1}
	}
	n, err := s.InsertSpend(ctx, rows)
	must(t, err)
	if n != 10_000 {
		t.Fatalf("inserted %d", n)
	}
	equal(t, "spend", entitySpend(t, s, ""), spends{key: 10_000, team: 10_000, user: 10_000})
	rs := report(t, s, store.ReportFilter{GroupBy: store.EntityModel})
	if len(rs) != 1 || rs[0].Spend != 10_000 || rs[0].Requests != 10_000 {
		t.Fatalf("report: %+v", rs)
	}
}

func testListSpend(t *testing.T, s store.Store) {
	ctx := context.Background()
	var rows []store.SpendRow
	for i := range 30 {
		st := day0().Add(time.Duration(i) * time.Minute)
		r := store.SpendRow{
			RequestID: fmt.Sprintf("q%02d", i), StartTime: st, EndTime: st.Add(1500 * time.Millisecond),
			KeyHash: hash(i % 3), KeyAlias: "alias", TeamID: fmt.Sprint("T", i%2), UserID: "U", EndUser: fmt.Sprint("E", i%5),
			ModelGroup: []string{"gpt", "claude"}[i%2], Deployment: "dep-1", Provider: "openai",
			PromptTokens: int64(i), CompletionTokens: 2 * int64(i), CachedTokens: 1, Cost: 1000 + int64(i), LatencyMS: 1500, TTFTMS: 200,
			Status: store.StatusOK, Metadata: map[string]any{"i": float64(i)},
		}
		if i%4 == 0 {
			r.Tags = []string{"four", "all"}
		} else {
			r.Tags = []string{"all"}
		}
		rows = append(rows, r)
	}
	_, err := s.InsertSpend(ctx, rows)
	must(t, err)

	// Newest first, pages of 7.
	var ids []string
	for p := 1; p <= 5; p++ {
		page, total, err := s.ListSpend(ctx, store.SpendFilter{Page: p, Size: 7})
		must(t, err)
		if total != 30 {
			t.Fatalf("total %d", total)
		}
		for _, r := range page {
			ids = append(ids, r.RequestID)
		}
	}
	if len(ids) != 30 || ids[0] != "q29" || ids[29] != "q00" {
		t.Fatalf("order: %v", ids)
	}
	// Full round trip of one row (times normalised to UTC microseconds).
	page, _, err := s.ListSpend(ctx, store.SpendFilter{Size: 1})
	must(t, err)
	want := rows[29]
	want.StartTime, want.EndTime = want.StartTime.UTC().Truncate(time.Microsecond), want.EndTime.UTC().Truncate(time.Microsecond)
	equal(t, "spend row", page[0], want)

	count := func(f store.SpendFilter) int {
		t.Helper()
		_, total, err := s.ListSpend(ctx, f)
		must(t, err)
		return total
	}
	for _, c := range []struct {
		name string
		f    store.SpendFilter
		want int
	}{
		{"request id", store.SpendFilter{RequestID: "q07"}, 1},
		{"request id of another key", store.SpendFilter{RequestID: "q07", KeyHash: hash(0)}, 0},
		{"key", store.SpendFilter{KeyHash: hash(0)}, 10},
		{"team", store.SpendFilter{TeamID: "T1"}, 15},
		{"user", store.SpendFilter{UserID: "U"}, 30},
		{"end user", store.SpendFilter{EndUser: "E0"}, 6},
		{"model", store.SpendFilter{Model: "claude"}, 15},
		{"tag", store.SpendFilter{Tag: "four"}, 8},
		{"tag none", store.SpendFilter{Tag: "nope"}, 0},
		{"from", store.SpendFilter{From: day0().Add(10 * time.Minute)}, 20},
		{"to (exclusive)", store.SpendFilter{To: day0().Add(10 * time.Minute)}, 10},
		{"combined", store.SpendFilter{Model: "gpt", Tag: "four", From: day0().Add(time.Minute), To: day0().Add(20 * time.Minute)}, 4},
	} {
		if got := count(c.f); got != c.want {
			t.Errorf("filter %s: %d rows, want %d", c.name, got, c.want)
		}
	}
	// SumSpend adds the cost of the same selection (row i costs 1000+i).
	for _, c := range []struct {
		name string
		f    store.SpendFilter
		want int64
	}{
		{"all", store.SpendFilter{}, 30*1000 + 29*30/2},
		{"key+model since", store.SpendFilter{KeyHash: hash(0), Model: "gpt", From: day0().Add(10 * time.Minute)}, 1012 + 1018 + 1024},
		{"none", store.SpendFilter{KeyHash: "nobody"}, 0},
	} {
		got, err := s.SumSpend(ctx, c.f)
		if err != nil || got != c.want {
			t.Errorf("SumSpend %s = %d, %v; want %d", c.name, got, err, c.want)
		}
	}
}

func testResetBudgets(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := day0().Add(10 * 24 * time.Hour)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	must(t, s.CreateKey(ctx, &store.Key{TokenHash: hash(1), BudgetDuration: "1d", BudgetResetAt: &past, Spend: 500}))
	must(t, s.CreateKey(ctx, &store.Key{TokenHash: hash(2), BudgetDuration: "1d", BudgetResetAt: &future, Spend: 7}))
	must(t, s.CreateKey(ctx, &store.Key{TokenHash: hash(3), Spend: 9}))
	must(t, s.CreateKey(ctx, &store.Key{TokenHash: hash(4), BudgetDuration: "30s", BudgetResetAt: &now, Spend: 1}))
	must(t, s.CreateTeam(ctx, &store.Team{TeamID: "T", BudgetDuration: "7d", BudgetResetAt: &past, Spend: 5}))
	must(t, s.CreateUser(ctx, &store.User{UserID: "U", BudgetDuration: "1mo", BudgetResetAt: &past, Spend: 5}))
	must(t, s.CreateCustomer(ctx, &store.Customer{UserID: "C", BudgetDuration: "1h", BudgetResetAt: &past, Spend: 5}))

	n, err := s.ResetBudgets(ctx, now)
	must(t, err)
	if n != 5 {
		t.Fatalf("reset %d rows, want 5", n)
	}
	next := func(d string) *time.Time {
		v, err := store.NextReset(now, d)
		must(t, err)
		return &v
	}
	k1, _ := s.GetKey(ctx, hash(1))
	k2, _ := s.GetKey(ctx, hash(2))
	k3, _ := s.GetKey(ctx, hash(3))
	k4, _ := s.GetKey(ctx, hash(4))
	tm, _ := s.GetTeam(ctx, "T")
	u, _ := s.GetUser(ctx, "U")
	c, _ := s.GetCustomer(ctx, "C")
	equal(t, "key 1", []any{k1.Spend, k1.BudgetResetAt}, []any{int64(0), next("1d")})
	equal(t, "key 2 (not due)", []any{k2.Spend, k2.BudgetResetAt}, []any{int64(7), ptr(future.UTC().Truncate(time.Microsecond))})
	equal(t, "key 3 (no budget window)", []any{k3.Spend, k3.BudgetResetAt}, []any{int64(9), (*time.Time)(nil)})
	equal(t, "key 4 (due exactly now)", []any{k4.Spend, k4.BudgetResetAt}, []any{int64(0), next("30s")})
	equal(t, "team", []any{tm.Spend, tm.BudgetResetAt}, []any{int64(0), next("7d")})
	equal(t, "user", []any{u.Spend, u.BudgetResetAt}, []any{int64(0), next("1mo")})
	equal(t, "customer", []any{c.Spend, c.BudgetResetAt}, []any{int64(0), next("1h")})

	n, err = s.ResetBudgets(ctx, now)
	must(t, err)
	if n != 0 {
		t.Fatalf("second run reset %d rows", n)
	}
	// Two replicas running the job at once reset each due row once.
	later := now.Add(40 * 24 * time.Hour)
	var total atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			n, err := s.ResetBudgets(ctx, later)
			if err != nil {
				t.Error(err)
			}
			total.Add(int64(n))
		})
	}
	wg.Wait()
	if total.Load() != 6 {
		t.Fatalf("concurrent runs reset %d rows, want 6", total.Load())
	}
}
