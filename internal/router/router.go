// Package router maps a model name to the deployment that serves an attempt:
// model groups, model_group_alias and wildcard groups; selection within a
// group by the configured routing strategy, in order tiers, under each
// deployment's own rpm, tpm and max_parallel_requests and the request's
// tags; and the bookkeeping (in flight, latency, usage) the strategies rank
// by. Cooldowns and health checks plug in through Health; retries and
// fallbacks drive Pick from the attempt loop.
package router

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// ErrUnknownModel is returned for a model name no group serves.
var ErrUnknownModel = errors.New("unknown model")

// Group is the deployments sharing one model_name (or, for a wildcard
// group, the deployments made for one requested model).
type Group struct {
	Name        string
	Deployments []*provider.Deployment

	members []*member // parallel to Deployments
	// tiers lists member indices by ascending order; a deployment without
	// an order is in the last tier, after every ordered one (LiteLLM only
	// considers unordered deployments once no ordered one is left).
	tiers [][]int32
	// simple: one deployment with nothing to check, so Pick returns it
	// without looking (when no Health is installed either).
	simple     bool
	limited    bool // some member has rpm, tpm or max_parallel_requests
	hasTags    bool // some member has tags
	hasDefault bool // some member is tagged "default"
	maxInput   int64
	anyWindow  bool // some member has max_input_tokens
}

// MaxInputTokens is the largest max_input_tokens among the group's
// deployments, 0 when any of them does not declare one: a prompt larger
// than a non-zero answer cannot be served by this group.
func (g *Group) MaxInputTokens() int64 { return g.maxInput }

// Router holds the groups of one configuration. Its configuration is
// immutable once built, so lookups take no lock; a reload builds a new
// Router. Only the statistics strategies rank by change, each atomically.
type Router struct {
	groups  map[string]*Group
	names   []string
	aliases map[string]Alias
	health  Health

	strategy strategy
	args     strategyArgs

	tagFiltering bool
	tagMatchAll  bool
	preCall      bool

	// members finds a deployment's state for Begin, which is given no
	// group; wildcard groups' members are in dynamic.
	members map[*provider.Deployment]*member
	dynamic sync.Map // *provider.Deployment → *member
	wild    *wildcards

	counters counter.Store
	local    *counter.Memory // takes over while counters are unreachable
	replicas func() int
	degraded atomic.Bool
	log      *slog.Logger
	now      func() time.Time
}

// Weighted is a deployment with the routing settings of its litellm_params
// and model_info.
type Weighted struct {
	Deployment *provider.Deployment
	// Weight is the simple-shuffle weight (0 = unset). LiteLLM's rule: the
	// group is weighted by weight when any of its deployments sets one,
	// else by rpm, else by tpm, else uniformly.
	Weight float64
	// RPM and TPM are the deployment's own limits per minute (0 = none).
	RPM, TPM int64
	// Order is the deployment's tier, lower first (nil = after every
	// ordered tier).
	Order *int
	// MaxParallelRequests caps its attempts in flight on this replica
	// (0 = Options.DefaultMaxParallelRequests, 0 there = no cap).
	MaxParallelRequests int
	// Tags are litellm_params.tags, for tag routing.
	Tags []string
	// MaxInputTokens is model_info.max_input_tokens (0 = unknown).
	MaxInputTokens int64
	// Price is the input plus the output price per token, in
	// micro-dollars per million tokens, for cost-based routing; Priced
	// false when unknown.
	Price  int64
	Priced bool
}

// Alias is a model_group_alias entry's target.
type Alias struct {
	Model  string
	Hidden bool // not listed by Models
}

// Options are the router_settings selection acts on.
type Options struct {
	// RoutingStrategy is routing_strategy ("" = simple-shuffle) and
	// RoutingStrategyArgs its routing_strategy_args (ttl,
	// lowest_latency_buffer, max_latency_list_size).
	RoutingStrategy     string
	RoutingStrategyArgs map[string]any
	// EnableTagFiltering turns on tag routing; TagFilteringMatchAny (nil =
	// true, LiteLLM's default) routes a request to deployments carrying
	// any of its tags rather than all of them.
	EnableTagFiltering   bool
	TagFilteringMatchAny *bool
	// ModelGroupAlias maps names clients send to model groups.
	ModelGroupAlias map[string]Alias
	// DefaultMaxParallelRequests caps deployments that set no
	// max_parallel_requests (0 = no cap).
	DefaultMaxParallelRequests int
	// EnablePreCallChecks skips deployments whose max_input_tokens the
	// prompt estimate exceeds.
	EnablePreCallChecks bool
	// Counters count deployments' requests and tokens per minute against
	// their rpm/tpm: nil = in this process; the Redis store makes the
	// count global across replicas.
	Counters counter.Store
	// Replicas is how many replicas share Counters; while Counters is
	// unreachable each replica enforces its share of every rpm/tpm (nil =
	// 1).
	Replicas func() int
	// Prepare makes the deployment of a wildcard group for one requested
	// model from the wildcard's deployment, through the same provider
	// preparation as configured deployments (nil: a copy with Model set).
	// model is the upstream model: the template's Model with its "*"
	// replaced by what the request's name matched.
	Prepare func(template *provider.Deployment, model string) (*provider.Deployment, error)
	// MaxWildcardGroups bounds the groups made for wildcard matches (0 =
	// 1000); beyond it, an arbitrary one is forgotten for each new one.
	MaxWildcardGroups int
	Log               *slog.Logger
	Now               func() time.Time // for tests; nil = time.Now
}

