// Package auth turns the credential a client presents into a Principal: the
// master key, or a virtual key (stored as its SHA-256, looked up through a
// small cache in front of the store).
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
	ErrExpiredKey = errors.New("key has expired")
	// ErrUnavailable: the key store could not be asked. Requests fail
	// closed (a key that cannot be checked is not let through).
	ErrUnavailable = errors.New("key store unavailable")
)

// KeyLookup finds a virtual key by its hash (store.KeyStore does).
type KeyLookup interface {
	GetKey(ctx context.Context, tokenHash string) (*store.Key, error)
}

// Authenticator checks request credentials: the master key, then virtual
// keys through a small in-process cache in front of the store.
type Authenticator struct {
	masterHash [sha256.Size]byte
	hasMaster  bool
	keys       KeyLookup
	now        func() time.Time

	mu    sync.RWMutex
	cache map[[sha256.Size]byte]cached
}

// cached is a lookup result; p == nil remembers an unknown key, so that a
// client retrying a bad key does not reach the database each time.
type cached struct {
	p       *Principal
	fetched time.Time
}

const (
	// cacheTTL bounds how stale a key seen by this replica can be when an
	// update made on another replica has not invalidated it here.
	cacheTTL = 10 * time.Second
	// maxCached bounds the cache; past it, entries are dropped at random
	// (Go's map iteration order), which keeps memory flat under key floods.
	maxCached = 100_000
	// lookupTimeout bounds a store lookup on a cache miss.
	lookupTimeout = 5 * time.Second
)

// New returns an Authenticator for masterKey and the virtual keys in keys
// (nil: master key only). An empty master key means every request is let
// through (the gateway then listens on loopback only).
func New(masterKey string, keys KeyLookup) *Authenticator {
	a := &Authenticator{keys: keys, now: time.Now, cache: map[[sha256.Size]byte]cached{}}
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
	if a.keys == nil || !bytes.HasPrefix(token, []byte(KeyPrefix)) {
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
	return p, nil
}

func (a *Authenticator) lookup(ctx context.Context, h [sha256.Size]byte) (*Principal, error) {
	now := a.now()
	a.mu.RLock()
	c, ok := a.cache[h]
	a.mu.RUnlock()
	if ok && now.Sub(c.fetched) < cacheTTL {
		return c.p, nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	k, err := a.keys.GetKey(ctx, hex.EncodeToString(h[:]))
	cancel()
	var p *Principal
	switch {
	case err == nil:
		p = &Principal{Key: k}
	case errors.Is(err, store.ErrNotFound):
	default:
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	a.mu.Lock()
	if len(a.cache) >= maxCached {
		for drop := range a.cache {
			delete(a.cache, drop)
			if len(a.cache) < maxCached*9/10 {
				break
			}
		}
	}
	a.cache[h] = cached{p: p, fetched: now}
	a.mu.Unlock()
	return p, nil
}

// Invalidate drops a key (by its hex hash) from the cache, so an update,
// block or delete takes effect on this replica's next request.
func (a *Authenticator) Invalidate(keyHash string) {
	var h [sha256.Size]byte
	if b, err := hex.DecodeString(keyHash); err == nil && len(b) == len(h) {
		copy(h[:], b)
		a.mu.Lock()
		delete(a.cache, h)
		a.mu.Unlock()
	}
}

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
