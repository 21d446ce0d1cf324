package app

import (
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/router"
)

// defaultNumRetries is LiteLLM's num_retries when none is configured (the
// OpenAI SDK's default, which its Router adopts).
const defaultNumRetries = 2

// attemptSettings reads the retry and fallback keys of router_settings,
// and their legacy twins in litellm_settings (router_settings wins, as in
// LiteLLM).
func attemptSettings(cfg *config.Config) (router.Retries, router.Fallbacks) {
	rs, ls := &cfg.RouterSettings, &cfg.LiteLLMSettings
	r := router.Retries{NumRetries: defaultNumRetries}
	switch {
	case rs.NumRetries != nil:
		r.NumRetries = max(*rs.NumRetries, 0)
	case ls.NumRetries != nil:
		r.NumRetries = max(*ls.NumRetries, 0)
	}
	if rs.RetryAfter != nil {
		r.After = time.Duration(*rs.RetryAfter)
	}
	if rs.RetryPolicy != nil {
		r.Policy = retryPolicy(rs.RetryPolicy)
	}
	if len(rs.ModelGroupRetryPolicy) > 0 {
		r.Groups = make(map[string]router.RetryPolicy, len(rs.ModelGroupRetryPolicy))
		for g, p := range rs.ModelGroupRetryPolicy {
			r.Groups[g] = retryPolicy(&p)
		}
	}
	f := router.Fallbacks{
		Generic:       chains(rs.Fallbacks, ls.Fallbacks),
		ContextWindow: chains(rs.ContextWindowFallbacks, ls.ContextWindowFallbacks),
		ContentPolicy: chains(rs.ContentPolicyFallbacks, ls.ContentPolicyFallbacks),
		Default:       rs.DefaultFallbacks,
	}
	if f.Default == nil {
		f.Default = ls.DefaultFallbacks
	}
	if rs.MaxFallbacks != nil {
		f.Max = *rs.MaxFallbacks
		if f.Max == 0 {
			f.Max = -1 // max_fallbacks: 0 means none, not the default
		}
	}
	return r, f
}

func retryPolicy(p *config.RetryPolicy) router.RetryPolicy {
	var out router.RetryPolicy
	for _, c := range []struct {
		n     *int
		class router.ErrorClass
	}{
		{p.BadRequestErrorRetries, router.BadRequestError},
		{p.AuthenticationErrorRetries, router.AuthenticationError},
		{p.TimeoutErrorRetries, router.TimeoutError},
		{p.RateLimitErrorRetries, router.RateLimitError},
		{p.ContentPolicyViolationErrorRetries, router.ContentPolicyViolationError},
		{p.InternalServerErrorRetries, router.InternalServerError},
	} {
		if c.n != nil {
			out.Set(c.class, *c.n)
		}
	}
	return out
}

// chains flattens LiteLLM's list of single-entry maps ([{"gpt-4":
// ["gpt-3.5"]}, {"*": [...]}]); the first entry for a group is the one
// LiteLLM uses. The legacy list applies only when the router's is unset.
func chains(primary, legacy config.Fallbacks) map[string][]string {
	src := primary
	if src == nil {
		src = legacy
	}
	if len(src) == 0 {
		return nil
	}
	out := map[string][]string{}
	for _, m := range src {
		for group, list := range m {
			if _, seen := out[group]; !seen {
				out[group] = list
			}
		}
	}
	return out
}
