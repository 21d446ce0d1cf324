// Package loadgen is the benchmark load generator: a fasthttp client that
// sends OpenAI chat completion requests in a closed loop (N connections
// sending back to back, for the throughput ceiling and CPU cost) or an open
// loop (a fixed arrival rate, for latency without coordinated omission).
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Config describes the requests and the connection pool.
type Config struct {
	Addr  string // target host:port
	Path  string // request path, default /v1/chat/completions
	Key   string // sent as "Authorization: Bearer <Key>" when not empty
	Model string // "model" of the request body
	// Stream requests SSE ("stream":true) and validates the event stream.
	Stream bool
	// NoUsage drops stream_options.include_usage from streaming requests
	// (by default it is set, as LiteLLM clients do for cost tracking).
	NoUsage bool
	// ExpectEvents is the number of JSON events a valid stream must carry
	// before [DONE]; 0 accepts any number.
	ExpectEvents int
	// Timeout bounds each request (write, wait for a free connection, read).
	Timeout time.Duration
	// MaxConns caps the connections to the target; it is also the open-loop
	// cap on requests in flight.
	MaxConns int
}

// Client sends benchmark requests; it is safe for concurrent use.
type Client struct {
	cfg  Config
	hc   *fasthttp.HostClient
	body []byte
}

// NewClient returns a client for cfg, filling in defaults.
func NewClient(cfg Config) *Client {
	if cfg.Path == "" {
		cfg.Path = "/v1/chat/completions"
	}
	if cfg.Model == "" {
		cfg.Model = "bench"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 4000
	}
	hc := &fasthttp.HostClient{
		Addr:               cfg.Addr,
		Name:               "switchboard-loadgen",
		MaxConns:           cfg.MaxConns,
		MaxConnWaitTimeout: cfg.Timeout,
		// FIFO hands out the least recently used idle connection, so an open
		// loop that follows a closed-loop warm-up with N workers keeps all N
		// connections busy in turn: the target really serves N live
		// keep-alive connections instead of the same hot one (LIFO).
		ConnPoolStrategy:    fasthttp.FIFO,
		MaxIdleConnDuration: 5 * time.Minute,
		ReadTimeout:         cfg.Timeout,
		WriteTimeout:        cfg.Timeout,
		ReadBufferSize:      16 << 10,
		WriteBufferSize:     8 << 10,
	}
	return &Client{cfg: cfg, hc: hc, body: RequestBody(cfg.Model, cfg.Stream, !cfg.NoUsage)}
}

// Close drops the idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// RequestBody is the chat request the load generator sends: a short,
// typical two-message conversation.
func RequestBody(model string, stream, includeUsage bool) []byte {
	b := []byte(`{"model":` + strconv.Quote(model) + `,"messages":[` +
		`{"role":"system","content":"You are a helpful assistant. Answer briefly."},` +
		`{"role":"user","content":"Say hello to the benchmark in one short sentence."}],` +
		`"max_tokens":64,"temperature":0.7`)
	switch {
	case stream && includeUsage:
		b = append(b, `,"stream":true,"stream_options":{"include_usage":true}}`...)
	case stream:
		b = append(b, `,"stream":true}`...)
	default:
		b = append(b, `,"stream":false}`...)
	}
	return b
}

func (c *Client) newRequest() *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(c.cfg.Path)
	req.Header.SetHost(c.cfg.Addr)
	req.Header.SetContentType("application/json")
	if c.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
	}
	// The body is shared and never written to, so no per-request copy.
	req.SetBodyRaw(c.body)
	return req
}

type outcome int

const (
	success outcome = iota
	failTransport
	failStatus
	failInvalid
)

var eventStream = []byte("text/event-stream")

