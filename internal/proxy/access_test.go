package proxy

import (
	"testing"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/store"
)

func TestAccess(t *testing.T) {
	key := func(models []string, aliases map[string]string) *auth.Principal {
		return &auth.Principal{Key: &store.Key{Models: models, Aliases: aliases}}
	}
	for _, tc := range []struct {
		p         *auth.Principal
		model     string
		want      string
		forbidden bool
	}{
		{&auth.Principal{Admin: true}, "anything", "anything", false},
		{key(nil, nil), "gpt", "gpt", false},
		{key([]string{"gpt"}, nil), "gpt", "gpt", false},
		{key([]string{"gpt"}, nil), "claude", "", true},
		{key([]string{"openai/*"}, nil), "openai/gpt-4o", "openai/gpt-4o", false},
		{key([]string{"openai/*"}, nil), "anthropic/claude", "", true},
		{key([]string{"all-proxy-models"}, nil), "x", "x", false},
		{key([]string{"gpt-4o"}, map[string]string{"smart": "gpt-4o"}), "smart", "gpt-4o", false},
		{key([]string{"gpt-4o"}, map[string]string{"smart": "claude"}), "smart", "", true},
	} {
		got, err := access(tc.p, tc.model)
		if tc.forbidden {
			if e := provider.AsError(err); err == nil || e.Status != 403 || e.Type != "key_model_access_denied" {
				t.Errorf("%v %s: err %v, want 403", tc.p.Key, tc.model, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v %s: %q %v, want %q", tc.p.Key, tc.model, got, err, tc.want)
		}
	}
}
