// Package policy admits requests against the limits and budgets of
// everyone they act for: the key (also per model), its team, its user and
// the end user named in the request. Admission is all-or-nothing across
// every counter in one atomic step, so a request refused by one limit
// consumes nothing from the others; what was taken is settled when the
// request ends.
//
// Budgets are reservations: admission adds the request's worst-case cost
// to every budget it counts against and refuses when that would pass
// max_budget, so no number of concurrent requests can overspend; the
// settlement replaces the reservation with the actual cost. The counters
// are the running spend of the current budget period; a counter that does
// not exist yet starts from the spend the store holds (the ledger's).
package policy

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/store"
)

// Window is the rate-limit window (LiteLLM's limits are per minute).
const Window = time.Minute

const (
	// slotTTL expires a parallel slot a crashed replica never released.
	slotTTL = 10 * time.Minute
	// periodSlack keeps a budget counter a little past its period's end,
	// so a request settled just after the boundary finds its counter.
	periodSlack = time.Hour
	// lifetimeTTL is how long the counter of a budget without a period
	// lives before it is seeded again from the store.
	lifetimeTTL = 24 * time.Hour
	// maxLimits is the most counters one request is admitted against:
	// key rpm/tpm/parallel/model rpm/model tpm, team and user
	// rpm/tpm/parallel, end user rpm/tpm, and five budgets.
	maxLimits = 18
	// trackOnly is the Max of a budget counter kept only to notice a
	// soft budget being crossed (no max_budget).
	trackOnly = 1<<53 - 1
)

// Ledger answers what the counters cannot be seeded from a record: the
// spend of one key on one model since a time (model_max_budget).
type Ledger interface {
	KeyModelSpend(ctx context.Context, keyHash, model string, since time.Time) (int64, error)
}

// Limiter enforces limits over a counter store.
type Limiter struct {
	counters counter.Store
	log      *slog.Logger
	ledger   Ledger
	now      func() time.Time

	// local takes over rate limits while counters (Redis) is unreachable,
	// each limit divided by the number of replicas.
	local    *counter.Memory
	replicas atomic.Int64
	degraded atomic.Bool // counters are unreachable

	soft  memo[struct{}] // budget counter keys whose soft-budget alert was logged
	seeds memo[int64]    // model-budget counter key → spend from the ledger
}

// New returns a Limiter over counters (in memory, or Redis for limits that
// hold across replicas). ledger seeds per-model budgets (nil: from zero).
func New(counters counter.Store, ledger Ledger, log *slog.Logger) *Limiter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{counters: counters, ledger: ledger, log: log, now: time.Now, local: counter.NewMemory(nil)}
	l.replicas.Store(1)
	return l
}

// SetReplicas tells the limiter how many replicas share the counters, so
// that each enforces its share of every rate limit while they are
// unreachable.
func (l *Limiter) SetReplicas(n int) { l.replicas.Store(int64(max(n, 1))) }

// Replicas is the number of replicas last known to share the counters.
func (l *Limiter) Replicas() int { return int(l.replicas.Load()) }

// Degraded reports whether the shared counters are unreachable: rate limits
// are then enforced per replica (each its share) and budgets refuse.
func (l *Limiter) Degraded() bool { return l != nil && l.degraded.Load() }

// Request is what one request asks of the limits.
type Request struct {
	Principal *auth.Principal
	// Customer is the end user the request names (nil: none or unknown).
	Customer *store.Customer
	Model    string
	// Tokens is the token estimate charged to TPM limits now.
	Tokens int64
	// Reserve is the request's worst-case cost in micro-dollars, reserved
	// from every budget until it settles.
	Reserve int64
}

// Admission is one request's hold on its limits. It lives in the pipeline's
// pooled request state, so admitting allocates nothing beyond the keys.
type Admission struct {
	limits    [maxLimits]counter.Limit
	about     [maxLimits]limitInfo
	remaining [maxLimits]int64
	n         int
	decision  counter.Decision
	tokens    int64 // the token estimate charged at admission
	reserved  int64 // the cost reserved at admission
	held      bool
	local     bool // admitted against the per-replica fallback
}

// limitInfo says what a counter is, for messages and alerts. Its parts are
// kept apart and joined only for a refusal, so admitting builds no message
// strings.
type limitInfo struct {
	of    entity
	what  string // "requests per minute", "budget", ...
	model string // the model a per-model limit is for, else ""
	soft  int64  // soft budget, 0 = none
}

