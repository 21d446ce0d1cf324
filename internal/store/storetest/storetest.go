// Package storetest is the contract suite every store.Store implementation
// must pass. It is run by each implementation's tests (sqlstore on SQLite
// always and on PostgreSQL when configured), so both dialects are held to
// one behaviour.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// Run runs the suite. open must return a fresh, migrated, empty store for
// each call; subtests call it once each so they cannot see each other's rows.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Keys", func(t *testing.T) { testKeys(t, open(t)) })
	t.Run("KeyJSONRoundTrip", func(t *testing.T) { testKeyJSON(t, open(t)) })
	t.Run("ListKeysPagination", func(t *testing.T) { testListKeys(t, open(t)) })
	t.Run("ConcurrentUpdateKey", func(t *testing.T) { testConcurrentUpdateKey(t, open(t)) })
	t.Run("RegenerateKey", func(t *testing.T) { testRegenerate(t, open(t)) })
	t.Run("Teams", func(t *testing.T) { testTeams(t, open(t)) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("Customers", func(t *testing.T) { testCustomers(t, open(t)) })
	t.Run("Spend", func(t *testing.T) { testSpend(t, open(t)) })
	t.Run("SpendReplayConcurrent", func(t *testing.T) { testSpendReplay(t, open(t)) })
	t.Run("MoneyExact", func(t *testing.T) { testMoneyExact(t, open(t)) })
	t.Run("ListSpend", func(t *testing.T) { testListSpend(t, open(t)) })
	t.Run("ResetBudgets", func(t *testing.T) { testResetBudgets(t, open(t)) })
}

func ptr[T any](v T) *T { return &v }

// day0() is a fixed instant with sub-microsecond digits, to check that stored
// times come back truncated to microseconds and in UTC.
func day0() time.Time {
	return time.Date(2025, 1, 15, 10, 30, 15, 123456789, time.FixedZone("x", 2*3600))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, deref(got), deref(want))
	}
}

func deref(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return rv.Elem().Interface()
	}
	return v
}

func hash(i int) string { return fmt.Sprintf("%064x", i) }

func fullKey(h string) *store.Key {
	reset := day0().Add(24 * time.Hour)
	exp := day0().Add(30 * 24 * time.Hour)
	return &store.Key{
		TokenHash: h, KeyName: "sk-...abcd", KeyAlias: "alias-" + h[56:], TeamID: "team-1", UserID: "user-1",
		Models: []string{"gpt-4o", "openai/*"}, Aliases: map[string]string{"smart": "gpt-4o"},
		MaxBudget: ptr(int64(10_000_000)), SoftBudget: ptr(int64(8_000_000)), BudgetDuration: "1d", BudgetResetAt: &reset,
		Spend: 42, RPMLimit: ptr(int64(60)), TPMLimit: ptr(int64(100_000)), MaxParallelRequests: ptr(int64(4)),
		ModelMaxBudget: map[string]store.ModelBudget{"gpt-4o": {MaxBudget: 5_000_000, BudgetDuration: "30d"}},
		ModelRPMLimit:  map[string]int64{"gpt-4o": 10}, ModelTPMLimit: map[string]int64{"gpt-4o": 1000},
		ExpiresAt: &exp, Blocked: false,
		Metadata: map[string]any{"env": "prod", "n": 3.5, "nested": map[string]any{"a": []any{"x", true}}},
		Tags:     []string{"a", "b"}, CreatedAt: day0(), CreatedBy: "admin",
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := fullKey(hash(1))
	must(t, s.CreateKey(ctx, k))
	if k.CreatedAt != day0().UTC().Truncate(time.Microsecond) || k.UpdatedAt != k.CreatedAt {
		t.Fatalf("create did not normalise stamps: %v %v", k.CreatedAt, k.UpdatedAt)
	}
	got, err := s.GetKey(ctx, k.TokenHash)
	must(t, err)
	equal(t, "GetKey", got, k)

	// Duplicate hash, duplicate alias.
	wantErr(t, s.CreateKey(ctx, fullKey(hash(1))), store.ErrConflict)
	dupAlias := fullKey(hash(2))
	dupAlias.KeyAlias = k.KeyAlias
	wantErr(t, s.CreateKey(ctx, dupAlias), store.ErrConflict)
	// Empty aliases never conflict with each other.
	for i := 3; i < 5; i++ {
		must(t, s.CreateKey(ctx, &store.Key{TokenHash: hash(i)}))
	}
	wantErr(t, s.CreateKey(ctx, &store.Key{}), store.ErrInvalid)
	wantErr(t, s.CreateKey(ctx, &store.Key{TokenHash: hash(9), BudgetDuration: "1y"}), store.ErrInvalid)

	_, err = s.GetKey(ctx, hash(99))
	wantErr(t, err, store.ErrNotFound)

	// Partial update: only set fields change; nullable fields can be cleared.
	up, err := s.UpdateKey(ctx, k.TokenHash, store.KeyUpdate{
		Blocked: ptr(true), MaxBudget: store.None[int64](), RPMLimit: store.Some(int64(5)), Tags: ptr([]string{"c"}),
	})
	must(t, err)
	want := *k
	want.Blocked, want.MaxBudget, want.RPMLimit, want.Tags = true, nil, ptr(int64(5)), []string{"c"}
	if !up.UpdatedAt.After(k.UpdatedAt) {
		t.Fatalf("UpdatedAt not moved: %v", up.UpdatedAt)
	}
	want.UpdatedAt = up.UpdatedAt
	equal(t, "UpdateKey", up, &want)
	got, err = s.GetKey(ctx, k.TokenHash)
	must(t, err)
	equal(t, "GetKey after update", got, &want)

	// Changing the duration moves the reset time to the new window's end.
	up, err = s.UpdateKey(ctx, k.TokenHash, store.KeyUpdate{BudgetDuration: ptr("1h")})
	must(t, err)
	if up.BudgetResetAt == nil || time.Until(*up.BudgetResetAt) > time.Hour || up.BudgetResetAt.Before(time.Now()) {
		t.Fatalf("reset after duration change = %v", up.BudgetResetAt)
	}
	up, err = s.UpdateKey(ctx, k.TokenHash, store.KeyUpdate{BudgetDuration: ptr("")})
	must(t, err)
	if up.BudgetResetAt != nil {
		t.Fatalf("clearing the duration kept reset %v", up.BudgetResetAt)
	}
	_, err = s.UpdateKey(ctx, k.TokenHash, store.KeyUpdate{BudgetDuration: ptr("soon")})
	wantErr(t, err, store.ErrInvalid)

	_, err = s.UpdateKey(ctx, hash(99), store.KeyUpdate{Blocked: ptr(true)})
	wantErr(t, err, store.ErrNotFound)
	// Taking another key's alias is a conflict.
	must(t, s.CreateKey(ctx, &store.Key{TokenHash: hash(5), KeyAlias: "taken"}))
	_, err = s.UpdateKey(ctx, k.TokenHash, store.KeyUpdate{KeyAlias: ptr("taken")})
	wantErr(t, err, store.ErrConflict)

	n, err := s.DeleteKeys(ctx, []string{hash(1), hash(3), hash(99)})
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteKeys = %d, want 2", n)
	}
	_, err = s.GetKey(ctx, hash(1))
	wantErr(t, err, store.ErrNotFound)
	n, err = s.DeleteKeys(ctx, nil)
	if err != nil || n != 0 {
		t.Fatalf("DeleteKeys(nil) = %d, %v", n, err)
	}
}

