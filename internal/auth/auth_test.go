package auth

import "testing"

func TestAuthenticate(t *testing.T) {
	a := New("sk-test-0123456789abcdef")
	for _, tc := range []struct {
		token string
		want  error
	}{
		{"sk-test-0123456789abcdef", nil},
		{"sk-test-0123456789abcdeg", ErrInvalidKey},
		{"sk-test-0123456789abcdef ", ErrInvalidKey},
		{"", ErrNoKey},
	} {
		p, err := a.Authenticate([]byte(tc.token))
		if err != tc.want {
			t.Errorf("Authenticate(%q) error = %v, want %v", tc.token, err, tc.want)
		}
		if err == nil && !p.Admin {
			t.Errorf("master key is not admin")
		}
	}
	if p, err := New("").Authenticate(nil); err != nil || !p.Anonymous {
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
