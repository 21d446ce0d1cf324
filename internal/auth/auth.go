// Package auth turns the credential a client presents into a Principal. Today
// that is the master key; virtual keys (hashed, cached, looked up in the
// store) plug into the same Authenticate call.
package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"
)

// Principal is who a request acts as.
type Principal struct {
	// Admin may use every route, including management.
	Admin bool
	// Anonymous marks the open mode of a gateway without a master key.
	Anonymous bool
}

var (
	masterPrincipal    = &Principal{Admin: true}
	anonymousPrincipal = &Principal{Admin: true, Anonymous: true}
)

// ErrNoKey and ErrInvalidKey are the two ways authentication fails.
var (
	ErrNoKey      = errors.New("no API key passed")
	ErrInvalidKey = errors.New("invalid API key")
)

// Authenticator checks request credentials.
type Authenticator struct {
	masterHash [sha256.Size]byte
	hasMaster  bool
}

// New returns an Authenticator for masterKey; an empty key means every
// request is let through (the gateway then listens on loopback only).
func New(masterKey string) *Authenticator {
	a := &Authenticator{}
	if masterKey != "" {
		a.masterHash = sha256.Sum256([]byte(masterKey))
		a.hasMaster = true
	}
	return a
}

// Open reports whether no master key is configured.
func (a *Authenticator) Open() bool { return !a.hasMaster }

// Authenticate resolves token (the bare key, without "Bearer ").
// Hashing first makes the comparison constant-time in the key's length too.
func (a *Authenticator) Authenticate(token []byte) (*Principal, error) {
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
	return nil, ErrInvalidKey
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
