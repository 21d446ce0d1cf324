package router

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// clock is a settable time source for the router and its counters.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	// Ten seconds into a minute, so a test has 50 s of one window.
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time            { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration)   { c.ns.Add(int64(d)) }
func (c *clock) options(o Options) Options { o.Now = c.now; return o }

func dep(name, id string) *provider.Deployment {
	return &provider.Deployment{ID: id, ModelName: name, Provider: "openai", Model: id}
}

// group builds one group "g" of deployments with the given settings.
func group(t *testing.T, o Options, ws ...Weighted) (*Router, *Group) {
	t.Helper()
	for i := range ws {
		if ws[i].Deployment == nil {
			ws[i].Deployment = dep("g", fmt.Sprintf("d%d", i))
		}
	}
	r, err := NewWith(ws, o)
	if err != nil {
		t.Fatal(err)
	}
	g, err := r.Resolve("g")
	if err != nil {
		t.Fatal(err)
	}
	return r, g
}

func pick(t *testing.T, r *Router, g *Group, s *Selection) *provider.Deployment {
	t.Helper()
	if s == nil {
		s = &Selection{}
	}
	d, err := r.Pick(g, s)
	if err != nil {
		t.Fatalf("Pick: %v", err)
	}
	return d
}

// shares picks n times (each attempt ended at once, with no latency
// known) and returns each deployment's share of the picks.
func shares(t *testing.T, r *Router, g *Group, n int, s *Selection) map[string]float64 {
	t.Helper()
	counts := map[string]int{}
	for range n {
		d := pick(t, r, g, s)
		r.Begin(d)
		r.End(g, d, Attempt{})
		counts[d.ID]++
	}
	out := map[string]float64{}
	for id, c := range counts {
		out[id] = float64(c) / float64(n)
	}
	return out
}

func within(t *testing.T, got map[string]float64, want map[string]float64, tol float64) {
	t.Helper()
	for id, w := range want {
		if math.Abs(got[id]-w) > tol {
			t.Errorf("%s: share %.4f, want %.4f ± %.2f (all: %v)", id, got[id], w, tol, got)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("%s picked (share %.4f) but not expected", id, got[id])
		}
	}
}

func TestSimpleShuffleWeights(t *testing.T) {
	cases := []struct {
		name string
		ws   []Weighted
		want map[string]float64
	}{
		{"weight", []Weighted{{Weight: 1}, {Weight: 2}, {Weight: 3}, {Weight: 4}},
			map[string]float64{"d0": .1, "d1": .2, "d2": .3, "d3": .4}},
		{"weight beats rpm", []Weighted{{Weight: 3, RPM: 100000}, {Weight: 1, RPM: 900000}},
			map[string]float64{"d0": .75, "d1": .25}},
		{"unset weight counts 1", []Weighted{{Weight: 3}, {}},
			map[string]float64{"d0": .75, "d1": .25}},
		{"rpm", []Weighted{{RPM: 100000}, {RPM: 300000}},
			map[string]float64{"d0": .25, "d1": .75}},
		{"tpm", []Weighted{{TPM: 1 << 40}, {TPM: 4 << 40}},
			map[string]float64{"d0": .2, "d1": .8}},
		{"uniform", []Weighted{{}, {}, {}, {}},
			map[string]float64{"d0": .25, "d1": .25, "d2": .25, "d3": .25}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, g := group(t, Options{}, c.ws...)
			within(t, shares(t, r, g, 10000, nil), c.want, 0.02)
		})
	}
}

