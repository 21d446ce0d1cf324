package auth

import (
	"strings"
	"testing"
)

func TestNewVirtualKey(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		key, hash, name := NewVirtualKey()
		if !strings.HasPrefix(key, "sk-") || len(key) != 3+43 {
			t.Fatalf("key %q", key)
		}
		if hash != HashKey(key) || len(hash) != 64 || strings.Contains(hash, key[3:]) {
			t.Fatalf("hash %q of %q", hash, key)
		}
		if name != "sk-..."+key[len(key)-4:] {
			t.Fatalf("name %q", name)
		}
		if seen[key] {
			t.Fatal("duplicate key")
		}
		seen[key] = true
	}
	// The hash is stable: the store finds a key by hashing what the client sent.
	if got := HashKey("sk-abc"); got != "1460db1b6902f8b1fc2a40d9381a24d0fd22c3bc1b2c6f999c521da73776fbe0" {
		t.Fatalf("HashKey(sk-abc) = %s", got)
	}
}
