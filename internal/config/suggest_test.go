package config

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"", "abc", 3},
		{"api_bsae", "api_base", 1}, // adjacent swap
		{"api_bae", "api_base", 1},
		{"api_baase", "api_base", 1},
		{"kitten", "sitting", 3},
		{"modle_name", "model_name", 1},
		{"tpm", "rpm", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestClosestKey(t *testing.T) {
	cands := []string{"api_base", "api_key", "api_version", "model", "rpm", "tpm", "timeout", "stream_timeout"}
	tests := []struct {
		key, want string
		ok        bool
	}{
		{"api_bsae", "api_base", true},
		{"API_BASE", "api_base", true},
		{"apiBase", "api_base", true},
		{"api-key", "api_key", true},
		{"timout", "timeout", true},
		{"modle", "model", true},
		{"rpn", "rpm", true},
		{"xyz", "", false},
		{"id", "", false},    // too short to guess
		{"model", "", false}, // exact matches are not suggestions
		{"completely_different", "", false},
	}
	for _, tt := range tests {
		got, ok := closestKey(tt.key, cands)
		if got != tt.want || ok != tt.ok {
			t.Errorf("closestKey(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}