// who names the entity: "key" (never its hash), "team t1", "end user c1".
func (i *limitInfo) who() string {
	if i.of.prefix == keyBase {
		return i.of.name
	}
	return i.of.name + " " + i.of.id
}

// entity is whose limits a counter enforces.
type entity struct {
	prefix string // counter key prefix: keyBase, teamBase, ...
	id     string
	name   string // "key", "team", "user", "end user"
}

// Held reports whether the request holds anything to settle.
func (a *Admission) Held() bool { return a.held }

// Admit checks every limit and budget that applies to r and takes them all
// or none.
func (l *Limiter) Admit(ctx context.Context, r *Request, a *Admission) error {
	*a = Admission{tokens: r.Tokens, reserved: r.Reserve}
	if l == nil || r.Principal == nil {
		return nil
	}
	now := l.now()
	if k := r.Principal.Key; k != nil {
		e := entity{keyBase, k.TokenHash, "key"}
		a.rates(e, r.Tokens, k.RPMLimit, k.TPMLimit, k.MaxParallelRequests)
		if v, ok := k.ModelRPMLimit[r.Model]; ok {
			a.add(counter.Limit{Key: e.prefix + e.id + ":m:" + r.Model + ":rpm", Kind: counter.Requests, Max: v, Amount: 1, Window: Window},
				limitInfo{of: e, what: "requests per minute", model: r.Model})
		}
		if v, ok := k.ModelTPMLimit[r.Model]; ok {
			a.add(counter.Limit{Key: e.prefix + e.id + ":m:" + r.Model + ":tpm", Kind: counter.Tokens, Max: v, Amount: r.Tokens, Window: Window},
				limitInfo{of: e, what: "tokens per minute", model: r.Model})
		}
		a.budget(now, e, budget{k.MaxBudget, k.SoftBudget, k.Spend, k.BudgetDuration, k.BudgetResetAt})
		if mb, ok := k.ModelMaxBudget[r.Model]; ok {
			if err := l.modelBudget(ctx, now, a, e, r.Model, mb); err != nil {
				return err
			}
		}
	}
	if t := r.Principal.Team; t != nil {
		e := entity{teamBase, t.TeamID, "team"}
		a.rates(e, r.Tokens, t.RPMLimit, t.TPMLimit, t.MaxParallelRequests)
		a.budget(now, e, budget{t.MaxBudget, t.SoftBudget, t.Spend, t.BudgetDuration, t.BudgetResetAt})
	}
	if u := r.Principal.User; u != nil {
		e := entity{userBase, u.UserID, "user"}
		a.rates(e, r.Tokens, u.RPMLimit, u.TPMLimit, u.MaxParallelRequests)
		a.budget(now, e, budget{u.MaxBudget, nil, u.Spend, u.BudgetDuration, u.BudgetResetAt})
	}
	if c := r.Customer; c != nil {
		e := entity{endUserBase, c.UserID, "end user"}
		a.rates(e, r.Tokens, c.RPMLimit, c.TPMLimit, nil)
		a.budget(now, e, budget{c.MaxBudget, nil, c.Spend, c.BudgetDuration, c.BudgetResetAt})
	}
	if a.n == 0 {
		return nil
	}
	// At least one micro-dollar, so that a budget already used up refuses
	// even a request whose cost is unknown (LiteLLM refuses at spend >=
	// max_budget); the settlement gives it back.
	a.reserved = max(r.Reserve, 1)
	for i := range a.n {
		if a.limits[i].Kind == counter.Budget {
			a.limits[i].Amount = a.reserved
		}
	}
	a.decision.Remaining = a.remaining[:0]
	err := l.counters.Admit(ctx, a.limits[:a.n], &a.decision)
	if errors.Is(err, counter.ErrUnavailable) {
		return l.admitLocally(ctx, a, err)
	}
	if err != nil {
		return err
	}
	if l.degraded.Load() && l.degraded.CompareAndSwap(true, false) {
		l.log.Info("shared counters reachable again: limits and budgets are global again")
	}
	return l.decide(a)
}