func testKeyJSON(t *testing.T, s store.Store) {
	ctx := context.Background()
	cases := []*store.Key{
		{TokenHash: hash(1)}, // every JSON field nil
		{TokenHash: hash(2), Models: []string{}, Aliases: map[string]string{}, ModelMaxBudget: map[string]store.ModelBudget{},
			ModelRPMLimit: map[string]int64{}, ModelTPMLimit: map[string]int64{}, Metadata: map[string]any{}, Tags: []string{}},
		{TokenHash: hash(3), Models: []string{"ünïcode", `quote"d`, "back\\slash"},
			Metadata:      map[string]any{"list": []any{1.0, "two", nil, false}, "deep": map[string]any{"x": map[string]any{"y": "z"}}, "null": nil},
			ModelRPMLimit: map[string]int64{"m": 1 << 53}},
	}
	for _, k := range cases {
		must(t, s.CreateKey(ctx, k))
		got, err := s.GetKey(ctx, k.TokenHash)
		must(t, err)
		equal(t, "round trip "+k.TokenHash[60:], got, k)
	}
}

func testListKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 25 {
		k := &store.Key{TokenHash: hash(i), CreatedAt: day0().Add(time.Duration(i) * time.Second), UserID: "u"}
		if i%5 == 0 {
			k.TeamID = "team-a"
		}
		if i == 7 {
			k.KeyAlias = "seven"
		}
		must(t, s.CreateKey(ctx, k))
	}
	var seen []string
	for p := 1; ; p++ {
		page, total, err := s.ListKeys(ctx, store.KeyFilter{Page: p, Size: 4})
		must(t, err)
		if total != 25 {
			t.Fatalf("total = %d", total)
		}
		if len(page) == 0 {
			break
		}
		if p < 7 && len(page) != 4 || p == 7 && len(page) != 1 {
			t.Fatalf("page %d has %d keys", p, len(page))
		}
		for _, k := range page {
			seen = append(seen, k.TokenHash)
		}
	}
	for i, h := range seen {
		if h != hash(i) {
			t.Fatalf("order: position %d is %s…", i, h[:8])
		}
	}
	ks, total, err := s.ListKeys(ctx, store.KeyFilter{TeamID: "team-a"})
	must(t, err)
	if total != 5 || len(ks) != 5 || ks[0].TokenHash != hash(0) {
		t.Fatalf("team filter: %d/%d", len(ks), total)
	}
	ks, total, err = s.ListKeys(ctx, store.KeyFilter{KeyAlias: "seven", UserID: "u"})
	must(t, err)
	if total != 1 || ks[0].TokenHash != hash(7) {
		t.Fatalf("alias filter: %d", total)
	}
	ks, total, err = s.ListKeys(ctx, store.KeyFilter{TeamID: "none"})
	must(t, err)
	if total != 0 || len(ks) != 0 {
		t.Fatalf("no match: %d", total)
	}
	// Default page size applies when Size is unset.
	ks, _, err = s.ListKeys(ctx, store.KeyFilter{})
	must(t, err)
	if len(ks) != min(25, store.DefaultPageSize) {
		t.Fatalf("default size: %d", len(ks))
	}
}