func TestLeastBusy(t *testing.T) {
	r, g := group(t, Options{RoutingStrategy: "least-busy"}, Weighted{}, Weighted{}, Weighted{}, Weighted{})
	// In flight: d0 5, d1 2, d2 2, d3 7.
	for i, n := range []int{5, 2, 2, 7} {
		for range n {
			r.Begin(g.Deployments[i])
		}
	}
	counts := map[string]int{}
	for range 1000 {
		counts[pick(t, r, g, nil).ID]++
	}
	if counts["d0"]+counts["d3"] != 0 || counts["d1"] < 400 || counts["d2"] < 400 {
		t.Errorf("picks %v: want only d1 and d2 (fewest in flight), about evenly", counts)
	}
	// Begin moves d1 up; End brings d3 down below everyone.
	r.Begin(g.Deployments[1])
	for range 7 {
		r.End(g, g.Deployments[3], Attempt{})
	}
	for range 100 {
		if d := pick(t, r, g, nil); d.ID != "d3" {
			t.Fatalf("picked %s, want d3 (nothing in flight)", d.ID)
		}
	}
}

// latencyRouter has d0..d3 with mean latencies 300, 100, 150 and 400 ms.
func latencyRouter(t *testing.T, args map[string]any) (*Router, *Group, *clock) {
	c := newClock()
	r, g := group(t, c.options(Options{RoutingStrategy: "latency-based-routing", RoutingStrategyArgs: args}),
		Weighted{}, Weighted{}, Weighted{}, Weighted{})
	for i, ms := range []time.Duration{300, 100, 150, 400} {
		for k := range 4 {
			// Jitter around the mean, so it is a mean that ranks.
			j := time.Duration(k-2) * 10 * time.Millisecond
			r.Begin(g.Deployments[i])
			r.End(g, g.Deployments[i], Attempt{Latency: ms*time.Millisecond + j + 5*time.Millisecond})
		}
	}
	return r, g, c
}

func TestLatencyBased(t *testing.T) {
	t.Run("fastest", func(t *testing.T) {
		r, g, _ := latencyRouter(t, nil)
		within(t, shares(t, r, g, 200, nil), map[string]float64{"d1": 1}, 0)
	})
	t.Run("lowest_latency_buffer", func(t *testing.T) {
		// 0.6: within 160 ms of the fastest's 100: d1 and d2, never the others.
		r, g, _ := latencyRouter(t, map[string]any{"lowest_latency_buffer": 0.6})
		got := shares(t, r, g, 2000, nil)
		within(t, got, map[string]float64{"d1": .5, "d2": .5}, 0.05)
	})
	t.Run("no data first", func(t *testing.T) {
		r, g, _ := latencyRouter(t, nil)
		fresh := r.members[g.Deployments[3]]
		fresh.lat, fresh.ttft = newLatencies(10), newLatencies(10)
		if d := pick(t, r, g, nil); d.ID != "d3" {
			t.Errorf("picked %s, want d3 (no latency data yet)", d.ID)
		}
	})
	t.Run("time to first token for streams", func(t *testing.T) {
		r, g, _ := latencyRouter(t, nil)
		// d3 is slowest to answer in full but first to stream.
		r.End(g, g.Deployments[3], Attempt{Latency: 20 * time.Millisecond, Streamed: true})
		r.End(g, g.Deployments[1], Attempt{Latency: 80 * time.Millisecond, Streamed: true})
		if d := pick(t, r, g, &Selection{Stream: true}); d.ID != "d3" {
			t.Errorf("stream picked %s, want d3 (lowest time to first token)", d.ID)
		}
		if d := pick(t, r, g, &Selection{}); d.ID != "d1" {
			t.Errorf("non-stream picked %s, want d1 (lowest latency)", d.ID)
		}
	})
	t.Run("failure penalty", func(t *testing.T) {
		r, g, _ := latencyRouter(t, nil)
		r.End(g, g.Deployments[1], Attempt{Err: &provider.Error{Status: 504, Type: "timeout"}, Latency: time.Millisecond})
		if d := pick(t, r, g, nil); d.ID != "d2" {
			t.Errorf("picked %s, want d2 (d1 timed out)", d.ID)
		}
		// A client error is the request's fault, not the deployment's.
		r2, g2, _ := latencyRouter(t, nil)
		r2.End(g2, g2.Deployments[1], Attempt{Err: &provider.Error{Status: 400}})
		if d := pick(t, r2, g2, nil); d.ID != "d1" {
			t.Errorf("picked %s, want d1 (a 400 is no penalty)", d.ID)
		}
	})
	t.Run("ttl", func(t *testing.T) {
		r, g, c := latencyRouter(t, map[string]any{"ttl": 60})
		c.advance(30 * time.Second)
		r.End(g, g.Deployments[0], Attempt{Latency: 50 * time.Millisecond})
		c.advance(40 * time.Second) // the first samples are 70 s old: only d0's fresh one counts
		got := shares(t, r, g, 400, nil)
		// d1..d3 have no data and go first; d0 not at all.
		if got["d0"] != 0 || got["d1"] < .2 || got["d2"] < .2 || got["d3"] < .2 {
			t.Errorf("shares %v: want d1..d3 (expired data) evenly, d0 never", got)
		}
	})
}