// admitLocally is the answer to unreachable shared counters. A budget
// cannot be checked without them, so a request with one is refused (fail
// closed: overspending is the failure a budget exists to prevent). Rate
// limits fall back to this replica's share of each limit, so the fleet as
// a whole stays near its limits instead of either stopping or running
// unlimited.
func (l *Limiter) admitLocally(ctx context.Context, a *Admission, cause error) error {
	if l.degraded.CompareAndSwap(false, true) {
		l.log.Warn("shared counters unreachable: budgets refuse requests and rate limits are enforced per replica until they return",
			"replicas", l.replicas.Load(), "error", cause.Error())
	}
	share := l.replicas.Load()
	for i := range a.n {
		lim := &a.limits[i]
		if lim.Kind == counter.Budget {
			return &provider.Error{Status: 503, Type: "budget_unavailable", Code: "503", RetryAfter: time.Second,
				Message: "Budget cannot be checked: the shared counters are unreachable, so requests with a budget are refused until they return."}
		}
		lim.Max = (lim.Max + share - 1) / share
	}
	a.local = true
	if err := l.local.Admit(ctx, a.limits[:a.n], &a.decision); err != nil {
		return err
	}
	return l.decide(a)
}

// decide turns the counters' decision into the request's answer.
func (l *Limiter) decide(a *Admission) error {
	if !a.decision.Allowed {
		i := a.decision.Denied
		lim, about := &a.limits[i], &a.about[i]
		if lim.Kind == counter.Budget {
			return budgetExceeded(about, lim, a.decision.Remaining[i])
		}
		e := &provider.Error{Status: 429, Type: "rate_limit_error", Code: "429",
			Message:    "Rate limit exceeded for " + about.who() + ": " + about.what + forModel(about.model, " for ") + ", limit " + strconv.FormatInt(lim.Max, 10),
			RetryAfter: a.decision.RetryAfter}
		if lim.Kind == counter.Concurrency {
			e.RetryAfter = time.Second
		}
		return e
	}
	a.held = true
	for i := range a.n {
		if s := a.about[i].soft; s > 0 {
			spent := a.limits[i].Max - a.decision.Remaining[i] - a.limits[i].Amount
			if spent >= s {
				l.softBudgetCrossed(&a.limits[i], &a.about[i], spent)
			}
		}
	}
	return nil
}

// budgetExceeded is LiteLLM's error for a request over a budget (400,
// type budget_exceeded, "Budget has been exceeded! Current cost: X, Max
// budget: Y"), saying so when it is this request's worst case, not the
// spend so far, that does not fit.
func budgetExceeded(about *limitInfo, lim *counter.Limit, remaining int64) error {
	spent := lim.Max - remaining
	msg := "Budget has been exceeded! " + about.who() + " " + about.what + forModel(about.model, " for model=") + ": Current cost: " + usd(spent) + ", Max budget: " + usd(lim.Max)
	if spent < lim.Max {
		msg += ". This request could cost up to " + usd(lim.Amount) + ", more than the " + usd(remaining) +
			" left; lower max_tokens to fit the remaining budget"
	}
	return &provider.Error{Status: 400, Type: "budget_exceeded", Code: "400", Message: msg}
}

// softBudgetCrossed logs LiteLLM's soft_budget_crossed alert once per
// budget period and process.
func (l *Limiter) softBudgetCrossed(lim *counter.Limit, about *limitInfo, spent int64) {
	if !l.soft.add(lim.Key, struct{}{}) {
		return
	}
	l.log.Warn("budget alert", "event", "soft_budget_crossed", "entity", about.who(), "spend", usd(spent), "soft_budget", usd(about.soft))
}

// forModel is the suffix naming a per-model limit's model.
func forModel(model, sep string) string {
	if model == "" {
		return ""
	}
	return sep + model
}

func usd(micro int64) string { return strconv.FormatFloat(float64(micro)/1e6, 'f', -1, 64) }

// add appends a counter unless the admission is full.
func (a *Admission) add(lim counter.Limit, about limitInfo) {
	if a.n < maxLimits {
		a.limits[a.n], a.about[a.n] = lim, about
		a.n++
	}
}

// rates adds an entity's requests, tokens and parallel-request limits.
func (a *Admission) rates(e entity, tokens int64, rpm, tpm, parallel *int64) {
	if rpm != nil {
		a.add(counter.Limit{Key: e.prefix + e.id + ":rpm", Kind: counter.Requests, Max: *rpm, Amount: 1, Window: Window}, limitInfo{of: e, what: "requests per minute"})
	}
	if tpm != nil {
		a.add(counter.Limit{Key: e.prefix + e.id + ":tpm", Kind: counter.Tokens, Max: *tpm, Amount: tokens, Window: Window}, limitInfo{of: e, what: "tokens per minute"})
	}
	if parallel != nil {
		a.add(counter.Limit{Key: e.prefix + e.id + ":par", Kind: counter.Concurrency, Max: *parallel, Amount: 1, Window: slotTTL}, limitInfo{of: e, what: "parallel requests"})
	}
}