func testConcurrentUpdateKey(t *testing.T, s store.Store) {
	ctx := context.Background()
	h := hash(1)
	must(t, s.CreateKey(ctx, &store.Key{TokenHash: h}))
	const rounds = 15
	// Each goroutine owns one field and ends by writing its final value; if
	// any update rewrote fields it did not set, a final value would be lost.
	writers := []func(i int) store.KeyUpdate{
		func(i int) store.KeyUpdate { return store.KeyUpdate{KeyAlias: ptr(fmt.Sprint("alias-", i))} },
		func(i int) store.KeyUpdate { return store.KeyUpdate{TeamID: ptr(fmt.Sprint("team-", i))} },
		func(i int) store.KeyUpdate { return store.KeyUpdate{UserID: ptr(fmt.Sprint("user-", i))} },
		func(i int) store.KeyUpdate { return store.KeyUpdate{Models: ptr([]string{fmt.Sprint("m", i)})} },
		func(i int) store.KeyUpdate { return store.KeyUpdate{MaxBudget: store.Some(int64(i))} },
		func(i int) store.KeyUpdate { return store.KeyUpdate{SoftBudget: store.Some(int64(i))} },
		func(i int) store.KeyUpdate { return store.KeyUpdate{RPMLimit: store.Some(int64(i))} },
		func(i int) store.KeyUpdate { return store.KeyUpdate{TPMLimit: store.Some(int64(i))} },
		func(i int) store.KeyUpdate { return store.KeyUpdate{MaxParallelRequests: store.Some(int64(i))} },
		func(i int) store.KeyUpdate { return store.KeyUpdate{Blocked: ptr(i%2 == 0)} },
		func(i int) store.KeyUpdate { return store.KeyUpdate{Metadata: ptr(map[string]any{"i": float64(i)})} },
		func(i int) store.KeyUpdate { return store.KeyUpdate{Tags: ptr([]string{fmt.Sprint("t", i)})} },
		func(i int) store.KeyUpdate {
			return store.KeyUpdate{ModelTPMLimit: ptr(map[string]int64{"m": int64(i)})}
		},
		func(i int) store.KeyUpdate { return store.KeyUpdate{Spend: ptr(int64(i))} },
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(writers)*rounds)
	for _, w := range writers {
		wg.Go(func() {
			for i := 1; i <= rounds; i++ {
				if _, err := s.UpdateKey(ctx, h, w(i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.GetKey(ctx, h)
	must(t, err)
	r := int64(rounds)
	want := store.Key{
		TokenHash: h, KeyAlias: fmt.Sprint("alias-", rounds), TeamID: fmt.Sprint("team-", rounds), UserID: fmt.Sprint("user-", rounds),
		Models: []string{fmt.Sprint("m", rounds)}, MaxBudget: &r, SoftBudget: &r, RPMLimit: &r, TPMLimit: &r, MaxParallelRequests: &r,
		Blocked: rounds%2 == 0, Metadata: map[string]any{"i": float64(rounds)}, Tags: []string{fmt.Sprint("t", rounds)},
		ModelTPMLimit: map[string]int64{"m": r}, Spend: r, CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt,
	}
	equal(t, "after concurrent updates", got, &want)
}

func testRegenerate(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := fullKey(hash(1))
	must(t, s.CreateKey(ctx, k))
	must(t, s.CreateKey(ctx, &store.Key{TokenHash: hash(2)}))
	got, err := s.RegenerateKey(ctx, hash(1), hash(3), "sk-...wxyz")
	must(t, err)
	want := *k
	want.TokenHash, want.KeyName, want.UpdatedAt = hash(3), "sk-...wxyz", got.UpdatedAt
	equal(t, "regenerated", got, &want)
	_, err = s.GetKey(ctx, hash(1))
	wantErr(t, err, store.ErrNotFound)
	got, err = s.GetKey(ctx, hash(3))
	must(t, err)
	equal(t, "regenerated, read back", got, &want)
	_, err = s.RegenerateKey(ctx, hash(3), hash(2), "x")
	wantErr(t, err, store.ErrConflict)
	_, err = s.RegenerateKey(ctx, hash(1), hash(4), "x")
	wantErr(t, err, store.ErrNotFound)
	// The failed attempts changed nothing.
	got, err = s.GetKey(ctx, hash(3))
	must(t, err)
	equal(t, "after failed regenerations", got, &want)
}
