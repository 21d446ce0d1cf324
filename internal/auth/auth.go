// Package auth turns the credential a client presents into a Principal: the
// master key, or a virtual key (stored as its SHA-256) with its team and
// user, looked up through a small cache in front of the store. End users
// (the request's "user" field) are cached the same way.
package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// Principal is who a request acts as.
type Principal struct {
	// Admin may use every route, including management.
	Admin bool
	// Anonymous marks the open mode of a gateway without a master key.
	Anonymous bool
	// Key is the virtual key's record; nil for the master key and open mode.
	// Shared by every request that uses the key: read it, never change it.
	Key *store.Key
	// Team and User are the key's team and owner (nil when it has none, or
	// when the record is gone), cached with the key so that their limits and
	// budgets cost no lookup per request. Read-only, like Key.
	Team *store.Team
	User *store.User
}

var (
	masterPrincipal    = &Principal{Admin: true}
	anonymousPrincipal = &Principal{Admin: true, Anonymous: true}
)

// The ways authentication fails.
var (
	ErrNoKey      = errors.New("no API key passed")
	ErrInvalidKey = errors.New("invalid API key")
	ErrBlockedKey = errors.New("key is blocked")
	// ErrBlockedTeam: the key's team is blocked, which blocks all its keys.
	ErrBlockedTeam = errors.New("team is blocked")
	ErrExpiredKey  = errors.New("key has expired")
	// ErrUnavailable: the key store could not be asked. Requests fail
	// closed (a key that cannot be checked is not let through).
	ErrUnavailable = errors.New("key store unavailable")
)

// Directory finds the records a request acts as; store.Store is one. Each
// method returns an error wrapping store.ErrNotFound for an unknown id.
type Directory interface {
	GetKey(ctx context.Context, tokenHash string) (*store.Key, error)
	GetTeam(ctx context.Context, teamID string) (*store.Team, error)
	GetUser(ctx context.Context, userID string) (*store.User, error)
	GetCustomer(ctx context.Context, userID string) (*store.Customer, error)
}

// Authenticator checks request credentials: the master key, then virtual
// keys through a small in-process cache in front of the store.
type Authenticator struct {
	masterHash [sha256.Size]byte
	hasMaster  bool
	dir        Directory
	now        func() time.Time

	mu        sync.RWMutex
	cache     map[[sha256.Size]byte]fetched[*Principal] // nil: unknown key
	customers map[string]fetched[*store.Customer]       // nil: unknown end user
	// gen counts invalidations: a lookup that raced with one does not
	// cache what it read, which may predate the change.
	gen uint64
}

// fetched is a cached lookup and when it was made.
type fetched[V any] struct {
	v  V
	at time.Time
}

const (
	// cacheTTL bounds how stale a key seen by this replica can be when an
	// update made on another replica has not invalidated it here.
	cacheTTL = 10 * time.Second
	// maxCached bounds the cache; past it, entries are dropped at random
	// (Go's map iteration order), which keeps memory flat under key floods.
	maxCached = 100_000
	// staleIfError is how long an expired entry still answers while the
	// store cannot be reached. Changes made meanwhile still apply: the
	// admin API invalidates entries on every replica, and an invalidated
	// entry is gone, not stale.
	staleIfError = 10 * time.Minute
	// lookupTimeout bounds a store lookup on a cache miss.
	lookupTimeout = 5 * time.Second
)

// New returns an Authenticator for masterKey and the virtual keys in dir
// (nil: master key only). An empty master key means every request is let
// through (the gateway then listens on loopback only).
func New(masterKey string, dir Directory) *Authenticator {
	a := &Authenticator{dir: dir, now: time.Now, cache: map[[sha256.Size]byte]fetched[*Principal]{}, customers: map[string]fetched[*store.Customer]{}}
	if masterKey != "" {
		a.masterHash = sha256.Sum256([]byte(masterKey))
		a.hasMaster = true
	}
	return a
}

// Open reports whether no master key is configured.
func (a *Authenticator) Open() bool { return !a.hasMaster }

// Authenticate resolves token (the bare key, without "Bearer "). Hashing
// first makes the master-key comparison constant-time in the key's length
// too, and the same hash is the virtual key's identity in the store.
func (a *Authenticator) Authenticate(ctx context.Context, token []byte) (*Principal, error) {
	if !a.hasMaster {
		return anonymousPrincipal, nil
	}
	if len(token) == 0 {
		return nil, ErrNoKey
	}
	h := sha256.Sum256(token)
	if subtle.ConstantTimeCompare(h[:], a.masterHash[:]) == 1 {
		return masterPrincipal, nil
	}
	if a.dir == nil || !bytes.HasPrefix(token, []byte(KeyPrefix)) {
		return nil, ErrInvalidKey
	}
	p, err := a.lookup(ctx, h)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, ErrInvalidKey
	}
	if p.Key.Blocked {
		return nil, ErrBlockedKey
	}
	if p.Key.ExpiresAt != nil && !a.now().Before(*p.Key.ExpiresAt) {
		return nil, ErrExpiredKey
	}
	if p.Team != nil && p.Team.Blocked {
		return nil, ErrBlockedTeam
	}
	return p, nil
}

func (a *Authenticator) lookup(ctx context.Context, h [sha256.Size]byte) (*Principal, error) {
	return cachedLookup(a, a.cache, h, func() (*Principal, error) {
		ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
		return a.principal(ctx, hex.EncodeToString(h[:]))
	})
}

