package router

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// strategy is a routing_strategy.
type strategy uint8

const (
	simpleShuffle strategy = iota
	leastBusy
	latencyBased
	usageBased
	costBased
)

func parseStrategy(name string) (strategy, error) {
	switch name {
	case "", "simple-shuffle":
		return simpleShuffle, nil
	case "least-busy":
		return leastBusy, nil
	case "latency-based-routing":
		return latencyBased, nil
	// v1 differs from v2 only in how LiteLLM stores its counters.
	case "usage-based-routing", "usage-based-routing-v2":
		return usageBased, nil
	case "cost-based-routing":
		return costBased, nil
	}
	return 0, fmt.Errorf("router_settings.routing_strategy: unknown strategy %q", name)
}

// strategyArgs are routing_strategy_args, with LiteLLM's defaults.
type strategyArgs struct {
	ttl          time.Duration // how long a latency sample counts
	buffer       float64       // lowest_latency_buffer
	maxLatencies int           // max_latency_list_size
}

// failurePenalty is the latency a failed attempt records, so that latency
// routing moves away from a deployment that errors or times out instead
// of favouring it for failing fast.
const failurePenalty = 1000 * time.Second

func parseArgs(args map[string]any) (strategyArgs, error) {
	a := strategyArgs{ttl: time.Hour, maxLatencies: 10}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, ok := number(args[k])
		path := "router_settings.routing_strategy_args." + k
		switch k {
		case "ttl":
			if !ok || v <= 0 {
				return a, fmt.Errorf("%s: expected a positive number of seconds", path)
			}
			a.ttl = time.Duration(v * float64(time.Second))
		case "lowest_latency_buffer":
			if !ok || v < 0 {
				return a, fmt.Errorf("%s: expected a non-negative fraction (0.5 = within 50%% of the fastest)", path)
			}
			a.buffer = v
		case "max_latency_list_size":
			if !ok || v < 1 || v != math.Trunc(v) || v > 1000 {
				return a, fmt.Errorf("%s: expected a whole number from 1 to 1000", path)
			}
			a.maxLatencies = int(v)
		default:
			return a, fmt.Errorf("%s: unknown argument; known: %s", path, strings.Join([]string{"lowest_latency_buffer", "max_latency_list_size", "ttl"}, ", "))
		}
	}
	return a, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	return 0, false
}

// choose returns the index of the member the strategy picks among tier's
// eligible members (usable, with room, and not tried when untried is set),
// or -1 when none is eligible.
func (r *Router) choose(g *Group, tier []int32, flags []uint8, untried bool, s *Selection, now int64) int {
	const want = fCandidate | fUsable | fRoom
	eligible := func(i int32) bool {
		f := flags[i]
		return f&want == want && (!untried || f&fTried == 0)
	}
	switch r.strategy {
	case leastBusy:
		best, ties := -1, 0
		var low int64
		for _, i := range tier {
			if !eligible(i) {
				continue
			}
			v := max(g.members[i].inflight.Load(), 0)
			switch {
			case best < 0 || v < low:
				best, low, ties = int(i), v, 1
			case v == low:
				ties++
				if rand.IntN(ties) == 0 {
					best = int(i)
				}
			}
		}
		return best

	case latencyBased:
		ttl := int64(r.args.ttl)
		low := int64(-1)
		for _, i := range tier {
			if eligible(i) {
				if v := g.members[i].latency(s.Stream, now, ttl); low < 0 || v < low {
					low = v
				}
			}
		}
		if low < 0 {
			return -1
		}
		limit := low + int64(float64(low)*r.args.buffer)
		best, ties := -1, 0
		for _, i := range tier {
			if eligible(i) && g.members[i].latency(s.Stream, now, ttl) <= limit {
				ties++
				if rand.IntN(ties) == 0 {
					best = int(i)
				}
			}
		}
		return best

	case usageBased:
		// LiteLLM's usage-based-routing-v2 takes the deployment with the
		// fewest tokens this minute; requests break ties.
		m := minute(now)
		best, ties := -1, 0
		var lowTok, lowReq int64
		for _, i := range tier {
			if !eligible(i) {
				continue
			}
			req, tok := g.members[i].use.get(m)
			switch {
			case best < 0 || tok < lowTok || tok == lowTok && req < lowReq:
				best, lowTok, lowReq, ties = int(i), tok, req, 1
			case tok == lowTok && req == lowReq:
				ties++
				if rand.IntN(ties) == 0 {
					best = int(i)
				}
			}
		}
		return best

	case costBased:
		// Unknown prices come last (LiteLLM prices unknown models at $1
		// per token, which amounts to the same).
		best, ties := -1, 0
		var low int64
		lowPriced := false
		for _, i := range tier {
			if !eligible(i) {
				continue
			}
			m := g.members[i]
			better := best < 0 || m.priced && !lowPriced || m.priced == lowPriced && m.priced && m.price < low
			same := !better && m.priced == lowPriced && (!m.priced || m.price == low)
			switch {
			case better:
				best, low, lowPriced, ties = int(i), m.price, m.priced, 1
			case same:
				ties++
				if rand.IntN(ties) == 0 {
					best = int(i)
				}
			}
		}
		return best
	}

	total := 0.0
	for _, i := range tier {
		if eligible(i) {
			total += g.members[i].weight
		}
	}
	if total <= 0 {
		return -1
	}
	x := rand.Float64() * total
	last := -1
	for _, i := range tier {
		if !eligible(i) {
			continue
		}
		last = int(i)
		if x -= g.members[i].weight; x < 0 {
			return int(i)
		}
	}
	return last
}

// matches reports whether a member's tags satisfy the request's.
func (m *member) matches(tags []string, all bool) bool {
	if len(m.tags) == 0 {
		return false
	}
	for _, t := range tags {
		in := slices.Contains(m.tags, t)
		if in && !all {
			return true
		}
		if !in && all {
			return false
		}
	}
	return all
}

func (m *member) carriesAny(tags []string) bool {
	for _, t := range tags {
		if slices.Contains(m.tags, t) {
			return true
		}
	}
	return false
}