func TestUsageBased(t *testing.T) {
	c := newClock()
	counters := counter.NewMemory(c.now)
	r, g := group(t, c.options(Options{RoutingStrategy: "usage-based-routing-v2", Counters: counters}),
		Weighted{}, Weighted{TPM: 10000}, Weighted{RPM: 3})
	// Tokens this minute: d0 5000, d1 1200, d2 0.
	for i, tok := range []int64{5000, 1200} {
		r.Begin(g.Deployments[i])
		r.End(g, g.Deployments[i], Attempt{Tokens: tok})
	}
	s := &Selection{PromptTokens: 100}
	// d2 has the fewest tokens until its rpm of 3 is used up, then d1
	// (1200 + 100 per pick), which overtakes d0 only past 5000.
	var got []string
	for range 6 {
		d := pick(t, r, g, s)
		r.Begin(d)
		r.End(g, d, Attempt{Tokens: 100, Reserved: 100})
		got = append(got, d.ID)
	}
	if want := []string{"d2", "d2", "d2", "d1", "d1", "d1"}; !slices.Equal(got, want) {
		t.Errorf("picks %v, want %v", got, want)
	}
	// d1 would exceed its tpm with this prompt: d0 even though it is busier.
	if d := pick(t, r, g, &Selection{PromptTokens: 9000}); d.ID != "d0" {
		t.Errorf("picked %s for a 9000-token prompt, want d0 (d1's tpm left: 8500)", d.ID)
	}
	// A new minute gives d1 its whole tpm again.
	only1 := &Selection{PromptTokens: 9500, Tried: []*provider.Deployment{g.Deployments[0], g.Deployments[2]}}
	if d := pick(t, r, g, only1); d.ID == "d1" {
		t.Errorf("picked d1 for 9500 tokens with 8500 left")
	}
	c.advance(time.Minute)
	if d := pick(t, r, g, only1); d.ID != "d1" {
		t.Errorf("picked %s in a new minute, want d1 (the others tried, its tpm fresh)", d.ID)
	}
}

func TestCostBased(t *testing.T) {
	c := newClock()
	r, g := group(t, c.options(Options{RoutingStrategy: "cost-based-routing", Counters: counter.NewMemory(c.now)}),
		Weighted{Order: ptr(1)},                                         // unknown price: last
		Weighted{Price: 15_000_000, Priced: true, Order: ptr(1)},        // $15 per 1M (input + output)
		Weighted{Price: 3_000_000, Priced: true, RPM: 2, Order: ptr(1)}, // cheapest, but only 2 a minute
		Weighted{Price: 1_000_000, Priced: true, Order: ptr(2)},
	)
	var got []string
	for range 4 {
		got = append(got, pick(t, r, g, nil).ID)
	}
	if want := []string{"d2", "d2", "d1", "d1"}; !slices.Equal(got, want) {
		t.Errorf("picks %v, want %v (cheapest while it has room, then the next cheapest; d3 is a later tier)", got, want)
	}
	// With the priced ones tried, the unknown price is next, before the later tier.
	if d := pick(t, r, g, &Selection{Tried: g.Deployments[1:3]}); d.ID != "d0" {
		t.Errorf("picked %s, want d0 (unknown price, same tier)", d.ID)
	}
	// Free is cheapest.
	r2, g2 := group(t, Options{RoutingStrategy: "cost-based-routing"},
		Weighted{Price: 1, Priced: true}, Weighted{Price: 0, Priced: true}, Weighted{})
	within(t, shares(t, r2, g2, 50, nil), map[string]float64{"d1": 1}, 0)
}

