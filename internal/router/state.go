package router

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// member is a deployment with its routing settings and the statistics the
// strategies rank it by.
type member struct {
	d         *provider.Deployment
	weight    float64
	rpm, tpm  int64
	parallel  int64
	ordered   bool
	order     int
	tags      []string
	isDefault bool
	maxInput  int64
	price     int64
	priced    bool
	// counted: Pick admits the deployment through the counters (it has an
	// rpm or a tpm); only these pay for counter I/O.
	counted        bool
	rpmKey, tpmKey string

	inflight  atomic.Int64
	use       usage
	lat, ttft *latencies // latency-based routing only

	// What this replica learnt from the counters' refusals, so that Pick
	// skips a full deployment without asking again until its window ends.
	rpmFull  atomic.Int64 // unix ns: no request fits before then
	tpmLeft  atomic.Int64 // tokens left in the window ending at tpmUntil
	tpmUntil atomic.Int64
}

func (r *Router) newMember(w *Weighted, weight float64, defaultParallel int) *member {
	d := w.Deployment
	m := &member{
		d: d, weight: weight, rpm: max(w.RPM, 0), tpm: max(w.TPM, 0),
		parallel: int64(max(w.MaxParallelRequests, 0)),
		tags:     w.Tags, maxInput: max(w.MaxInputTokens, 0),
		price: w.Price, priced: w.Priced,
	}
	if m.parallel == 0 {
		m.parallel = int64(max(defaultParallel, 0))
	}
	if w.Order != nil {
		m.ordered, m.order = true, *w.Order
	}
	for _, t := range w.Tags {
		m.isDefault = m.isDefault || t == "default"
	}
	m.counted = m.rpm > 0 || m.tpm > 0
	// The hash tag keeps a deployment's two counters in one Redis Cluster
	// slot, which one Admit over both needs.
	m.rpmKey, m.tpmKey = "d:{"+d.ID+"}:rpm", "d:{"+d.ID+"}:tpm"
	if r.strategy == latencyBased {
		m.lat, m.ttft = newLatencies(r.args.maxLatencies), newLatencies(r.args.maxLatencies)
	}
	return m
}

// full reports whether the member is known to be at one of its caps, and
// until when (unix ns).
func (m *member) full(now, prompt int64) (bool, int64) {
	if m.parallel > 0 && m.inflight.Load() >= m.parallel {
		// Slots free on events, not on a clock; a second is a fair
		// Retry-After for an attempt to finish.
		return true, now + int64(time.Second)
	}
	if u := m.rpmFull.Load(); u > now {
		return true, u
	}
	if u := m.tpmUntil.Load(); u > now && max(prompt, 1) > m.tpmLeft.Load() {
		return true, u
	}
	return false, 0
}

// counterBufs holds the slices a counter call takes, so that admitting and
// adjusting allocate nothing.
type counterBufs struct {
	lim [2]counter.Limit
	rem [2]int64
	dec counter.Decision
	chg [1]counter.Change
}

var counterPool = sync.Pool{New: func() any { return new(counterBufs) }}

// admit takes one request and the prompt's tokens from the deployment's
// rpm and tpm in this minute's window, atomically and, with Redis, across
// replicas. It refuses when either would be exceeded and returns when the
// window ends.
func (r *Router) admit(m *member, s *Selection, now time.Time) (bool, time.Time) {
	b := counterPool.Get().(*counterBufs)
	defer counterPool.Put(b)
	n, tpmAt := 0, -1
	if m.rpm > 0 {
		b.lim[n] = counter.Limit{Key: m.rpmKey, Kind: counter.Requests, Max: m.rpm, Amount: 1, Window: time.Minute}
		n++
	}
	if m.tpm > 0 {
		tpmAt = n
		b.lim[n] = counter.Limit{Key: m.tpmKey, Kind: counter.Tokens, Max: m.tpm, Amount: max(s.PromptTokens, 1), Window: time.Minute}
		n++
	}
	b.dec.Remaining = b.rem[:0]
	ctx := s.Context
	if ctx == nil {
		ctx = context.Background()
	}
	err := r.counters.Admit(ctx, b.lim[:n], &b.dec)
	if err != nil && r.counters != r.local {
		r.unreachable(err)
		share := int64(1)
		if r.replicas != nil {
			share = int64(max(r.replicas(), 1))
		}
		for i := range n {
			b.lim[i].Max = (b.lim[i].Max + share - 1) / share
		}
		err = r.local.Admit(context.Background(), b.lim[:n], &b.dec)
	} else if err == nil && r.counters != r.local && r.degraded.Load() && r.degraded.CompareAndSwap(true, false) {
		r.log.Info("shared counters reachable again: deployments' rpm/tpm are global again")
	}
	if err != nil {
		// Only a malformed limit gets here (a prompt estimate beyond 2^53):
		// no count can be kept, and refusing would refuse every attempt.
		r.log.Warn("deployment rpm/tpm not counted", "deployment", m.d.ID, "error", err.Error())
		return true, time.Time{}
	}
	nowNs := now.UnixNano()
	if !b.dec.Allowed {
		until := nowNs + int64(b.dec.RetryAfter)
		if b.dec.Denied == tpmAt {
			m.tpmLeft.Store(b.dec.Remaining[tpmAt])
			m.tpmUntil.Store(until)
		} else {
			m.rpmFull.Store(until)
		}
		return false, time.Unix(0, until)
	}
	// The shared counts include other replicas' traffic: usage-based
	// routing ranks by them.
	req, tok := int64(-1), int64(-1)
	if m.rpm > 0 {
		req = m.rpm - b.dec.Remaining[0]
	}
	if tpmAt >= 0 {
		tok = m.tpm - b.dec.Remaining[tpmAt]
	}
	m.use.seen(minute(nowNs), req, tok)
	return true, time.Time{}
}

