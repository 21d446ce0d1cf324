package router

import (
	"slices"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

func TestFallbackChains(t *testing.T) {
	f := Fallbacks{
		Generic:       map[string][]string{"gpt-4": {"gpt-4o", "claude"}, "*": {"any-backup"}},
		ContextWindow: map[string][]string{"gpt-4": {"gpt-4-128k"}},
		ContentPolicy: map[string][]string{"*": {"lenient"}},
		Default:       []string{"default-backup"},
	}
	for _, tc := range []struct {
		group      string
		k          FallbackKind
		perRequest []string
		want       []string
	}{
		{"gpt-4", GenericFallback, nil, []string{"gpt-4o", "claude"}},
		{"other", GenericFallback, nil, []string{"any-backup"}},
		{"gpt-4", GenericFallback, []string{"mine"}, []string{"mine"}},
		{"gpt-4", GenericFallback, []string{}, []string{}}, // "fallbacks": [] turns them off
		{"gpt-4", ContextWindowFallback, nil, []string{"gpt-4-128k"}},
		{"other", ContextWindowFallback, nil, nil}, // no generic fallback for a prompt too long
		{"gpt-4", ContentPolicyFallback, []string{"mine"}, []string{"lenient"}},
		{"gpt-4", NoFallback, nil, nil},
	} {
		if got := f.Chain(tc.group, tc.k, tc.perRequest); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("Chain(%s, %d, %v) = %v, want %v", tc.group, tc.k, tc.perRequest, got, tc.want)
		}
	}
	noStar := Fallbacks{Generic: map[string][]string{"a": {"b"}}, Default: []string{"d"}}
	if got := noStar.Chain("x", GenericFallback, nil); !slices.Equal(got, []string{"d"}) {
		t.Errorf("default_fallbacks for a group without its own: %v", got)
	}
	if !f.HasContextWindow("gpt-4") || f.HasContextWindow("other") {
		t.Error("HasContextWindow")
	}
	for max, want := range map[int]int{0: DefaultMaxFallbacks, -1: 0, 2: 2} {
		if got := (&Fallbacks{Max: max}).MaxFallbacks(); got != want {
			t.Errorf("Max %d: %d, want %d", max, got, want)
		}
	}
}

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    *provider.Error
		want FallbackKind
	}{
		{"nothing available", nil, GenericFallback},
		{"rate limited", &provider.Error{Status: 429, Retryable: true, MayHaveBeenSent: true}, GenericFallback},
		{"outage", &provider.Error{Status: 503, Retryable: true}, GenericFallback},
		{"bad request", &provider.Error{Status: 400, MayHaveBeenSent: true}, NoFallback},
		{"bad key", &provider.Error{Status: 401}, NoFallback},
		{"window", &provider.Error{Status: 400, Code: CodeContextWindow}, ContextWindowFallback},
		{"policy", &provider.Error{Status: 400, Code: CodeContentPolicy}, ContentPolicyFallback},
		{"timeout after sending", &provider.Error{Status: 504, Type: "timeout", Retryable: true, MayHaveBeenSent: true}, NoFallback},
	} {
		if got := KindOf(tc.e, false); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