// budget is an entity's budget fields.
type budget struct {
	max, soft *int64
	spend     int64
	duration  string
	resetAt   *time.Time
}

// budget adds an entity's budget counter for the current period. The
// counter's key names the period's end (the same instant on every replica),
// so a reset is a new counter: exact and atomic, with nothing to zero. The
// counter starts from the record's spend.
func (a *Admission) budget(now time.Time, e entity, b budget) {
	if b.max == nil && b.soft == nil {
		return
	}
	lim := counter.Limit{Kind: counter.Budget, Max: trackOnly, Seed: max(b.spend, 0)}
	if b.max != nil {
		lim.Max = min(max(*b.max, 0), trackOnly)
	}
	about := limitInfo{of: e, what: "budget"}
	if b.soft != nil && *b.soft > 0 {
		about.soft = *b.soft
	}
	var current, ok bool
	lim.Key, lim.Window, current, ok = budgetKey(now, e.prefix+e.id, b.duration, b.resetAt)
	if !ok {
		return // a duration the store refuses never reaches a record
	}
	if !current {
		lim.Seed = 0
	}
	a.add(lim, about)
}

// budgetKey names an entity's budget counter for the period current at now
// and says how long it lives. The period ends at the record's reset time,
// which the reset job moves on; a record still showing a passed reset time
// was cached before the job ran, so its spend belongs to the period before
// (current is false).
func budgetKey(now time.Time, base, duration string, resetAt *time.Time) (key string, ttl time.Duration, current, ok bool) {
	if duration == "" {
		return base + ":budget", lifetimeTTL, true, true
	}
	end, current := time.Time{}, resetAt != nil && resetAt.After(now)
	if current {
		end = *resetAt
	} else {
		var err error
		if end, err = store.NextReset(now, duration); err != nil {
			return "", 0, false, false
		}
	}
	return base + ":budget:" + strconv.FormatInt(end.Unix(), 10), end.Sub(now) + periodSlack, current, true
}

// Counter key prefixes of each kind of entity.
const (
	keyBase     = "k:"
	teamBase    = "t:"
	userBase    = "u:"
	endUserBase = "c:"
)

var bases = map[string]string{store.EntityKey: keyBase, store.EntityTeam: teamBase, store.EntityUser: userBase, store.EntityEndUser: endUserBase}

// ForgetBudget drops an entity's budget counter for the current period
// after an admin set its spend, so that the next request seeds it from the
// record again. Reservations of requests in flight are forgotten with it.
func (l *Limiter) ForgetBudget(ctx context.Context, kind, id, duration string, resetAt *time.Time) error {
	prefix, ok := bases[kind]
	if !ok {
		return errors.New("policy: unknown entity kind " + kind)
	}
	key, _, _, ok := budgetKey(l.now(), prefix+id, duration, resetAt)
	if !ok {
		return nil
	}
	l.soft.remove(key)
	return l.counters.Set(ctx, []counter.Value{{Key: key, Kind: counter.Budget}})
}

// modelBudget adds a key's budget for one model (model_max_budget). The
// store keeps no per-model spend on the key, so the counter is seeded from
// the ledger, once per period and process.
func (l *Limiter) modelBudget(ctx context.Context, now time.Time, a *Admission, key entity, model string, mb store.ModelBudget) error {
	lim := counter.Limit{Kind: counter.Budget, Max: min(max(mb.MaxBudget, 0), trackOnly), Key: key.prefix + key.id + ":m:" + model + ":budget", Window: lifetimeTTL}
	var since time.Time
	if mb.BudgetDuration != "" {
		start, end, err := store.Period(now, mb.BudgetDuration)
		if err != nil {
			return nil
		}
		since = start
		lim.Key += ":" + mb.BudgetDuration + ":" + strconv.FormatInt(end.Unix(), 10)
		lim.Window = end.Sub(now) + periodSlack
	}
	if l.ledger != nil {
		if v, ok := l.seeds.get(lim.Key); ok {
			lim.Seed = v
		} else {
			spent, err := l.ledger.KeyModelSpend(ctx, key.id, model, since)
			if err != nil {
				// Without the spend so far the budget cannot be checked.
				return &provider.Error{Status: 503, Type: "budget_unavailable", Code: "503", RetryAfter: time.Second,
					Message: "Budget cannot be checked: the spend store is unreachable."}
			}
			lim.Seed = max(spent, 0)
			l.seeds.add(lim.Key, lim.Seed)
		}
	}
	a.add(lim, limitInfo{of: key, what: "budget", model: model})
	return nil
}

