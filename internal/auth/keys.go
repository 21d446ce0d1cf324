package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// KeyPrefix starts every generated virtual key, as LiteLLM's do.
const KeyPrefix = "sk-"

// NewVirtualKey returns a fresh virtual key: the plaintext (shown to its
// owner once, never stored), its hash (what the store keeps) and its masked
// display name. 256 random bits make guessing hopeless and let the store use
// a plain, unsalted SHA-256 as the lookup key.
func NewVirtualKey() (plaintext, hash, name string) {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on supported platforms
	plaintext = KeyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return plaintext, HashKey(plaintext), MaskKey(plaintext)
}

// HashKey is the stored form of a key: hex SHA-256 of the plaintext.
func HashKey(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// MaskKey is LiteLLM's display form of a key ("sk-...abcd"): enough to tell
// keys apart in a list, useless to an attacker.
func MaskKey(plaintext string) string {
	if len(plaintext) < 8 {
		return KeyPrefix + "..."
	}
	return KeyPrefix + "..." + plaintext[len(plaintext)-4:]
}