// New builds a router from deployments in configuration order, with
// simple-shuffle and no other router_settings.
func New(deployments []Weighted) *Router {
	r, err := NewWith(deployments, Options{})
	if err != nil {
		panic("router: default options rejected: " + err.Error()) // cannot happen: nothing to reject
	}
	return r
}

// NewWith builds a router from deployments in configuration order.
func NewWith(deployments []Weighted, o Options) (*Router, error) {
	strat, err := parseStrategy(o.RoutingStrategy)
	if err != nil {
		return nil, err
	}
	args, err := parseArgs(o.RoutingStrategyArgs)
	if err != nil {
		return nil, err
	}
	r := &Router{
		groups:       map[string]*Group{},
		aliases:      map[string]Alias{},
		strategy:     strat,
		args:         args,
		tagFiltering: o.EnableTagFiltering,
		tagMatchAll:  o.TagFilteringMatchAny != nil && !*o.TagFilteringMatchAny,
		preCall:      o.EnablePreCallChecks,
		members:      map[*provider.Deployment]*member{},
		counters:     o.Counters,
		replicas:     o.Replicas,
		log:          o.Log,
		now:          o.Now,
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.local = counter.NewMemory(r.now)
	if r.counters == nil {
		r.counters = r.local
	}
	for name, a := range o.ModelGroupAlias {
		r.aliases[name] = a
	}

	byName := map[string][]*Weighted{}
	for i := range deployments {
		w := &deployments[i]
		name := w.Deployment.ModelName
		if byName[name] == nil {
			r.names = append(r.names, name)
		}
		byName[name] = append(byName[name], w)
	}
	var patterns []*pattern
	for _, name := range r.names {
		ws := byName[name]
		ms := make([]*member, len(ws))
		weights := shuffleWeights(ws)
		for i, w := range ws {
			ms[i] = r.newMember(w, weights[i], o.DefaultMaxParallelRequests)
		}
		g := r.newGroup(name, ms)
		if strings.Contains(name, "*") {
			patterns = append(patterns, &pattern{name: name, parts: strings.Split(name, "*"), template: g})
			continue
		}
		r.groups[name] = g
		for _, m := range ms {
			r.members[m.d] = m
		}
	}
	if len(patterns) > 0 {
		r.wild = newWildcards(patterns, o.Prepare, o.MaxWildcardGroups)
	}
	return r, nil
}

// newGroup builds the group of members and its precomputed facts.
func (r *Router) newGroup(name string, ms []*member) *Group {
	g := &Group{Name: name, members: ms, Deployments: make([]*provider.Deployment, len(ms))}
	all := true
	for i, m := range ms {
		g.Deployments[i] = m.d
		g.limited = g.limited || m.counted || m.parallel > 0
		g.hasTags = g.hasTags || len(m.tags) > 0
		g.hasDefault = g.hasDefault || m.isDefault
		g.anyWindow = g.anyWindow || m.maxInput > 0
		all = all && m.maxInput > 0
		g.maxInput = max(g.maxInput, m.maxInput)
	}
	if !all {
		g.maxInput = 0
	}
	// Tiers: stable by order, the unordered last.
	idx := make([]int32, len(ms))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return cmpOrder(ms[a], ms[b]) })
	for start := 0; start < len(idx); {
		end := start + 1
		for end < len(idx) && cmpOrder(ms[idx[start]], ms[idx[end]]) == 0 {
			end++
		}
		g.tiers = append(g.tiers, idx[start:end:end])
		start = end
	}
	g.simple = len(ms) == 1 && !g.limited && !(r.tagFiltering && g.hasTags) && !(r.preCall && g.anyWindow)
	return g
}

func cmpOrder(a, b *member) int {
	switch {
	case a.ordered && b.ordered:
		return a.order - b.order
	case a.ordered:
		return -1
	case b.ordered:
		return 1
	}
	return 0
}