// cachedLookup answers from m while the entry is fresh, else fetches and
// caches the answer (nil answers too, so that a client retrying an unknown
// key does not reach the database each time), unless an invalidation ran
// meanwhile: what was read may predate the change.
func cachedLookup[K comparable, V any](a *Authenticator, m map[K]fetched[V], k K, fetch func() (V, error)) (V, error) {
	now := a.now()
	a.mu.RLock()
	c, ok := m[k]
	gen := a.gen
	a.mu.RUnlock()
	if ok && now.Sub(c.at) < cacheTTL {
		return c.v, nil
	}
	v, err := fetch()
	if err != nil {
		// The store is down: an entry nobody invalidated is still the best
		// answer, so a database outage does not turn into an outage of
		// every key whose cache entry happens to expire during it.
		if ok && now.Sub(c.at) < staleIfError {
			return c.v, nil
		}
		return v, err
	}
	a.mu.Lock()
	if a.gen == gen {
		bound(m)
		m[k] = fetched[V]{v: v, at: now}
	}
	a.mu.Unlock()
	return v, nil
}

// principal reads a key with its team and user; nil for an unknown key. A
// key whose team or user record is gone acts without it (LiteLLM keeps such
// keys working too) rather than failing every request.
func (a *Authenticator) principal(ctx context.Context, keyHash string) (*Principal, error) {
	k, err := a.dir.GetKey(ctx, keyHash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	p := &Principal{Key: k}
	if k.TeamID != "" {
		if p.Team, err = a.dir.GetTeam(ctx, k.TeamID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	if k.UserID != "" {
		if p.User, err = a.dir.GetUser(ctx, k.UserID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return p, nil
}

// Customer returns the end user a request names in its "user" field, or nil
// when nobody registered it (it then has no limits of its own).
func (a *Authenticator) Customer(ctx context.Context, id string) (*store.Customer, error) {
	if id == "" || a.dir == nil {
		return nil, nil
	}
	return cachedLookup(a, a.customers, id, func() (*store.Customer, error) {
		ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
		c, err := a.dir.GetCustomer(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return c, nil
	})
}

// bound keeps a cache under maxCached by dropping entries at random (Go's
// map iteration order), which keeps memory flat under floods of new ids.
func bound[K comparable, V any](m map[K]V) {
	if len(m) < maxCached {
		return
	}
	for drop := range m {
		delete(m, drop)
		if len(m) < maxCached*9/10 {
			return
		}
	}
}

// What Invalidate can drop.
const (
	KindKey      = store.EntityKey     // id: the key's hex hash
	KindTeam     = store.EntityTeam    // id: team_id; drops every cached key of the team
	KindUser     = store.EntityUser    // id: user_id; drops every cached key of the user
	KindCustomer = store.EntityEndUser // id: the end user's id
)

// Invalidate drops a cached record so that an update, block or delete takes
// effect on this replica's next request; the gateway calls it on every
// replica when any of them changes a record. Unknown kinds drop everything.
func (a *Authenticator) Invalidate(kind, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	switch kind {
	case KindKey:
		var h [sha256.Size]byte
		if b, err := hex.DecodeString(id); err == nil && len(b) == len(h) {
			copy(h[:], b)
			delete(a.cache, h)
		}
	case KindTeam, KindUser:
		// Team and user changes are rare admin actions; a scan of the
		// bounded cache is cheaper than keeping reverse indexes current.
		for h, c := range a.cache {
			if p := c.v; p != nil && (kind == KindTeam && p.Key.TeamID == id || kind == KindUser && p.Key.UserID == id) {
				delete(a.cache, h)
			}
		}
	case KindCustomer:
		delete(a.customers, id)
	default:
		clear(a.cache)
		clear(a.customers)
	}
}

// Reset drops everything cached, for when invalidations may have been missed.
func (a *Authenticator) Reset() { a.Invalidate("", "") }

// BearerToken extracts the key from an Authorization header value; other
// schemes yield nil. The scheme name is case-insensitive (RFC 7235).
func BearerToken(authorization []byte) []byte {
	const prefix = "bearer "
	if len(authorization) < len(prefix) || !bytes.EqualFold(authorization[:len(prefix)], []byte(prefix)) {
		return nil
	}
	return bytes.TrimSpace(authorization[len(prefix):])
}

// weakMasterKeys are keys from LiteLLM's documentation and tutorials: a
// gateway started with one of them is open to anyone who read the docs.
var weakMasterKeys = []string{"sk-1234", "sk-12345", "sk-123456", "sk-1234567890", "sk-admin", "sk-master", "sk-test", "sk-password", "changeme", "password", "admin", "master", "secret"}

// MinMasterKeyLength is the shortest master key accepted.
const MinMasterKeyLength = 16

// CheckMasterKey explains why key is too weak to guard a gateway, or returns nil.
func CheckMasterKey(key string) error {
	for _, w := range weakMasterKeys {
		if strings.EqualFold(key, w) {
			return errors.New("the master key is a well-known example value")
		}
	}
	if len(key) < MinMasterKeyLength {
		return errors.New("the master key is shorter than 16 characters")
	}
	distinct := map[rune]bool{}
	for _, r := range key {
		distinct[r] = true
	}
	if len(distinct) < 6 {
		return errors.New("the master key repeats too few distinct characters")
	}
	return nil
}
