package router

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// The attempt loop's policy: which failures are worth another attempt, how
// many, after how long, and how many a gateway may make in all. The loop
// itself lives in internal/proxy; these are its decisions, kept apart so
// they can be tested without a pipeline.

// ErrorClass is LiteLLM's grouping of errors for retry_policy and
// allowed_fails_policy.
type ErrorClass uint8

// The classes of retry_policy, in LiteLLM's names.
const (
	BadRequestError ErrorClass = iota
	AuthenticationError
	TimeoutError
	RateLimitError
	ContentPolicyViolationError
	InternalServerError
	numClasses
)

var classNames = [numClasses]string{"BadRequestError", "AuthenticationError", "TimeoutError", "RateLimitError", "ContentPolicyViolationError", "InternalServerError"}

// String is the class's LiteLLM name.
func (c ErrorClass) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "unknown"
}

// Error codes providers classify into, which select special fallbacks.
const (
	CodeContextWindow = "context_length_exceeded"
	CodeContentPolicy = "content_policy_violation"
)

// Classify puts an attempt's error in its retry_policy class.
func Classify(e *provider.Error) ErrorClass {
	switch {
	case e.Code == CodeContentPolicy:
		return ContentPolicyViolationError
	case e.Status == 429:
		return RateLimitError
	case e.Type == "timeout" || e.Status == 408 || e.Status == 504:
		return TimeoutError
	case e.Status == 401 || e.Status == 403:
		return AuthenticationError
	case e.Status >= 500:
		return InternalServerError
	}
	return BadRequestError
}

// RetryPolicy is retry_policy: a number of retries per error class, each
// set or not (the zero value sets none).
type RetryPolicy struct {
	n   [numClasses]int
	set [numClasses]bool
}

// Set gives class c n retries.
func (p *RetryPolicy) Set(c ErrorClass, n int) {
	if c < numClasses {
		p.n[c], p.set[c] = max(n, 0), true
	}
}

// Get returns the retries set for class c.
func (p *RetryPolicy) Get(c ErrorClass) (n int, ok bool) {
	if c >= numClasses {
		return 0, false
	}
	return p.n[c], p.set[c]
}

// Retries is router_settings' retry configuration.
type Retries struct {
	// NumRetries is num_retries: retries per model group (LiteLLM's
	// default is 2; the zero value retries nothing).
	NumRetries int
	// After is retry_after: the least wait before retrying on a
	// deployment already tried.
	After time.Duration
	// Policy is retry_policy, and Groups model_group_retry_policy.
	Policy RetryPolicy
	Groups map[string]RetryPolicy
}

// MaxPerRequest bounds the num_retries a client may ask for, so that one
// request cannot buy itself an unbounded number of upstream attempts (the
// retry budget bounds them in aggregate; this bounds them per request).
const MaxPerRequest = 10

// Max is how many times a request to group may be retried after an error
// of class c. As in LiteLLM, a retry policy for the class wins (the
// group's own first), then the request's num_retries (perRequest; < 0:
// not given), then num_retries.
func (r *Retries) Max(group string, c ErrorClass, perRequest int) int {
	if p, ok := r.Groups[group]; ok {
		if n, ok := p.Get(c); ok {
			return n
		}
	}
	if n, ok := r.Policy.Get(c); ok {
		return n
	}
	if perRequest >= 0 {
		return min(perRequest, MaxPerRequest)
	}
	return r.NumRetries
}

// Explicit reports whether a retry policy names class c for group with a
// positive count: an operator's opt-in to retrying errors that are
// otherwise final (401 on one deployment of several with their own keys).
func (r *Retries) Explicit(group string, c ErrorClass) bool {
	if p, ok := r.Groups[group]; ok {
		if n, ok := p.Get(c); ok {
			return n > 0
		}
	}
	n, ok := r.Policy.Get(c)
	return ok && n > 0
}

// PossiblyAccepted reports an attempt that may have been received and
// processed upstream without an answer reaching us: a timeout after the
// request was written. Another attempt may be billed twice (and an agent
// may act twice), so it is made only for a client that sent an
// idempotency key.
func PossiblyAccepted(e *provider.Error) bool {
	return e.MayHaveBeenSent && (e.Type == "timeout" || e.Status == 408 || e.Status == 504)
}