// adjust replaces an attempt's token reservation with its usage.
func (r *Router) adjust(m *member, delta int64) {
	b := counterPool.Get().(*counterBufs)
	defer counterPool.Put(b)
	b.chg[0] = counter.Change{Key: m.tpmKey, Kind: counter.Tokens, Delta: delta, Window: time.Minute}
	err := r.counters.Adjust(context.Background(), b.chg[:1])
	if err != nil && r.counters != r.local {
		r.unreachable(err)
		err = r.local.Adjust(context.Background(), b.chg[:1])
	}
	if err != nil {
		r.log.Warn("deployment tpm not adjusted", "deployment", m.d.ID, "error", err.Error())
	}
	if delta < 0 {
		// Tokens came back: the window may have room again.
		m.tpmUntil.Store(0)
	}
}

func (r *Router) unreachable(err error) {
	if r.degraded.CompareAndSwap(false, true) {
		r.log.Warn("shared counters unreachable: deployments' rpm/tpm are enforced per replica (each its share) until they return", "error", err.Error())
	}
}

// usage counts a deployment's requests and tokens in the current minute,
// for usage-based routing. It is approximate by design (a racing minute
// rollover may lose a few counts): the caps themselves are enforced by the
// counters, this only ranks.
type usage struct {
	minute     atomic.Int64
	req, tok   atomic.Int64 // counted here
	gReq, gTok atomic.Int64 // the shared counters' count, when last seen
}

func (u *usage) roll(m int64) {
	if old := u.minute.Load(); old != m && u.minute.CompareAndSwap(old, m) {
		u.req.Store(0)
		u.tok.Store(0)
		u.gReq.Store(0)
		u.gTok.Store(0)
	}
}

func (u *usage) add(m, req, tok int64) {
	u.roll(m)
	if req != 0 {
		u.req.Add(req)
	}
	if tok != 0 {
		u.tok.Add(tok)
	}
}

// seen records the shared counts (-1: not known).
func (u *usage) seen(m, req, tok int64) {
	u.roll(m)
	if req >= 0 {
		u.gReq.Store(req)
	}
	if tok >= 0 {
		u.gTok.Store(tok)
	}
}

func (u *usage) get(m int64) (req, tok int64) {
	if u.minute.Load() != m {
		return 0, 0
	}
	return max(u.req.Load(), u.gReq.Load(), 0), max(u.tok.Load(), u.gTok.Load(), 0)
}

// latencies is a ring of a deployment's recent latencies. Their mean is
// cached until the oldest sample expires, so ranking reads two atomics.
type latencies struct {
	mu     sync.Mutex
	at, d  []int64 // unix ns, duration ns
	next   int
	filled int
	mean   atomic.Int64 // of the live samples; 0 = none
	until  atomic.Int64 // unix ns when mean must be recomputed
}

func newLatencies(n int) *latencies {
	l := &latencies{at: make([]int64, n), d: make([]int64, n)}
	l.until.Store(math.MaxInt64)
	return l
}

func (l *latencies) add(now, d, ttl int64) {
	l.mu.Lock()
	l.at[l.next], l.d[l.next] = now, max(d, 1)
	l.next = (l.next + 1) % len(l.at)
	l.filled = min(l.filled+1, len(l.at))
	l.recompute(now, ttl)
	l.mu.Unlock()
}

func (l *latencies) get(now, ttl int64) int64 {
	if now < l.until.Load() {
		return l.mean.Load()
	}
	l.mu.Lock()
	l.recompute(now, ttl)
	v := l.mean.Load()
	l.mu.Unlock()
	return v
}

func (l *latencies) recompute(now, ttl int64) {
	var sum, n int64
	oldest := int64(math.MaxInt64)
	for i := range l.filled {
		if at := l.at[i]; now-at < ttl {
			sum += l.d[i]
			n++
			oldest = min(oldest, at)
		}
	}
	if n == 0 {
		l.mean.Store(0)
		l.until.Store(math.MaxInt64)
		return
	}
	l.mean.Store(max(sum/n, 1))
	l.until.Store(oldest + ttl)
}

// latency is what latency-based routing ranks the member by: the mean time
// to first token for streams and to the response otherwise, falling back
// to the other kind when there is none of this one; 0 when the deployment
// has no recent data, so that it is tried first (as in LiteLLM).
func (m *member) latency(stream bool, now, ttl int64) int64 {
	a, b := m.lat, m.ttft
	if stream {
		a, b = b, a
	}
	if v := a.get(now, ttl); v > 0 {
		return v
	}
	return b.get(now, ttl)
}

func (m *member) observeLatency(a Attempt, now, ttl int64) {
	switch {
	case a.Err == nil && a.Latency <= 0:
		// Not measured: no sample rather than a flattering zero.
	case a.Err == nil && a.Streamed:
		m.ttft.add(now, int64(a.Latency), ttl)
	case a.Err == nil:
		m.lat.add(now, int64(a.Latency), ttl)
	case penalised(a.Err):
		m.lat.add(now, int64(failurePenalty), ttl)
		m.ttft.add(now, int64(failurePenalty), ttl)
	}
}

// penalised: the failure is the deployment's (timeouts, rate limits,
// server errors), not the request's.
func penalised(e *provider.Error) bool {
	return e.Retryable || e.Status == 408 || e.Status == 429 || e.Status >= 500
}
