// Package policy admits requests against the limits of the principal they
// act as: requests and tokens per minute and parallel requests, per key and
// per key+model. Admission is all-or-nothing across every limit in one
// atomic counter operation, so a request refused by one limit consumes
// nothing from the others; what was taken is settled when the request ends.
package policy

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// Window is the rate-limit window (LiteLLM's limits are per minute).
const Window = time.Minute

// slotTTL expires a parallel slot a crashed replica never released.
const slotTTL = 10 * time.Minute

// maxLimits is the most limits one request is admitted against.
const maxLimits = 8

// Limiter enforces limits over a counter store.
type Limiter struct {
	counters counter.Store
	log      *slog.Logger
	failOpen atomic.Bool // the counters are unreachable and limits are not enforced
}

// New returns a Limiter over counters (in memory, or Redis for limits that
// hold across replicas).
func New(counters counter.Store, log *slog.Logger) *Limiter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Limiter{counters: counters, log: log}
}

// FailingOpen reports whether rate limits are currently not enforced because
// the counters are unreachable.
func (l *Limiter) FailingOpen() bool { return l != nil && l.failOpen.Load() }

// Admission is one request's hold on its limits. It lives in the pipeline's
// pooled request state, so admitting allocates nothing.
type Admission struct {
	limits    [maxLimits]counter.Limit
	names     [maxLimits]string // what each limit is, for messages
	remaining [maxLimits]int64
	n         int
	decision  counter.Decision
	tokens    int64 // the token estimate charged at admission
	held      bool
}

// Held reports whether the request holds anything to settle.
func (a *Admission) Held() bool { return a.held }

// Admit checks every limit of p for a request to model that is estimated to
// use tokens, and takes them all or none.
func (l *Limiter) Admit(ctx context.Context, p *auth.Principal, model string, tokens int64, a *Admission) error {
	*a = Admission{tokens: tokens}
	if l == nil || p == nil || p.Key == nil {
		return nil
	}
	k := p.Key
	base := "{k:" + k.TokenHash + "}:"
	add := func(key, name string, kind counter.Kind, max *int64, amount int64, window time.Duration) {
		if max == nil || a.n == maxLimits {
			return
		}
		a.limits[a.n] = counter.Limit{Key: key, Kind: kind, Max: *max, Amount: amount, Window: window}
		a.names[a.n] = name
		a.n++
	}
	add(base+"rpm", "requests per minute", counter.Requests, k.RPMLimit, 1, Window)
	add(base+"tpm", "tokens per minute", counter.Tokens, k.TPMLimit, tokens, Window)
	add(base+"par", "parallel requests", counter.Concurrency, k.MaxParallelRequests, 1, slotTTL)
	if v, ok := k.ModelRPMLimit[model]; ok {
		add(base+"m:"+model+":rpm", "requests per minute for "+model, counter.Requests, &v, 1, Window)
	}
	if v, ok := k.ModelTPMLimit[model]; ok {
		add(base+"m:"+model+":tpm", "tokens per minute for "+model, counter.Tokens, &v, tokens, Window)
	}
	if a.n == 0 {
		return nil
	}
	a.decision.Remaining = a.remaining[:0]
	if err := l.counters.Admit(ctx, a.limits[:a.n], &a.decision); err != nil {
		if errors.Is(err, counter.ErrUnavailable) {
			// Rate limits fail open: a counter outage must not take the
			// gateway down (budgets, which fail closed, are separate).
			// Logged once per outage, not per request.
			if l.failOpen.CompareAndSwap(false, true) {
				l.log.Warn("rate-limit counters unreachable: limits are not enforced until they return", "error", err.Error())
			}
			return nil
		}
		return err
	}
	if l.failOpen.Load() && l.failOpen.CompareAndSwap(true, false) {
		l.log.Info("rate-limit counters reachable again: limits are enforced")
	}
	if !a.decision.Allowed {
		i := a.decision.Denied
		e := &provider.Error{Status: 429, Type: "rate_limit_error", Code: "429",
			Message:    "Rate limit exceeded for this key: " + a.names[i] + ", limit " + strconv.FormatInt(a.limits[i].Max, 10),
			RetryAfter: a.decision.RetryAfter}
		if a.limits[i].Kind == counter.Concurrency {
			e.RetryAfter = time.Second
		}
		return e
	}
	a.held = true
	return nil
}

// Headers returns LiteLLM's x-ratelimit-* values for the key's request and
// token limits (-1 when the key has none).
func (a *Admission) Headers() (limitRequests, remainingRequests, limitTokens, remainingTokens int64) {
	limitRequests, remainingRequests, limitTokens, remainingTokens = -1, -1, -1, -1
	for i := 0; i < a.n && i < len(a.decision.Remaining); i++ {
		switch a.limits[i].Kind {
		case counter.Requests:
			if limitRequests < 0 {
				limitRequests, remainingRequests = a.limits[i].Max, a.decision.Remaining[i]
			}
		case counter.Tokens:
			if limitTokens < 0 {
				limitTokens, remainingTokens = a.limits[i].Max, a.decision.Remaining[i]
			}
		}
	}
	return
}

// Settle ends a request: parallel slots are released and token counters are
// corrected from the estimate to what was actually used. It runs for every
// admitted request, whatever its outcome.
func (l *Limiter) Settle(ctx context.Context, a *Admission, actualTokens int64) {
	if l == nil || !a.held {
		return
	}
	a.held = false
	var changes [maxLimits]counter.Change
	n := 0
	for i := 0; i < a.n; i++ {
		lim := &a.limits[i]
		switch lim.Kind {
		case counter.Concurrency:
			changes[n] = counter.Change{Key: lim.Key, Kind: lim.Kind, Delta: -1, Window: lim.Window}
			n++
		case counter.Tokens:
			if d := actualTokens - a.tokens; d != 0 {
				changes[n] = counter.Change{Key: lim.Key, Kind: lim.Kind, Delta: d, Window: lim.Window}
				n++
			}
		}
	}
	if n > 0 {
		// Settlement must happen even when the client's request was cancelled.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = l.counters.Adjust(sctx, changes[:n])
		cancel()
	}
}