// shuffleWeights applies LiteLLM's simple-shuffle rule: weight when any
// deployment sets one, else rpm, else tpm, else equal. A deployment missing
// the value its group is weighted by gets 1 for weight (the value LiteLLM
// documents as the default) and the group's mean for rpm and tpm (so an
// unlimited deployment is neither starved nor flooded).
func shuffleWeights(ws []*Weighted) []float64 {
	out := make([]float64, len(ws))
	fill := func(get func(*Weighted) float64, missing float64) bool {
		sum, n := 0.0, 0
		for _, w := range ws {
			if v := get(w); v > 0 {
				sum += v
				n++
			}
		}
		if n == 0 {
			return false
		}
		if missing < 0 {
			missing = sum / float64(n)
		}
		for i, w := range ws {
			out[i] = get(w)
			if out[i] <= 0 {
				out[i] = missing
			}
		}
		return true
	}
	switch {
	case fill(func(w *Weighted) float64 { return w.Weight }, 1):
	case fill(func(w *Weighted) float64 { return float64(w.RPM) }, -1):
	case fill(func(w *Weighted) float64 { return float64(w.TPM) }, -1):
	default:
		for i := range out {
			out[i] = 1
		}
	}
	return out
}

// Group returns the group configured under name, or nil.
func (r *Router) Group(name string) *Group { return r.groups[name] }

// Names lists the model group names in configuration order, wildcard
// patterns included.
func (r *Router) Names() []string { return r.names }

// Models lists what clients may ask for by name: the model groups, then
// the model_group_alias names that are not hidden.
func (r *Router) Models() []string {
	out := slices.Clone(r.names)
	var aliases []string
	for name, a := range r.aliases {
		if !a.Hidden && !slices.Contains(r.names, name) {
			aliases = append(aliases, name)
		}
	}
	slices.Sort(aliases)
	return append(out, aliases...)
}

// SetHealth installs the cooldown and health-check state selection
// consults (nil: every deployment is always usable). Call it before serving.
func (r *Router) SetHealth(h Health) { r.health = h }

// Resolve finds the group serving model: a model_group_alias first (as
// LiteLLM), then a model_name, then a wildcard model_name.
func (r *Router) Resolve(model string) (*Group, error) {
	if len(r.aliases) > 0 {
		if a, ok := r.aliases[model]; ok {
			model = a.Model
		}
	}
	if g := r.groups[model]; g != nil {
		return g, nil
	}
	if r.wild != nil {
		return r.wild.resolve(r, model)
	}
	return nil, ErrUnknownModel
}

// Flags of a member during one Pick.
const (
	fCandidate uint8 = 1 << iota // passes the request's tags and context window
	fTried                       // attempted by this request already
	fUsable                      // Health allows it
	fRoom                        // below its rpm, tpm and parallel caps as far as this replica knows
)

// Causes of unusable candidates, for NoDeploymentsError.
const (
	cCooling = 1 << iota
	cUnhealthy
	cCapacity
)

// Pick chooses the deployment for the next attempt of a request to g. Only
// the lowest order tier with a usable deployment is eligible; within it the
// strategy chooses among the deployments not tried yet; deployments this
// request tried are picked again only when no tier has an untried usable
// one. Nothing usable is a *NoDeploymentsError whose RetryAt is the
// earliest recovery among the unusable candidates.
func (r *Router) Pick(g *Group, s *Selection) (*provider.Deployment, error) {
	if g.simple && r.health == nil {
		return g.Deployments[0], nil
	}
	now := r.now()
	n := len(g.members)
	var buf [64]uint8
	var flags []uint8
	if n <= len(buf) {
		flags = buf[:n]
	} else {
		flags = make([]uint8, n)
	}
	if reason := r.candidates(g, s, flags); reason != "" {
		return nil, &NoDeploymentsError{Group: g.Name, Reason: reason}
	}
	var causes int
	var retryAt time.Time
	later := func(t time.Time) {
		if !t.IsZero() && (retryAt.IsZero() || t.Before(retryAt)) {
			retryAt = t
		}
	}
	nowNs := now.UnixNano()
	for i, m := range g.members {
		if flags[i] == 0 {
			continue
		}
		if len(s.Tried) > 0 && slices.Contains(s.Tried, m.d) {
			flags[i] |= fTried
		}
		if r.health != nil {
			if ok, until := r.health.Usable(m.d, now); !ok {
				if until.IsZero() {
					causes |= cUnhealthy
				} else {
					causes |= cCooling
					later(until)
				}
				continue
			}
		}
		flags[i] |= fUsable
		if g.limited {
			if full, until := m.full(nowNs, s.PromptTokens); full {
				causes |= cCapacity
				later(time.Unix(0, until))
				continue
			}
		}
		flags[i] |= fRoom
	}
	for pass := range 2 {
		if pass == 1 && len(s.Tried) == 0 {
			break // the second pass only adds tried deployments
		}
		for _, tier := range g.tiers {
			for {
				i := r.choose(g, tier, flags, pass == 0, s, nowNs)
				if i < 0 {
					break
				}
				m := g.members[i]
				if m.counted {
					ok, until := r.admit(m, s, now)
					if !ok {
						flags[i] &^= fRoom
						causes |= cCapacity
						later(until)
						continue
					}
				}
				m.use.add(minute(nowNs), 1, max(s.PromptTokens, 0))
				return m.d, nil
			}
		}
	}
	return nil, &NoDeploymentsError{Group: g.Name, RetryAt: retryAt, Reason: reasonFor(causes)}
}

