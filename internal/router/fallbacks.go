package router

import "github.com/switchboard-gw/switchboard/internal/provider"

// Fallbacks is router_settings' fallback configuration: which model groups
// serve a request its own group could not.
type Fallbacks struct {
	// Generic is fallbacks ({"gpt-4": ["gpt-3.5-turbo"]}; "*" applies to
	// every group), used for errors another model may not have: rate
	// limits, outages, timeouts, no deployment available.
	Generic map[string][]string
	// ContextWindow is context_window_fallbacks, for a prompt too long
	// for the group (an error coded context_length_exceeded, or a prompt
	// known up front to exceed every deployment's max_input_tokens).
	ContextWindow map[string][]string
	// ContentPolicy is content_policy_fallbacks, for a refusal coded
	// content_policy_violation.
	ContentPolicy map[string][]string
	// Default is default_fallbacks: the generic chain of a group that has
	// none of its own.
	Default []string
	// Max is max_fallbacks: how many fallback groups one request may try;
	// 0 is LiteLLM's default (DefaultMaxFallbacks), negative is none.
	Max int
}

// DefaultMaxFallbacks is LiteLLM's ROUTER_MAX_FALLBACKS.
const DefaultMaxFallbacks = 5

// FallbackKind is which fallback list a failure selects.
type FallbackKind uint8

// The kinds, by the failure that selects them.
const (
	NoFallback FallbackKind = iota
	GenericFallback
	ContextWindowFallback
	ContentPolicyFallback
)

// KindOf is the fallback list that applies after a group failed with e
// (nil: no deployment was available). Context-window and content-policy
// errors select only their own lists — another model with the same window
// or the same policy would fail alike, and these errors are not worth a
// generic fallback. Other errors fall back only if another attempt could
// succeed at all: a malformed request fails everywhere, and an attempt
// the upstream may have accepted is not repeated elsewhere either.
func KindOf(e *provider.Error, idempotent bool) FallbackKind {
	switch {
	case e == nil:
		return GenericFallback
	case e.Code == CodeContextWindow:
		return ContextWindowFallback
	case e.Code == CodeContentPolicy:
		return ContentPolicyFallback
	case Retryable(e, idempotent):
		return GenericFallback
	}
	return NoFallback
}

// Chain returns the fallback groups for a request to group after a failure
// of kind k, in order (the group itself may be among them; callers skip
// groups already tried). perRequest, when not nil, is the request's own
// "fallbacks", which replaces the configured generic chain.
func (f *Fallbacks) Chain(group string, k FallbackKind, perRequest []string) []string {
	switch k {
	case ContextWindowFallback:
		return lookup(f.ContextWindow, group)
	case ContentPolicyFallback:
		return lookup(f.ContentPolicy, group)
	case GenericFallback:
		if perRequest != nil {
			return perRequest
		}
		if c := lookup(f.Generic, group); c != nil {
			return c
		}
		return f.Default
	}
	return nil
}

// MaxFallbacks is max_fallbacks, or its default when unset.
func (f *Fallbacks) MaxFallbacks() int {
	switch {
	case f.Max < 0:
		return 0
	case f.Max == 0:
		return DefaultMaxFallbacks
	}
	return f.Max
}

// HasContextWindow reports whether group has context_window_fallbacks, so
// that a prompt known to be too long can go to them without a failed
// attempt first.
func (f *Fallbacks) HasContextWindow(group string) bool {
	return len(lookup(f.ContextWindow, group)) > 0
}

func lookup(m map[string][]string, group string) []string {
	if c, ok := m[group]; ok {
		return c
	}
	return m["*"]
}