// Retryable reports whether another attempt may succeed where this one
// failed: the provider says so, the client is still there, and the
// upstream cannot have accepted the request already (unless the client
// made it idempotent).
func Retryable(e *provider.Error, idempotent bool) bool {
	if e.Status == provider.StatusClientClosed {
		return false
	}
	if PossiblyAccepted(e) && !idempotent {
		return false
	}
	return e.Retryable
}

// Backoff is the wait before the nth retry (n ≥ 1) on a deployment that
// already failed this request. It is exponential with equal jitter: half
// of BackoffBase·2^(n−1) (capped at BackoffCap) plus a random part of the
// other half, so concurrent requests spread out but always wait some. It
// is never less than atLeast (retry_after, or the upstream's
// Retry-After). rnd is a number in [0, 1).
func Backoff(n int, atLeast time.Duration, rnd float64) time.Duration {
	d := BackoffBase
	for i := 1; i < n && d < BackoffCap; i++ {
		d *= 2
	}
	d = min(d, BackoffCap)
	d = d/2 + time.Duration(rnd*float64(d/2))
	return max(d, atLeast)
}

// Backoff bounds, and MaxWait: a retry that would have to wait longer
// (an upstream asking for minutes) is not made; the client gets the error
// and its Retry-After instead of a connection held open.
const (
	BackoffBase = 250 * time.Millisecond
	BackoffCap  = 8 * time.Second
	MaxWait     = 10 * time.Second
)

// Sleep waits d or until ctx ends, reporting whether the whole wait
// passed. A wait that would outlast ctx's deadline is not started: the
// attempt after it could not finish anyway.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Jitter is a source of Backoff's rnd.
func Jitter() float64 { return rand.Float64() }

// The retry budget (Envoy's retry_budget, as a rate rather than a
// concurrency): every attempt beyond a request's first — retries and
// fallbacks alike — is allowed only while such attempts stay within
// BudgetPercent of the client requests of the last BudgetWindow, or
// within BudgetMin when that is more, so a quiet gateway can still retry.
// Under a full outage upstream attempts so stay within 1.2× client
// requests instead of multiplying the load on a provider that is already
// down.
const (
	BudgetPercent = 20
	BudgetMin     = 3
	BudgetWindow  = 10 * time.Second
	budgetBuckets = 10
)

// Budget is one retry budget, per replica. The zero value is ready.
type Budget struct {
	mu      sync.Mutex // serialises bucket turnover and retry decisions
	buckets [budgetBuckets]bucket
}

type bucket struct {
	slot     atomic.Int64 // which BudgetWindow/budgetBuckets period it counts
	requests atomic.Int64
	retries  atomic.Int64
}

const bucketSpan = BudgetWindow / budgetBuckets

// Request counts one client request. It is on every request's path, so it
// is an atomic add in the common case.
func (b *Budget) Request(now time.Time) {
	b.bucket(now.UnixNano() / int64(bucketSpan)).requests.Add(1)
}

// Retry reports whether one more attempt beyond a request's first is
// within the budget, and counts it when it is.
func (b *Budget) Retry(now time.Time) bool {
	slot := now.UnixNano() / int64(bucketSpan)
	cur := b.bucket(slot)
	b.mu.Lock()
	defer b.mu.Unlock()
	var requests, retries int64
	for i := range b.buckets {
		bk := &b.buckets[i]
		if s := bk.slot.Load(); s > slot-budgetBuckets && s <= slot {
			requests += bk.requests.Load()
			retries += bk.retries.Load()
		}
	}
	if retries >= max(BudgetMin, requests*BudgetPercent/100) {
		return false
	}
	cur.retries.Add(1)
	return true
}

// bucket returns the bucket of slot, emptied first when it last counted an
// older period.
func (b *Budget) bucket(slot int64) *bucket {
	bk := &b.buckets[slot%budgetBuckets]
	if bk.slot.Load() == slot {
		return bk
	}
	b.mu.Lock()
	if bk.slot.Load() != slot {
		bk.requests.Store(0)
		bk.retries.Store(0)
		bk.slot.Store(slot)
	}
	b.mu.Unlock()
	return bk
}