func ptr[T any](v T) *T { return &v }

// health is a fake Health: deployments in down are unusable until the
// time given (zero: unhealthy).
type health struct {
	mu       sync.Mutex
	down     map[string]time.Time
	observed []string
}

func (h *health) Usable(d *provider.Deployment, now time.Time) (bool, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	until, down := h.down[d.ID]
	return !down, until
}

func (h *health) Observe(g *Group, d *provider.Deployment, a Attempt, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.observed = append(h.observed, g.Name+"/"+d.ID)
}

func TestOrderTiers(t *testing.T) {
	r, g := group(t, Options{},
		Weighted{Order: ptr(2)}, Weighted{Order: ptr(1)}, Weighted{}, Weighted{Order: ptr(1)}, Weighted{Order: ptr(3)})
	h := &health{down: map[string]time.Time{}}
	r.SetHealth(h)
	d := g.Deployments
	ids := func(ds ...*provider.Deployment) map[string]float64 {
		m := map[string]float64{}
		for _, x := range ds {
			m[x.ID] = 1 / float64(len(ds))
		}
		return m
	}
	within(t, shares(t, r, g, 1000, nil), ids(d[1], d[3]), 0.06)

	// The lowest tier exhausted by tries, cooldowns, then both: the next.
	within(t, shares(t, r, g, 100, &Selection{Tried: []*provider.Deployment{d[1], d[3]}}), ids(d[0]), 0)
	h.down["d1"] = time.Now().Add(time.Minute)
	within(t, shares(t, r, g, 100, &Selection{Tried: []*provider.Deployment{d[3]}}), ids(d[0]), 0)
	within(t, shares(t, r, g, 100, nil), ids(d[3]), 0)
	// Tiers 1-3 all tried or down: the unordered deployment, last.
	within(t, shares(t, r, g, 100, &Selection{Tried: []*provider.Deployment{d[3], d[0], d[4]}}), ids(d[2]), 0)
	// Everything tried: a tried one again, lowest tier first.
	within(t, shares(t, r, g, 100, &Selection{Tried: slices.Clone(d)}), ids(d[3]), 0)
}

func TestTriedExclusion(t *testing.T) {
	r, g := group(t, Options{}, Weighted{Weight: 100}, Weighted{Weight: 1}, Weighted{Weight: 1})
	d := g.Deployments
	within(t, shares(t, r, g, 200, &Selection{Tried: []*provider.Deployment{d[0], d[1]}}), map[string]float64{"d2": 1}, 0)
	// Everything tried: picked again by weight rather than refused.
	got := shares(t, r, g, 200, &Selection{Tried: slices.Clone(d)})
	if got["d0"] < .9 {
		t.Errorf("all tried: shares %v, want mostly d0 by weight", got)
	}
}

func TestHealthConsulted(t *testing.T) {
	c := newClock()
	r, g := group(t, c.options(Options{}), Weighted{}, Weighted{}, Weighted{})
	now := c.now()
	h := &health{down: map[string]time.Time{"d0": now.Add(30 * time.Second), "d2": {}}}
	r.SetHealth(h)
	within(t, shares(t, r, g, 100, nil), map[string]float64{"d1": 1}, 0)
	if want := []string{"g/d1"}; !slices.Equal(h.observed[:1], want) {
		t.Errorf("Health observed %v, want End to report %v", h.observed[:1], want)
	}

	h.down["d1"] = now.Add(10 * time.Second)
	_, err := r.Pick(g, &Selection{})
	var nd *NoDeploymentsError
	if !errors.As(err, &nd) {
		t.Fatalf("Pick with everything down: %v, want *NoDeploymentsError", err)
	}
	if !nd.RetryAt.Equal(now.Add(10*time.Second)) || nd.Group != "g" || nd.Reason != ReasonCooling+" or "+ReasonUnhealthy {
		t.Errorf("error = %+v, want RetryAt in 10 s (the earliest recovery), reason cooling or unhealthy", nd)
	}

	// A single deployment is still asked about once Health is installed.
	r1, g1 := group(t, Options{}, Weighted{})
	r1.SetHealth(&health{down: map[string]time.Time{"d0": {}}})
	if _, err := r1.Pick(g1, &Selection{}); !errors.As(err, &nd) || nd.Reason != ReasonUnhealthy || !nd.RetryAt.IsZero() {
		t.Errorf("single unhealthy deployment: %v, want unhealthy with unknown RetryAt", err)
	}
}

