package auth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

func TestAuthenticate(t *testing.T) {
	a := New("sk-test-0123456789abcdef", nil)
	for _, tc := range []struct {
		token string
		want  error
	}{
		{"sk-test-0123456789abcdef", nil},
		{"sk-test-0123456789abcdeg", ErrInvalidKey},
		{"sk-test-0123456789abcdef ", ErrInvalidKey},
		{"", ErrNoKey},
	} {
		p, err := a.Authenticate(context.Background(), []byte(tc.token))
		if err != tc.want {
			t.Errorf("Authenticate(%q) error = %v, want %v", tc.token, err, tc.want)
		}
		if err == nil && !p.Admin {
			t.Errorf("master key is not admin")
		}
	}
	if p, err := New("", nil).Authenticate(context.Background(), nil); err != nil || !p.Anonymous {
		t.Errorf("open gateway: got %v, %v", p, err)
	}
}

func TestBearerToken(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer sk-abc":   "sk-abc",
		"bearer  sk-abc ": "sk-abc",
		"BEARER sk-abc":   "sk-abc",
		"Basic dXNlcg==":  "",
		"Bearer":          "",
		"":                "",
	} {
		if got := string(BearerToken([]byte(in))); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckMasterKey(t *testing.T) {
	for key, weak := range map[string]bool{
		"sk-1234":                             true,
		"SK-ADMIN":                            true,
		"sk-short":                            true,
		"sk-aaaaaaaaaaaaaaaaaaaa":             true,
		"sk-9f8e7d6c5b4a39281706f5e4d3c2b1a0": false,
	} {
		if got := CheckMasterKey(key) != nil; got != weak {
			t.Errorf("CheckMasterKey(%q) weak = %v, want %v", key, got, weak)
		}
	}
}

// fakeKeys is a Directory that counts key lookups.
type fakeKeys struct {
	keys      map[string]*store.Key
	teams     map[string]*store.Team
	customers map[string]*store.Customer
	calls     atomic.Int64
	err       error
}

func (f *fakeKeys) GetTeam(_ context.Context, id string) (*store.Team, error) {
	if t, ok := f.teams[id]; ok {
		return t, nil
	}
	return nil, store.ErrNotFound
}

func (f *fakeKeys) GetUser(context.Context, string) (*store.User, error) {
	return nil, store.ErrNotFound
}

func (f *fakeKeys) GetCustomer(_ context.Context, id string) (*store.Customer, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	if c, ok := f.customers[id]; ok {
		return c, nil
	}
	return nil, store.ErrNotFound
}

func (f *fakeKeys) GetKey(_ context.Context, hash string) (*store.Key, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	if k, ok := f.keys[hash]; ok {
		return k, nil
	}
	return nil, store.ErrNotFound
}

func TestVirtualKeys(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	good, goodHash, _ := NewVirtualKey()
	blocked, blockedHash, _ := NewVirtualKey()
	expired, expiredHash, _ := NewVirtualKey()
	past := now.Add(-time.Minute)
	keys := &fakeKeys{keys: map[string]*store.Key{
		goodHash:    {TokenHash: goodHash, Models: []string{"gpt"}},
		blockedHash: {TokenHash: blockedHash, Blocked: true},
		expiredHash: {TokenHash: expiredHash, ExpiresAt: &past},
	}}
	a := New("sk-master-0123456789abcdef", keys)
	a.now = func() time.Time { return now }
	ctx := context.Background()

	p, err := a.Authenticate(ctx, []byte(good))
	if err != nil || p.Admin || p.Key.TokenHash != goodHash {
		t.Fatalf("good key: %+v %v", p, err)
	}
	for token, want := range map[string]error{blocked: ErrBlockedKey, expired: ErrExpiredKey, "sk-unknown-key-123": ErrInvalidKey, "not-a-key": ErrInvalidKey} {
		if _, err := a.Authenticate(ctx, []byte(token)); !errors.Is(err, want) {
			t.Errorf("%.12s…: %v, want %v", token, err, want)
		}
	}

	// Cached: known and unknown keys are looked up once per TTL.
	calls := keys.calls.Load()
	for i := 0; i < 5; i++ {
		_, _ = a.Authenticate(ctx, []byte(good))
		_, _ = a.Authenticate(ctx, []byte("sk-unknown-key-123"))
	}
	if keys.calls.Load() != calls {
		t.Errorf("cache missed: %d more lookups", keys.calls.Load()-calls)
	}
	// Invalidation: a block made through the admin API applies at once.
	keys.keys[goodHash] = &store.Key{TokenHash: goodHash, Blocked: true}
	a.Invalidate(KindKey, goodHash)
	if _, err := a.Authenticate(ctx, []byte(good)); !errors.Is(err, ErrBlockedKey) {
		t.Errorf("after invalidate: %v", err)
	}
	// The TTL bounds staleness when another replica changed the key.
	keys.keys[goodHash] = &store.Key{TokenHash: goodHash}
	now = now.Add(cacheTTL + time.Second)
	if _, err := a.Authenticate(ctx, []byte(good)); err != nil {
		t.Errorf("after TTL: %v", err)
	}
	// A store outage: a key seen recently keeps working on its expired
	// entry; one never seen, invalidated, or seen too long ago fails closed.
	keys.err = errors.New("connection refused")
	now = now.Add(cacheTTL + time.Second)
	if _, err := a.Authenticate(ctx, []byte(good)); err != nil {
		t.Errorf("store down, key cached %v ago: %v", cacheTTL+time.Second, err)
	}
	other, _, _ := NewVirtualKey()
	if _, err := a.Authenticate(ctx, []byte(other)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("store down, key never seen: %v", err)
	}
	a.Invalidate(KindKey, goodHash)
	if _, err := a.Authenticate(ctx, []byte(good)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("store down, key invalidated: %v", err)
	}
	keys.err = nil
	_, _ = a.Authenticate(ctx, []byte(good))
	keys.err = errors.New("connection refused")
	now = now.Add(staleIfError + time.Second)
	if _, err := a.Authenticate(ctx, []byte(good)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("store down for longer than staleIfError: %v", err)
	}
}

func TestTeamsAndCustomers(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	key, hash, _ := NewVirtualKey()
	dir := &fakeKeys{
		keys:      map[string]*store.Key{hash: {TokenHash: hash, TeamID: "t1"}},
		teams:     map[string]*store.Team{"t1": {TeamID: "t1"}},
		customers: map[string]*store.Customer{"c1": {UserID: "c1"}},
	}
	a := New("sk-master-0123456789abcdef", dir)
	a.now = func() time.Time { return now }
	ctx := context.Background()

	p, err := a.Authenticate(ctx, []byte(key))
	if err != nil || p.Team == nil || p.Team.TeamID != "t1" {
		t.Fatalf("key with a team: %+v %v", p, err)
	}
	// Blocking the team blocks its keys once the team is invalidated.
	dir.teams["t1"] = &store.Team{TeamID: "t1", Blocked: true}
	if _, err := a.Authenticate(ctx, []byte(key)); err != nil {
		t.Fatalf("before invalidation the cached team is used: %v", err)
	}
	a.Invalidate(KindTeam, "t1")
	if _, err := a.Authenticate(ctx, []byte(key)); !errors.Is(err, ErrBlockedTeam) {
		t.Fatalf("blocked team: %v", err)
	}

	c, err := a.Customer(ctx, "c1")
	if err != nil || c == nil || c.UserID != "c1" {
		t.Fatalf("customer: %+v %v", c, err)
	}
	if c, err := a.Customer(ctx, "nobody"); c != nil || err != nil {
		t.Fatalf("unknown customer: %+v %v", c, err)
	}
	calls := dir.calls.Load()
	_, _ = a.Customer(ctx, "c1")
	_, _ = a.Customer(ctx, "nobody")
	if dir.calls.Load() != calls {
		t.Errorf("customers are not cached")
	}
	dir.customers["c1"] = &store.Customer{UserID: "c1", Blocked: true}
	a.Invalidate(KindCustomer, "c1")
	if c, _ := a.Customer(ctx, "c1"); c == nil || !c.Blocked {
		t.Errorf("after invalidation: %+v", c)
	}
	dir.err = errors.New("connection refused")
	a.Reset()
	if _, err := a.Customer(ctx, "c1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("store down after reset: %v", err)
	}
}
