package router

import (
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// Cooldowns take a deployment out of rotation after failures that say
// something about the deployment, so that the next request of its group goes
// elsewhere. The rules follow LiteLLM's (allowed_fails, allowed_fails_policy,
// cooldown_time, disable_cooldowns) with the safety LiteLLM lacks
// (reliability.md §1.6): a cap on the share of a group cooled at once, a
// single probe after a cooldown, and growing cooldowns for a deployment that
// keeps failing its probes.

// failClass is what kind of failure an attempt was, for counting; the
// classes are allowed_fails_policy's.
type failClass uint8

const (
	classNone          failClass = iota // says nothing about the deployment
	classRateLimit                      // 429, 402 quota exhausted
	classTimeout                        // 408, upstream 504, the deployment's own timeout
	classServer                         // 5xx, connection failures
	classNotFound                       // 404: the deployment's model does not exist
	classAuth                           // 401, 403: counted only when a policy asks for it
	classContentPolicy                  // counted only when a policy asks for it
	numFailClasses
)

var failClassNames = [numFailClasses]string{"", "rate_limit", "timeout", "server_error", "not_found", "auth", "content_policy"}

func (c failClass) String() string { return failClassNames[c] }

// classify decides whether a failed attempt counts against its deployment.
//
//   - A client that went away (499), a prompt over the context window and
//     every other 4xx the request itself caused (400, 413, 422, …) never
//     count: the same request would fail on any deployment, and cooling
//     down healthy deployments because of one bad client is how LiteLLM
//     users saw whole groups vanish.
//   - A timeout counts when the deployment's own timeout or stream_timeout
//     ran out (the provider marks it Retryable); the request's overall
//     deadline running out is the client's budget, not the deployment's
//     fault, and a client with a tiny x-litellm-timeout must not be able to
//     cool deployments down.
//   - A 404 counts when it says the deployment's model does not exist
//     (modelMissing), as LiteLLM counts 404s; one about the request does not.
//   - 401/403 and content-policy refusals get their own classes, which count
//     only when allowed_fails_policy names them (see resolveCoolRules).
//   - 402 (the provider account is out of credit) is counted with 429: it
//     is the deployment's capacity, and it will not come back by itself.
func classifyFailure(e *provider.Error) failClass {
	if e == nil {
		return classNone
	}
	switch {
	case e.Status == provider.StatusClientClosed:
		return classNone
	case e.Code == "context_length_exceeded":
		return classNone
	case e.Code == "content_policy_violation":
		return classContentPolicy
	case e.Status == http.StatusTooManyRequests, e.Status == http.StatusPaymentRequired:
		return classRateLimit
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden:
		return classAuth
	case e.Status == http.StatusNotFound:
		if modelMissing(e) {
			return classNotFound
		}
		return classNone
	case e.Status == http.StatusRequestTimeout:
		return classTimeout
	case e.Status == http.StatusGatewayTimeout || e.Type == "timeout":
		if !e.Retryable {
			return classNone // the request's own deadline
		}
		return classTimeout
	case e.Code == "upstream_response_too_large":
		return classNone // the answer to this request is too large, not the deployment
	case e.Status >= 500 || e.Status == 0:
		return classServer
	}
	return classNone
}

// modelMissing tells a 404 about the deployment's model (OpenAI's
// model_not_found, Azure's DeploymentNotFound, Gemini's "models/… is not
// found", Ollama's "model … not found") from one about the request, such as
// an operation the upstream does not have: only the first says the
// deployment is misconfigured, and the second must not let one client cool
// deployments down.
func modelMissing(e *provider.Error) bool {
	switch e.Code {
	case "model_not_found", "DeploymentNotFound", "deployment_not_found":
		return true
	}
	msg := strings.ToLower(e.Message)
	return strings.Contains(msg, "model") || strings.Contains(msg, "deployment")
}

// FailPolicy is allowed_fails_policy: per error class, how many failures in
// a minute a deployment may have before it is cooled down (nil: not set).
type FailPolicy struct {
	BadRequest             *int // accepted for compatibility; a 400 never counts (see classify)
	Authentication         *int
	Timeout                *int
	RateLimit              *int
	ContentPolicyViolation *int
	InternalServer         *int
}

func (p *FailPolicy) forClass(c failClass) *int {
	switch c {
	case classRateLimit:
		return p.RateLimit
	case classTimeout:
		return p.Timeout
	case classServer:
		return p.InternalServer
	case classAuth:
		return p.Authentication
	case classContentPolicy:
		return p.ContentPolicyViolation
	}
	return nil
}

// Defaults of the cooldown rules.
const (
	// DefaultCooldownTime is LiteLLM's DEFAULT_COOLDOWN_TIME_SECONDS.
	DefaultCooldownTime = 5 * time.Second
	// DefaultMaxCooldown caps the doubling of a deployment that keeps
	// failing its probe (Envoy's max_ejection_time plays the same role); a
	// configured cooldown_time above it wins.
	DefaultMaxCooldown = 5 * time.Minute
	// DefaultMaxCooldownShare is router_settings.max_cooldown_share: at most
	// half of a group cooled down while the rest serve.
	DefaultMaxCooldownShare = 0.5
	// singleDeploymentAllowedFails is LiteLLM's DEFAULT_ALLOWED_FAILS, used
	// for a group of one: cooling its only deployment turns the provider's
	// real error into "no deployments", so it takes a sustained failure
	// (more than 3 in a minute), not a blip.
	singleDeploymentAllowedFails = 3
	// failWindow is allowed_fails' window (LiteLLM counts per minute).
	failWindow = time.Minute
	// maxRetryAfter bounds a provider's Retry-After: a day-long value is
	// honoured as an hour, after which one probe asks again.
	maxRetryAfter = time.Hour
	// servingWindow is how recent a success must be for a deployment to
	// count as serving, which is what lets the share cap hold other
	// deployments in rotation. Without a recent success there is nothing
	// to protect: the whole group is failing, and cooling all of it turns
	// attempts known to fail into fast 503s.
	servingWindow = 5 * time.Second
	// probeEvery is how often a deployment whose cooldown expired lets one
	// attempt through until the first of them reports back. Usable cannot
	// know whether the Pick it said yes to chose this deployment, so the
	// grant lapses after this long rather than waiting for an outcome that
	// may never come.
	probeEvery = time.Second
)

// coolRules are one deployment's cooldown rules, resolved once.
type coolRules struct {
	// allowed is, per class, the failures a minute tolerated before a
	// cooldown; -1: the class never causes one.
	allowed [numFailClasses]int32
	base    time.Duration // cooldown_time
	never   bool          // disable_cooldowns, or the deployment's cooldown_time: 0
}

// resolveCoolRules applies LiteLLM's precedence, most specific first: the
// deployment's allowed_fails_policy entry, its allowed_fails, the router's
// policy entry, the router's allowed_fails, then the default — 0 (cool on
// the first failure, so traffic moves within one request) when the group
// has other deployments to take it, singleDeploymentAllowedFails otherwise.
//
// 401/403 and content-policy refusals count only when a policy names their
// class. The issue and LiteLLM's users agree that a 400 or 401 must not cool
// a deployment down by default (a bad request looks the same everywhere);
// an operator who knows that a 401 from a provider means a revoked key of
// that deployment opts in with AuthenticationErrorAllowedFails.
// BadRequestErrorAllowedFails is accepted and has no effect: a 400 is the
// client's.
func resolveCoolRules(cfg *HealthConfig, dep *DeploymentHealth, groupSize int) coolRules {
	var r coolRules
	def := int32(0)
	if groupSize <= 1 {
		def = singleDeploymentAllowedFails
	}
	for c := classRateLimit; c < numFailClasses; c++ {
		optIn := c == classAuth || c == classContentPolicy
		v := int32(-1)
		if !optIn {
			v = def
		}
		candidates := []*int{dep.AllowedFailsPolicy.forClass(c), nil, cfg.AllowedFailsPolicy.forClass(c), nil}
		if !optIn {
			candidates[1], candidates[3] = dep.AllowedFails, cfg.AllowedFails
		}
		for _, p := range candidates {
			if p != nil {
				v = int32(max(0, min(*p, math.MaxInt32)))
				break
			}
		}
		r.allowed[c] = v
	}
	r.base = DefaultCooldownTime
	switch {
	case dep.CooldownTime != nil:
		r.base = *dep.CooldownTime
		// LiteLLM: a deployment's cooldown_time of 0 turns its cooldowns off.
		r.never = r.base <= 0
	case cfg.CooldownTime != nil && *cfg.CooldownTime > 0:
		r.base = *cfg.CooldownTime
	}
	r.never = r.never || cfg.DisableCooldowns
	return r
}

// cooldownFor is how long a cooldown lasts: cooldown_time, doubled for
// every probe that failed since the deployment last served (a deployment
// that is still down is asked less and less often), capped at maxCooldown
// unless cooldown_time itself is longer; then at least the provider's
// Retry-After, because asking before it is over is a request known to fail.
func cooldownFor(base time.Duration, strikes int, retryAfter, maxCooldown time.Duration) time.Duration {
	d := base
	limit := max(maxCooldown, base)
	for i := 0; i < strikes && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	if retryAfter > d {
		d = min(retryAfter, max(maxRetryAfter, base))
	}
	return d
}

// EventKind says what an Event tells the other replicas.
type EventKind uint8

// The kinds of Event.
const (
	// EventCooled: a deployment was cooled down for Duration from now.
	EventCooled EventKind = iota + 1
	// EventRecovered: the probe after cooldown Epoch succeeded.
	EventRecovered
)

// Event is a cooldown decision, shared between replicas so that a
// deployment cooled on one is avoided by all.
type Event struct {
	Kind       EventKind
	Deployment string // the deployment's ID
	// Epoch names one cooldown, so that a recovery ends the cooldown it was
	// a probe of and not a newer one decided elsewhere since.
	Epoch uint64
	// Duration is the cooldown from the moment the event is received
	// (relative, so that replicas' clocks need not agree).
	Duration time.Duration
	Strikes  int    // failed probes before this cooldown
	Reason   string // the failure class, e.g. "rate_limit"
}

// String is the wire form: "c|epoch|ms|strikes|reason|id" or "r|epoch|id".
// The id is last because it may contain the separator.
func (e Event) String() string {
	epoch := strconv.FormatUint(e.Epoch, 16)
	switch e.Kind {
	case EventCooled:
		return "c|" + epoch + "|" + strconv.FormatInt(e.Duration.Milliseconds(), 10) + "|" + strconv.Itoa(e.Strikes) + "|" + e.Reason + "|" + e.Deployment
	case EventRecovered:
		return "r|" + epoch + "|" + e.Deployment
	}
	return ""
}

var errBadEvent = errors.New("router: malformed cooldown event")

// ParseEvent reads an Event's wire form.
func ParseEvent(s string) (Event, error) {
	kind, rest, ok := strings.Cut(s, "|")
	if !ok {
		return Event{}, errBadEvent
	}
	epochText, rest, ok := strings.Cut(rest, "|")
	if !ok {
		return Event{}, errBadEvent
	}
	epoch, err := strconv.ParseUint(epochText, 16, 64)
	if err != nil || epoch == 0 {
		return Event{}, errBadEvent
	}
	switch kind {
	case "r":
		if rest == "" {
			return Event{}, errBadEvent
		}
		return Event{Kind: EventRecovered, Epoch: epoch, Deployment: rest}, nil
	case "c":
		f := strings.SplitN(rest, "|", 4)
		if len(f) != 4 || f[3] == "" {
			return Event{}, errBadEvent
		}
		ms, err1 := strconv.ParseInt(f[0], 10, 64)
		strikes, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil || ms <= 0 || ms > math.MaxInt64/int64(time.Millisecond) || strikes < 0 {
			return Event{}, errBadEvent
		}
		return Event{Kind: EventCooled, Epoch: epoch, Duration: time.Duration(ms) * time.Millisecond, Strikes: strikes, Reason: f[2], Deployment: f[3]}, nil
	}
	return Event{}, errBadEvent
}

// newCooldownEpoch is never zero, which marks "no cooldown".
func newCooldownEpoch() uint64 { return rand.Uint64() | 1 }