// roundTrip sends one request and validates the whole response body.
// POST is not idempotent, so fasthttp never retries it: every failure the
// target causes is visible here.
func (c *Client) roundTrip(req *fasthttp.Request, resp *fasthttp.Response) (outcome, error) {
	if err := c.hc.Do(req, resp); err != nil {
		return failTransport, err
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusOK {
		return failStatus, fmt.Errorf("status %d: %.200s", sc, resp.Body())
	}
	if !c.cfg.Stream {
		if err := ValidateCompletion(resp.Body()); err != nil {
			return failInvalid, err
		}
		return success, nil
	}
	if ct := resp.Header.ContentType(); !bytes.HasPrefix(ct, eventStream) {
		return failInvalid, fmt.Errorf("stream content-type %q", ct)
	}
	if err := ValidateStream(resp.Body(), c.cfg.ExpectEvents); err != nil {
		return failInvalid, err
	}
	return success, nil
}

// Result is what one run measured.
type Result struct {
	OK        uint64 // valid responses
	Transport uint64 // connection errors, timeouts, bodies cut mid-chunk
	Status    uint64 // non-200 responses
	Invalid   uint64 // 200 with a bad body (truncated/corrupt stream, error event)
	Unsent    uint64 // open loop only: scheduled but never sent (cancelled)
	// FirstError describes the first failure, for the report.
	FirstError string
	// Elapsed is the measured window (closed) or the whole run (open).
	Elapsed time.Duration
	// Latency of valid responses: from send (closed loop) or from the
	// scheduled send time (open loop), to the last body byte.
	Latency *Histogram
	// Lag (open loop only) is how late requests actually started relative
	// to their schedule: harness health, already included in Latency.
	Lag *Histogram
	// MaxInFlight is the highest number of concurrent requests seen.
	MaxInFlight int64
}

// Completed counts requests that finished in the window, valid or not.
func (r *Result) Completed() uint64 { return r.OK + r.Transport + r.Status + r.Invalid }

// Failed counts every request that did not produce a valid response.
func (r *Result) Failed() uint64 { return r.Transport + r.Status + r.Invalid + r.Unsent }

// Throughput is valid responses per second over Elapsed.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Summary is a one-paragraph human-readable rendering.
func (r *Result) Summary() string {
	us := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) }
	l := r.Latency
	s := fmt.Sprintf("ok=%d failed=%d (transport=%d status=%d invalid=%d unsent=%d) elapsed=%v throughput=%.0f req/s max_in_flight=%d\n"+
		"latency µs: p50=%s p90=%s p99=%s p99.9=%s max=%s mean=%s",
		r.OK, r.Failed(), r.Transport, r.Status, r.Invalid, r.Unsent, r.Elapsed.Round(time.Millisecond), r.Throughput(), r.MaxInFlight,
		us(l.Quantile(.5)), us(l.Quantile(.9)), us(l.Quantile(.99)), us(l.Quantile(.999)), us(l.Max()), us(l.Mean()))
	if r.Lag != nil {
		s += fmt.Sprintf("\nschedule lag µs: p50=%s p99=%s max=%s", us(r.Lag.Quantile(.5)), us(r.Lag.Quantile(.99)), us(r.Lag.Max()))
	}
	if r.FirstError != "" {
		s += "\nfirst error: " + r.FirstError
	}
	return s
}

// recorder accumulates a Result from many goroutines.
type recorder struct {
	lat, lag                            *Histogram
	ok, transport, status, invalid, uns atomic.Uint64
	inFlight, maxInFlight               atomic.Int64
	firstErr                            atomic.Pointer[string]
}

func newRecorder(withLag bool) *recorder {
	r := &recorder{lat: NewHistogram()}
	if withLag {
		r.lag = NewHistogram()
	}
	return r
}

func (r *recorder) begin() {
	n := r.inFlight.Add(1)
	for {
		m := r.maxInFlight.Load()
		if n <= m || r.maxInFlight.CompareAndSwap(m, n) {
			return
		}
	}
}

func (r *recorder) end() { r.inFlight.Add(-1) }

func (r *recorder) record(o outcome, err error, lat time.Duration) {
	switch o {
	case success:
		r.ok.Add(1)
		r.lat.Record(lat)
		return
	case failTransport:
		r.transport.Add(1)
	case failStatus:
		r.status.Add(1)
	case failInvalid:
		r.invalid.Add(1)
	}
	if r.firstErr.Load() == nil {
		s := err.Error()
		r.firstErr.CompareAndSwap(nil, &s)
	}
}

func (r *recorder) result(elapsed time.Duration) *Result {
	res := &Result{
		OK: r.ok.Load(), Transport: r.transport.Load(), Status: r.status.Load(), Invalid: r.invalid.Load(), Unsent: r.uns.Load(),
		Elapsed: elapsed, Latency: r.lat, Lag: r.lag, MaxInFlight: r.maxInFlight.Load(),
	}
	if p := r.firstErr.Load(); p != nil {
		res.FirstError = *p
	} else if res.Unsent > 0 {
		res.FirstError = fmt.Sprintf("%d requests not sent (cancelled, or the time limit hit)", res.Unsent)
	}
	return res
}

