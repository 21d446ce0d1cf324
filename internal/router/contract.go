package router

import (
	"context"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// The seams between the parts of routing, so that each can be built and
// tested on its own:
//
//   - selection (router.go and strategy files): which deployment of a group
//     serves the next attempt;
//   - Health (cooldowns and background health checks): whether a
//     deployment may be picked at all, shared across replicas;
//   - the attempt loop (internal/proxy with retry.go and fallbacks.go
//     here): how many attempts, on which groups, after how long.
//
// The pipeline calls Pick before each attempt, then Begin when it sends and
// End when the attempt is over; End feeds both the strategies' statistics
// and Health.

// Selection is what Pick knows about the attempt it picks for.
type Selection struct {
	// Tags are the request's metadata.tags, for tag routing.
	Tags []string
	// PromptTokens estimates the prompt (for TPM caps and context windows).
	PromptTokens int64
	// Tried are the deployments this request already attempted; they are
	// picked again only when nothing else is usable.
	Tried []*provider.Deployment
	// Stream: the request streams, so latency-based routing ranks
	// deployments by time to first token.
	Stream bool
	// Context bounds the shared-counter round trip Pick makes for a
	// deployment with its own rpm/tpm (nil: context.Background()).
	Context context.Context
}

// NoDeploymentsError is Pick's answer when every deployment of a group is
// cooling down, unhealthy or at its own rpm/tpm: the client gets a fast 503
// with Retry-After, instead of an attempt that is known to fail.
type NoDeploymentsError struct {
	Group   string
	RetryAt time.Time // earliest recovery; zero when unknown
	Reason  string    // "cooling down", "unhealthy", "at capacity"; see the Reason constants
}

// The Reasons of a NoDeploymentsError that say why nothing was usable. The
// last two are not transient: no deployment of the group can serve the
// request as it is, so waiting does not help (RetryAt is zero).
const (
	ReasonCooling       = "cooling down"
	ReasonUnhealthy     = "unhealthy"
	ReasonAtCapacity    = "at capacity" // rpm, tpm or max_parallel_requests
	ReasonTags          = "no deployment serves the request's tags"
	ReasonContextWindow = "the prompt exceeds every deployment's max_input_tokens"
)

func (e *NoDeploymentsError) Error() string {
	return "no deployment of model group " + e.Group + " is available: " + e.Reason
}

// Attempt is the outcome of one attempt, as End reports it.
type Attempt struct {
	// Err is nil when the deployment answered successfully (for a stream:
	// its first bytes arrived). A failure after that is still reported
	// here, so that it counts against the deployment.
	Err *provider.Error
	// Latency is from sending to the response headers, or to the first
	// upstream byte of a stream (time to first token).
	Latency time.Duration
	// Streamed: Latency is a time to first token.
	Streamed bool
	// Tokens is the attempt's total usage, for TPM accounting (0 when
	// unknown or failed).
	Tokens int64
	// Reserved is the Selection.PromptTokens of the Pick this attempt
	// followed: Pick reserves that much of a deployment's tpm, and End
	// replaces the reservation with Tokens. Left 0, the prompt is counted
	// twice for deployments with a tpm (safe, but they fill up early).
	Reserved int64
}

// Health decides whether deployments may be picked: cooldowns after
// failures, and background health checks. Selection consults it for every
// candidate, so Usable must be cheap (no I/O, no allocation): shared state
// arrives asynchronously and is read from memory.
type Health interface {
	// Usable reports whether d may serve an attempt at now. When it may
	// not, until is when it may again (zero: unknown, e.g. unhealthy until
	// a health check passes).
	Usable(d *provider.Deployment, now time.Time) (ok bool, until time.Time)
	// Observe records an attempt's outcome; g is d's group, so that a
	// decision can weigh the rest of the group (never cool down more than a
	// share of it while others serve).
	Observe(g *Group, d *provider.Deployment, a Attempt, now time.Time)
}