// candidates marks the members that may serve the request at all (its
// tags, its context window) and says why none may when none may.
//
// Tag routing follows LiteLLM: a request with tags goes to the deployments
// whose tags include any of them (all of them when tag_filtering_match_any
// is false); when none does, to the deployments tagged "default" (unless a
// deployment carries one of the request's tags but not the combination
// asked for: then nothing); a request without tags goes to the "default"
// deployments when there are any, else to all. Unlike LiteLLM, a group
// none of whose deployments has tags ignores tag routing: it states no
// policy to enforce, so a tagged request is served rather than refused.
func (r *Router) candidates(g *Group, s *Selection, flags []uint8) string {
	switch {
	case !r.tagFiltering || !g.hasTags:
		for i := range flags {
			flags[i] = fCandidate
		}
	case len(s.Tags) > 0:
		matched, known := false, false
		for i, m := range g.members {
			if m.matches(s.Tags, r.tagMatchAll) {
				flags[i] = fCandidate
				matched = true
			} else if !known && r.tagMatchAll && m.carriesAny(s.Tags) {
				known = true
			}
		}
		if !matched {
			if !g.hasDefault || known {
				return ReasonTags
			}
			for i, m := range g.members {
				if m.isDefault {
					flags[i] = fCandidate
				}
			}
		}
	case g.hasDefault:
		for i, m := range g.members {
			if m.isDefault {
				flags[i] = fCandidate
			}
		}
	default:
		for i := range flags {
			flags[i] = fCandidate
		}
	}
	if r.preCall && g.anyWindow && s.PromptTokens > 0 {
		kept := false
		for i, m := range g.members {
			if flags[i] == 0 {
				continue
			}
			if m.maxInput > 0 && s.PromptTokens > m.maxInput {
				flags[i] = 0
			} else {
				kept = true
			}
		}
		if !kept {
			return ReasonContextWindow
		}
	}
	return ""
}

func reasonFor(causes int) string {
	switch causes {
	case cCooling:
		return ReasonCooling
	case cUnhealthy:
		return ReasonUnhealthy
	case cCapacity:
		return ReasonAtCapacity
	case cCooling | cUnhealthy:
		return ReasonCooling + " or " + ReasonUnhealthy
	case cCooling | cCapacity:
		return ReasonCooling + " or " + ReasonAtCapacity
	case cUnhealthy | cCapacity:
		return ReasonUnhealthy + " or " + ReasonAtCapacity
	}
	return ReasonCooling + ", " + ReasonUnhealthy + " or " + ReasonAtCapacity
}

// Begin records that an attempt on d is being sent: it is in flight until
// End. max_parallel_requests is checked by Pick against this count, so a
// Pick that is never followed by Begin holds nothing.
func (r *Router) Begin(d *provider.Deployment) {
	if m := r.lookup(d); m != nil {
		m.inflight.Add(1)
	}
}

// End records the outcome of an attempt on d: no longer in flight, its
// latency, its tokens against the deployment's tpm; then Health observes it.
func (r *Router) End(g *Group, d *provider.Deployment, a Attempt) {
	now := r.now()
	if m := g.member(d); m != nil {
		m.inflight.Add(-1)
		nowNs := now.UnixNano()
		if r.strategy == latencyBased {
			m.observeLatency(a, nowNs, int64(r.args.ttl))
		}
		delta := a.Tokens - a.Reserved
		if a.Tokens == 0 && a.Err == nil {
			delta = 0 // usage unknown: the reservation stands as the estimate
		}
		if delta != 0 {
			m.use.add(minute(nowNs), 0, delta)
			if m.tpm > 0 {
				r.adjust(m, delta)
			}
		}
	}
	if r.health != nil {
		r.health.Observe(g, d, a, now)
	}
}

// lookup finds d's state.
func (r *Router) lookup(d *provider.Deployment) *member {
	if m := r.members[d]; m != nil {
		return m
	}
	if r.wild != nil {
		if m, ok := r.dynamic.Load(d); ok {
			return m.(*member)
		}
	}
	return nil
}

func (g *Group) member(d *provider.Deployment) *member {
	for i, x := range g.Deployments {
		if x == d {
			return g.members[i]
		}
	}
	return nil
}

func minute(ns int64) int64 { return ns / int64(time.Minute) }