// ClosedOptions configures a closed-loop run.
type ClosedOptions struct {
	Conns int // workers, each with its own connection, sending back to back
	// Warmup runs before the measured window and is not counted; it also
	// opens the Conns connections.
	Warmup time.Duration
	// Duration is the measured window. With Requests > 0 it is only a cap.
	Duration time.Duration
	// Requests > 0 stops after that many requests (count-bounded runs such
	// as the truncation check).
	Requests int
	// OnStart and OnStop run right at the window edges (e.g. to sample the
	// target's CPU time).
	OnStart, OnStop func()
}

// Closed runs a closed loop and returns what completed inside the window.
func (c *Client) Closed(ctx context.Context, o ClosedOptions) *Result {
	if o.Conns <= 0 {
		o.Conns = 1
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Minute // never unbounded
	}
	rec := newRecorder(false)
	var measuring, stop atomic.Bool
	var tickets atomic.Int64
	var start time.Time
	begin := func() {
		if o.OnStart != nil {
			o.OnStart()
		}
		start = time.Now()
		measuring.Store(true)
	}
	if o.Warmup <= 0 {
		begin() // count-bounded runs must count the very first requests
	}

	var wg sync.WaitGroup
	for range o.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := c.newRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for !stop.Load() {
				if o.Requests > 0 && tickets.Add(1) > int64(o.Requests) {
					return
				}
				t0 := time.Now()
				rec.begin()
				out, err := c.roundTrip(req, resp)
				rec.end()
				if measuring.Load() {
					rec.record(out, err, time.Since(t0))
				}
			}
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	wait := func(d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-allDone:
		case <-ctx.Done():
		}
	}
	if o.Warmup > 0 {
		wait(o.Warmup)
		begin()
	}
	wait(o.Duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	if o.OnStop != nil {
		o.OnStop()
	}
	// Workers finish the request they are in (bounded by Timeout).
	stop.Store(true)
	<-allDone
	return rec.result(elapsed)
}

// OpenOptions configures an open-loop run.
type OpenOptions struct {
	Rate     float64       // requests per second
	Duration time.Duration // schedule length; Rate*Duration requests are sent
	// MaxInFlight caps concurrent requests; default Config.MaxConns. When
	// every worker is busy, new requests queue, and the queueing shows up in
	// the latency because it is measured from the scheduled send time.
	MaxInFlight int
}

// Open sends requests at a fixed rate. Each latency is measured from the
// request's scheduled send time, not from when it was actually sent, so a
// stalled target (or a late harness) is charged for every request that
// should have gone out meanwhile: no coordinated omission.
func (c *Client) Open(ctx context.Context, o OpenOptions) *Result {
	if o.MaxInFlight <= 0 || o.MaxInFlight > c.cfg.MaxConns {
		o.MaxInFlight = c.cfg.MaxConns
	}
	n := int(o.Rate * o.Duration.Seconds())
	rec := newRecorder(true)
	work := make(chan time.Time)
	var wg sync.WaitGroup
	worker := func(first time.Time) {
		defer wg.Done()
		req, resp := c.newRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		for sched, ok := first, true; ok; sched, ok = <-work {
			rec.lag.Record(time.Since(sched))
			rec.begin()
			out, err := c.roundTrip(req, resp)
			rec.end()
			rec.record(out, err, time.Since(sched))
		}
	}

	start := time.Now()
	paced := make(chan struct{})
	go func() {
		defer close(paced)
		defer close(work)
		clock := newSleeper()
		defer clock.close()
		// Bounded in time even against a stalled target: nothing is sent
		// later than one request timeout past the end of the schedule; the
		// rest counts as unsent (a failure).
		hardStop := time.NewTimer(o.Duration + c.cfg.Timeout)
		defer hardStop.Stop()
		workers := 0
		for i := range n {
			// Deriving each time from i (not by adding intervals) keeps the
			// schedule free of drift.
			sched := start.Add(time.Duration(float64(i) * float64(time.Second) / o.Rate))
			clock.sleepUntil(sched)
			select {
			case <-ctx.Done():
				rec.uns.Add(uint64(n - i))
				return
			case <-hardStop.C:
				rec.uns.Add(uint64(n - i))
				return
			case work <- sched: // an idle worker took it
				continue
			default:
			}
			if workers < o.MaxInFlight {
				workers++
				wg.Add(1)
				go worker(sched)
				continue
			}
			select {
			case work <- sched:
			case <-ctx.Done():
				rec.uns.Add(uint64(n - i))
				return
			case <-hardStop.C:
				rec.uns.Add(uint64(n - i))
				return
			}
		}
	}()
	<-paced
	wg.Wait()
	return rec.result(time.Since(start))
}