func TestRPMCap(t *testing.T) {
	c := newClock()
	counters := counter.NewMemory(c.now)
	r, g := group(t, c.options(Options{Counters: counters}), Weighted{RPM: 30}, Weighted{RPM: 50})
	var mu sync.Mutex
	counts := map[string]int{}
	var refused atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 20 {
				d, err := r.Pick(g, &Selection{})
				if err != nil {
					var nd *NoDeploymentsError
					if !errors.As(err, &nd) || nd.Reason != ReasonAtCapacity {
						t.Errorf("Pick: %v", err)
					}
					refused.Add(1)
					continue
				}
				r.Begin(d)
				r.End(g, d, Attempt{})
				mu.Lock()
				counts[d.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if counts["d0"] != 30 || counts["d1"] != 50 || refused.Load() != 320-80 {
		t.Errorf("picks %v, refused %d: want exactly each rpm (30, 50) and the other 240 refused", counts, refused.Load())
	}
	_, err := r.Pick(g, &Selection{})
	var nd *NoDeploymentsError
	if !errors.As(err, &nd) || !nd.RetryAt.Equal(time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)) {
		t.Errorf("at capacity: %v (RetryAt %v), want RetryAt at the next minute", err, nd.RetryAt)
	}
	c.advance(50 * time.Second)
	if d := pick(t, r, g, nil); d == nil {
		t.Error("a new minute must have room again")
	}
}

func TestTPMCap(t *testing.T) {
	c := newClock()
	r, g := group(t, c.options(Options{Counters: counter.NewMemory(c.now)}), Weighted{TPM: 1000})
	s := &Selection{PromptTokens: 300}
	var picked []*provider.Deployment
	for range 3 {
		picked = append(picked, pick(t, r, g, s))
		r.Begin(picked[len(picked)-1])
	}
	var nd *NoDeploymentsError
	if _, err := r.Pick(g, s); !errors.As(err, &nd) || nd.Reason != ReasonAtCapacity {
		t.Fatalf("fourth 300-token prompt in a 1000 tpm: %v, want at capacity", err)
	}
	// A failed attempt gives its reservation back; one that used less
	// than reserved gives back the difference.
	r.End(g, picked[0], Attempt{Err: &provider.Error{Status: 500}, Reserved: 300})
	r.End(g, picked[1], Attempt{Tokens: 250, Reserved: 300})
	pick(t, r, g, s) // 250 + 300 + 300 = 850
	if _, err := r.Pick(g, &Selection{PromptTokens: 200}); !errors.As(err, &nd) {
		t.Errorf("850 + 200 > 1000: %v, want at capacity", err)
	}
	pick(t, r, g, &Selection{PromptTokens: 150})
}

func TestMaxParallel(t *testing.T) {
	c := newClock()
	r, g := group(t, c.options(Options{DefaultMaxParallelRequests: 1}), Weighted{MaxParallelRequests: 2}, Weighted{Order: ptr(9)})
	// d1 is ordered, so it is the first tier; its default cap is 1.
	a := pick(t, r, g, nil)
	r.Begin(a)
	b := pick(t, r, g, nil)
	r.Begin(b)
	e := pick(t, r, g, nil)
	r.Begin(e)
	if a.ID != "d1" || b.ID != "d0" || e.ID != "d0" {
		t.Errorf("picks %s %s %s, want d1 (its cap 1), then d0 twice (cap 2)", a.ID, b.ID, e.ID)
	}
	_, err := r.Pick(g, &Selection{})
	var nd *NoDeploymentsError
	if !errors.As(err, &nd) || nd.Reason != ReasonAtCapacity || !nd.RetryAt.Equal(c.now().Add(time.Second)) {
		t.Errorf("all slots taken: %v, want at capacity, retry in a second", err)
	}
	r.End(g, a, Attempt{})
	if d := pick(t, r, g, nil); d.ID != "d1" {
		t.Errorf("picked %s after d1 ended, want d1", d.ID)
	}
}

// unreachable is a counter store whose backend is down.
type unreachable struct{ counter.Store }

func (unreachable) Admit(context.Context, []counter.Limit, *counter.Decision) error {
	return fmt.Errorf("%w: connection refused", counter.ErrUnavailable)
}
func (unreachable) Adjust(context.Context, []counter.Change) error {
	return fmt.Errorf("%w: connection refused", counter.ErrUnavailable)
}

func TestCountersUnreachable(t *testing.T) {
	c := newClock()
	r, g := group(t, c.options(Options{Counters: unreachable{}, Replicas: func() int { return 4 }}), Weighted{RPM: 10})
	n := 0
	for range 10 {
		if _, err := r.Pick(g, &Selection{}); err == nil {
			n++
		}
	}
	if n != 3 {
		t.Errorf("admitted %d of rpm 10 with 4 replicas and no shared counters, want this replica's share, 3", n)
	}
}

func TestTagRouting(t *testing.T) {
	ws := func() []Weighted {
		return []Weighted{
			{Tags: []string{"free"}},
			{Tags: []string{"paid", "eu"}},
			{Tags: []string{"paid", "us"}},
			{Tags: []string{"default"}},
		}
	}
	only := func(ids ...string) map[string]float64 {
		m := map[string]float64{}
		for _, id := range ids {
			m[id] = 1 / float64(len(ids))
		}
		return m
	}
	anyOf := Options{EnableTagFiltering: true}
	allOf := Options{EnableTagFiltering: true, TagFilteringMatchAny: ptr(false)}
	cases := []struct {
		name string
		o    Options
		ws   []Weighted
		tags []string
		want map[string]float64 // nil: ReasonTags
	}{
		{"off", Options{}, ws(), []string{"free"}, only("d0", "d1", "d2", "d3")},
		{"one tag", anyOf, ws(), []string{"free"}, only("d0")},
		{"any of", anyOf, ws(), []string{"eu", "us"}, only("d1", "d2")},
		{"all of", allOf, ws(), []string{"paid", "eu"}, only("d1")},
		{"unknown tag → default", anyOf, ws(), []string{"gold"}, only("d3")},
		{"untagged → default", anyOf, ws(), nil, only("d3")},
		{"untagged, no default → all", anyOf, ws()[:3], nil, only("d0", "d1", "d2")},
		{"no match, no default", anyOf, ws()[:3], []string{"gold"}, nil},
		// "paid" exists, just not with "free": asking for both is not
		// answered by the default deployment.
		{"all of, known tag", allOf, ws(), []string{"paid", "free"}, nil},
		{"group without tags", anyOf, []Weighted{{}, {}}, []string{"gold"}, only("d0", "d1")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, g := group(t, c.o, c.ws...)
			s := &Selection{Tags: c.tags}
			if c.want == nil {
				_, err := r.Pick(g, s)
				var nd *NoDeploymentsError
				if !errors.As(err, &nd) || nd.Reason != ReasonTags {
					t.Errorf("Pick: %v, want %q", err, ReasonTags)
				}
				return
			}
			within(t, shares(t, r, g, 2000, s), c.want, 0.05)
		})
	}
}

