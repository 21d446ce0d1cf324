package provider

import "testing"

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, key, want string }{
		{"Incorrect API key provided: sk-proj-abc****wxyz.", "", "Incorrect API key provided: [REDACTED]"},
		{"bad key my-own-upstream-secret-123 here", "my-own-upstream-secret-123", "bad key [REDACTED] here"},
		{"API key not valid: AIzaSyA-1234567890abcdefghijklmnop", "", "API key not valid: [REDACTED]"},
		{"azure key 0123456789abcdef0123456789abcdef rejected", "", "azure key [REDACTED] rejected"},
		{"request 3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b failed", "", "request 3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b failed"},
		{"The model `gpt-5` does not exist", "", "The model `gpt-5` does not exist"},
		{"task-sk-1 is not a key", "", "task-sk-1 is not a key"},
	} {
		if got := Redact(tc.in, Secret(tc.key)); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