// Extend raises a held admission's budget reservation to reserve, when that
// is more than it holds: a retry or fallback moved the request to a
// deployment whose worst case costs more than the one it was admitted at.
// The budgets are checked again for the difference, atomically, so a
// request cannot overspend by failing over to a pricier model; a refusal
// leaves the admission as it was (the request keeps its deployment and
// the caller decides what to do). Rate limits are not charged again: it
// is still one request.
func (l *Limiter) Extend(ctx context.Context, a *Admission, reserve int64) error {
	if l == nil || !a.held || reserve <= a.reserved {
		return nil
	}
	delta := reserve - a.reserved
	var lims [maxLimits]counter.Limit
	var idx [maxLimits]int
	n := 0
	for i := range a.n {
		if a.limits[i].Kind == counter.Budget {
			lims[n], idx[n] = a.limits[i], i
			lims[n].Amount = delta
			n++
		}
	}
	if n == 0 {
		a.reserved = reserve
		return nil
	}
	// An admission made while the shared counters were unreachable holds
	// no budget (those requests are refused), so n is 0 for it above.
	var remaining [maxLimits]int64
	d := counter.Decision{Remaining: remaining[:0]}
	if err := l.counters.Admit(ctx, lims[:n], &d); err != nil {
		if errors.Is(err, counter.ErrUnavailable) {
			return &provider.Error{Status: 503, Type: "budget_unavailable", Code: "503", RetryAfter: time.Second,
				Message: "Budget cannot be checked: the shared counters are unreachable.", Cause: err}
		}
		return err
	}
	if !d.Allowed {
		i := d.Denied
		return budgetExceeded(&a.about[idx[i]], &lims[i], d.Remaining[i])
	}
	a.reserved = reserve
	return nil
}

// Headers returns LiteLLM's x-ratelimit-* values for the first request and
// token limits (-1 when there are none).
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

// Settle ends a request: parallel slots are released, token counters are
// corrected from the estimate to what was used and budgets from the
// reservation to the actual cost (a failed request that cost nothing gives
// its whole reservation back). It runs for every admitted request,
// whatever its outcome.
func (l *Limiter) Settle(ctx context.Context, a *Admission, actualTokens, actualCost int64) {
	if l == nil || !a.held {
		return
	}
	a.held = false
	var changes [maxLimits]counter.Change
	n := 0
	for i := range a.n {
		lim := &a.limits[i]
		var d int64
		switch lim.Kind {
		case counter.Concurrency:
			d = -1
		case counter.Tokens:
			d = actualTokens - a.tokens
		case counter.Budget:
			d = min(max(actualCost, 0), trackOnly) - a.reserved
		}
		if d != 0 {
			changes[n] = counter.Change{Key: lim.Key, Kind: lim.Kind, Delta: d, Window: lim.Window}
			n++
		}
	}
	if n == 0 {
		return
	}
	// Settlement must happen even when the client's request was cancelled.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	store := l.counters
	if a.local {
		store = l.local
	}
	if err := store.Adjust(sctx, changes[:n]); err != nil {
		l.log.Warn("settling limits failed; counters expire or are re-seeded from the ledger", "error", err.Error())
	}
}

// memo remembers per counter key what was done once per budget period.
// Keys name their period, so entries of past periods are dead weight; the
// map is cleared when it fills up, which costs at most a repeated ledger
// query or alert, never a wrong admission.
type memo[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

const memoSize = 100_000

func (m *memo[V]) get(key string) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[key]
	return v, ok
}

// add stores v unless key is present, and reports whether it stored it.
func (m *memo[V]) add(key string, v V) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[key]; ok {
		return false
	}
	if m.m == nil || len(m.m) >= memoSize {
		m.m = make(map[string]V)
	}
	m.m[key] = v
	return true
}

func (m *memo[V]) remove(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
}