func TestPreCallChecks(t *testing.T) {
	ws := func() []Weighted { return []Weighted{{MaxInputTokens: 8000}, {MaxInputTokens: 128000}, {}} }
	r, g := group(t, Options{EnablePreCallChecks: true}, ws()...)
	if g.MaxInputTokens() != 0 {
		t.Errorf("MaxInputTokens = %d, want 0 (d2's is unknown)", g.MaxInputTokens())
	}
	within(t, shares(t, r, g, 1000, &Selection{PromptTokens: 10000}), map[string]float64{"d1": .5, "d2": .5}, 0.06)
	r2, g2 := group(t, Options{EnablePreCallChecks: true}, ws()[:2]...)
	if g2.MaxInputTokens() != 128000 {
		t.Errorf("MaxInputTokens = %d, want 128000", g2.MaxInputTokens())
	}
	var nd *NoDeploymentsError
	if _, err := r2.Pick(g2, &Selection{PromptTokens: 200000}); !errors.As(err, &nd) || nd.Reason != ReasonContextWindow {
		t.Errorf("Pick: %v, want %q", err, ReasonContextWindow)
	}
	// Without enable_pre_call_checks the estimate is not trusted to refuse.
	r3, g3 := group(t, Options{}, ws()[:2]...)
	pick(t, r3, g3, &Selection{PromptTokens: 200000})
}

func TestAlias(t *testing.T) {
	r, err := NewWith([]Weighted{{Deployment: dep("claude-3-haiku-20240307", "a")}, {Deployment: dep("gpt-4o", "b")}},
		Options{ModelGroupAlias: map[string]Alias{
			"claude-3-haiku": {Model: "claude-3-haiku-20240307"},
			"gpt4":           {Model: "gpt-4o", Hidden: true},
			// An alias wins over a group of the same name, as in LiteLLM.
			"gpt-4o": {Model: "claude-3-haiku-20240307"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"claude-3-haiku": "claude-3-haiku-20240307", "gpt4": "gpt-4o", "gpt-4o": "claude-3-haiku-20240307"} {
		g, err := r.Resolve(name)
		if err != nil || g.Name != want {
			t.Errorf("Resolve(%q) = %v, %v; want group %s", name, g, err, want)
		}
	}
	if _, err := r.Resolve("claude"); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("Resolve(claude) = %v, want ErrUnknownModel", err)
	}
	if got, want := r.Models(), []string{"claude-3-haiku-20240307", "gpt-4o", "claude-3-haiku"}; !slices.Equal(got, want) {
		t.Errorf("Models() = %q, want %q (hidden aliases and shadowed names not listed twice)", got, want)
	}
}

func TestWildcard(t *testing.T) {
	var prepared atomic.Int64
	prepare := func(tmpl *provider.Deployment, model string) (*provider.Deployment, error) {
		prepared.Add(1)
		if model == "bad" {
			return nil, errors.New("no provider for bad")
		}
		d := *tmpl
		d.Model = model
		d.Private = "prepared:" + model
		return &d, nil
	}
	openai := &provider.Deployment{ID: "w1", ModelName: "openai/*", Provider: "openai", Model: "*"}
	openai2 := &provider.Deployment{ID: "w2", ModelName: "openai/*", Provider: "openai", Model: "*"}
	fixed := &provider.Deployment{ID: "w3", ModelName: "my-*-model", Provider: "openai", Model: "gpt-4o-mini"}
	catchAll := &provider.Deployment{ID: "w4", ModelName: "*", Provider: "*", Model: "*"}
	exact := dep("openai/gpt-4o", "e")
	r, err := NewWith([]Weighted{{Deployment: catchAll}, {Deployment: openai, RPM: 2}, {Deployment: openai2, RPM: 2}, {Deployment: fixed}, {Deployment: exact}},
		Options{Prepare: prepare, MaxWildcardGroups: 3, RoutingStrategy: "least-busy"})
	if err != nil {
		t.Fatal(err)
	}

	g, err := r.Resolve("openai/gpt-4.1")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "openai/gpt-4.1" || len(g.Deployments) != 2 {
		t.Fatalf("group %s with %d deployments, want openai/gpt-4.1 with both of the wildcard's", g.Name, len(g.Deployments))
	}
	for i, d := range g.Deployments {
		if d.Model != "gpt-4.1" || d.Private != "prepared:gpt-4.1" || d.ModelName != "openai/gpt-4.1" || d.ID != fmt.Sprintf("w%d:openai/gpt-4.1", i+1) {
			t.Errorf("deployment %d = %+v, want model gpt-4.1 prepared, its own id", i, d)
		}
	}
	if again, _ := r.Resolve("openai/gpt-4.1"); again != g || prepared.Load() != 2 {
		t.Errorf("second Resolve made a new group (prepared %d times), want the cached one", prepared.Load())
	}
	// Exact names win over patterns; the most specific pattern wins.
	if g, _ := r.Resolve("openai/gpt-4o"); g.Deployments[0] != exact {
		t.Errorf("openai/gpt-4o resolved to %v, want the exact group", g.Deployments[0])
	}
	if g, _ := r.Resolve("my-cheap-model"); g.Deployments[0].Model != "gpt-4o-mini" {
		t.Errorf("my-cheap-model → %+v, want the fixed model of my-*-model", g.Deployments[0])
	}
	if g, _ := r.Resolve("anthropic/claude-x"); g.Deployments[0].Model != "anthropic/claude-x" || g.Deployments[0].ID != "w4:anthropic/claude-x" {
		t.Errorf("anthropic/claude-x → %+v, want the catch-all with the whole name", g.Deployments[0])
	}
	if _, err := r.Resolve("bad"); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("Resolve(bad) = %v, want ErrUnknownModel (prepare failed)", err)
	}

	// Picking works as for any group: least-busy sees Begin on the new
	// deployments, and the wildcard's rpm covers all its models.
	r.Begin(g.Deployments[0])
	if d := pick(t, r, g, nil); d != g.Deployments[1] {
		t.Errorf("least-busy picked %s, want the one not in flight", d.ID)
	}
	g2, _ := r.Resolve("openai/o3")
	for range 3 {
		pick(t, r, g2, nil)
	}
	var nd *NoDeploymentsError
	if _, err := r.Pick(g2, &Selection{}); !errors.As(err, &nd) || nd.Reason != ReasonAtCapacity {
		t.Errorf("fifth pick across two models of a wildcard with 2 × rpm 2: %v, want at capacity", err)
	}

	// Bounded: with 3 groups kept, asking for new names forgets old ones.
	for i := range 10 {
		if _, err := r.Resolve(fmt.Sprintf("openai/m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	r.wild.mu.RLock()
	kept := len(r.wild.groups)
	r.wild.mu.RUnlock()
	n := 0
	r.dynamic.Range(func(any, any) bool { n++; return true })
	if kept != 3 || n > 6 {
		t.Errorf("%d wildcard groups and %d deployments kept, want at most 3 groups (6 deployments)", kept, n)
	}
}

func TestOptionsRejected(t *testing.T) {
	for _, o := range []Options{
		{RoutingStrategy: "fastest"},
		{RoutingStrategyArgs: map[string]any{"ttl": "10"}},
		{RoutingStrategyArgs: map[string]any{"lowest_latency_buffer": -1.0}},
		{RoutingStrategyArgs: map[string]any{"max_latency_list_size": 2.5}},
		{RoutingStrategyArgs: map[string]any{"latency_buffer": 0.5}},
	} {
		if _, err := NewWith(nil, o); err == nil {
			t.Errorf("NewWith(%+v) accepted", o)
		}
	}
	r, err := NewWith(nil, Options{RoutingStrategy: "latency-based-routing", RoutingStrategyArgs: map[string]any{"ttl": 10, "lowest_latency_buffer": 0.5, "max_latency_list_size": 20}})
	if err != nil || r.args.ttl != 10*time.Second || r.args.buffer != 0.5 || r.args.maxLatencies != 20 {
		t.Errorf("args = %+v, %v", r.args, err)
	}
}
