//go:build linux

// Command report runs the whole load benchmark in one go and writes a
// markdown report: it builds the gateway and the floors, starts a fake
// upstream, puts each target in front of it in turn, and measures CPU per
// request, throughput, added latency, peak RSS and stream integrity.
//
//	go run ./bench/report                 # full run (several minutes)
//	go run ./bench/report -quick          # CI smoke, under a minute
//	go run ./bench/report -only switchboard -out /tmp/sb.md
//
// See bench/README.md for how to read the numbers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/switchboard-gw/switchboard/bench/internal/proc"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/bench/internal/fake"
	"github.com/switchboard-gw/switchboard/bench/internal/loadgen"
)

// Gateway contract: how the report starts and talks to switchboard.
const (
	gatewayKey   = "sk-bench-0123456789abcdef0123456789abcdef"
	gatewayModel = "bench"
	upstreamKey  = "sk-fake-upstream-key"
	gatewayReady = "/health/liveliness"
)

// allTargets is the run order. direct (the fake itself) always runs: it is
// the baseline the added latency is computed against.
var allTargets = []string{"direct", "fasthttp", "httputil", "switchboard"}

var targetDesc = map[string]string{
	"direct":      "load generator → fake upstream, no proxy (baseline; CPU is the fake's)",
	"fasthttp":    "bare fasthttp reverse proxy (floor, bench/floors/fasthttpproxy)",
	"httputil":    "bare net/http + httputil.ReverseProxy, inbound body passed through (floor, bench/floors/httputilproxy)",
	"switchboard": "the gateway, ./cmd/switchboard",
}

type options struct {
	quick           bool
	warmup          time.Duration
	duration        time.Duration
	rate            float64
	conns           []int
	targets         []string
	out             string
	inflight        int
	inflightLatency time.Duration
	inflightDur     time.Duration
	trunc           int
	truncRate       float64
	gatewayBin      string
	keep            bool
	idleWait        time.Duration
}

func parseFlags() (options, error) {
	var o options
	var conns, only string
	flag.BoolVar(&o.quick, "quick", false, "short CI smoke run (whole report well under 60 s)")
	flag.DurationVar(&o.warmup, "warmup", 0, "closed-loop warm-up per scenario (default 2s, quick 250ms)")
	flag.DurationVar(&o.duration, "duration", 0, "closed-loop window and open-loop length per scenario (default 10s, quick 750ms)")
	flag.Float64Var(&o.rate, "rate", 2000, "open-loop arrival rate, requests/s")
	flag.StringVar(&conns, "conns", "50,1000", "concurrent connections per scenario, comma-separated")
	flag.StringVar(&only, "only", strings.Join(allTargets, ","), "targets to run, comma-separated ("+strings.Join(allTargets, ",")+"); direct is always added")
	flag.StringVar(&o.out, "out", "", "markdown output file (default bench/results/<date>.md, or <date>-quick.md)")
	flag.IntVar(&o.inflight, "inflight", 1000, "requests held in flight for the peak-RSS scenario")
	flag.DurationVar(&o.inflightLatency, "inflight-latency", 500*time.Millisecond, "fake upstream latency in the peak-RSS scenario")
	flag.DurationVar(&o.inflightDur, "inflight-duration", 0, "length of the peak-RSS scenario (default 5s, quick 1.2s)")
	flag.IntVar(&o.trunc, "trunc", 0, "streams in the truncation check (default 100000, quick 2000)")
	flag.Float64Var(&o.truncRate, "trunc-rate", 2000, "arrival rate of the truncation check, streams/s (open loop)")
	flag.StringVar(&o.gatewayBin, "gateway-bin", "", "use this switchboard binary instead of building ./cmd/switchboard")
	flag.DurationVar(&o.idleWait, "idle-wait", 0, "before each scenario, wait up to this long for other processes to leave the CPUs idle (shared machines)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binaries, configs, process logs)")
	flag.Parse()

	def := func(d *time.Duration, full, quick time.Duration) {
		if *d <= 0 {
			*d = full
			if o.quick {
				*d = quick
			}
		}
	}
	def(&o.warmup, 2*time.Second, 250*time.Millisecond)
	def(&o.duration, 10*time.Second, 750*time.Millisecond)
	def(&o.inflightDur, 5*time.Second, 1200*time.Millisecond)
	if o.trunc <= 0 {
		o.trunc = 100000
		if o.quick {
			o.trunc = 2000
		}
	}
	if o.truncRate <= 0 {
		return o, errors.New("-trunc-rate must be positive")
	}
	for _, s := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return o, fmt.Errorf("-conns: bad value %q", s)
		}
		o.conns = append(o.conns, n)
	}
	o.targets = []string{"direct"}
	for _, s := range strings.Split(only, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(allTargets, s) {
			return o, fmt.Errorf("-only: unknown target %q (have %s)", s, strings.Join(allTargets, ","))
		}
		if !slices.Contains(o.targets, s) {
			o.targets = append(o.targets, s)
		}
	}
	slices.SortFunc(o.targets, func(a, b string) int { return slices.Index(allTargets, a) - slices.Index(allTargets, b) })
	if o.rate <= 0 {
		return o, errors.New("-rate must be positive")
	}
	return o, nil
}

func main() {
	os.Exit(run())
}

func run() int {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		return 2
	}

	// First SIGINT/SIGTERM cancels the run (loops stop, children are
	// killed, a partial report is still written); a second one exits now.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		logf("signal: stopping")
		cancel()
		<-sigs
		proc.KillAll()
		os.Exit(130)
	}()
	defer proc.KillAll() // every exit path, including panics in this goroutine

	r := &runner{ctx: ctx, o: o, started: time.Now()}
	if n, err := raiseNoFile(); err != nil {
		logf("warning: cannot raise RLIMIT_NOFILE: %v", err)
	} else {
		r.nofile = n
	}
	if r.root, err = moduleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		return 1
	}
	if r.tmp, err = os.MkdirTemp("", "switchboard-bench-"); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		return 1
	}
	defer func() {
		proc.KillAll() // before deleting the logs they write to
		if o.keep {
			logf("kept %s", r.tmp)
			return
		}
		os.RemoveAll(r.tmp)
	}()
	if err := r.build(); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		return 1
	}

	r.busy0, r.self0 = machineBusyTicks(), selfTicks()
	r.runAll()
	r.busy1, r.self1 = machineBusyTicks(), selfTicks()
	r.finished = time.Now()

	md := r.render()
	fmt.Println(md)
	out := o.out
	if out == "" {
		name := time.Now().Format("2006-01-02")
		if o.quick {
			name += "-quick"
		}
		out = filepath.Join(r.root, "bench", "results", name+".md")
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		logf("write report: %v", err)
	} else if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		logf("write report: %v", err)
	} else {
		logf("wrote %s", out)
	}
	if ctx.Err() != nil {
		return 130
	}
	if len(r.errs) > 0 {
		return 1
	}
	return 0
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the report from inside the switchboard module")
	}
	return filepath.Dir(gomod), nil
}

// runner holds the state of one report run.
type runner struct {
	ctx               context.Context
	o                 options
	root, tmp, bin    string
	nofile            uint64
	gatewayBin        string
	gatewayErr        error // build failure: switchboard rows say so
	started, finished time.Time
	busy0, busy1      int64
	self0, self1      int64
	seq               int

	scenarios []*scenario
	inflights []*inflightResult
	truncs    []*truncResult
	errs      []string
}

type scenario struct {
	target  string
	stream  bool
	conns   int
	closed  *loadgen.Result
	cpuUs   float64 // target CPU µs per completed request; NaN if unknown
	bgCores float64 // CPU used by processes outside the benchmark, in cores
	open    *loadgen.Result
	rss     int64
	err     error
}

type inflightResult struct {
	target string
	stream bool
	res    *loadgen.Result
	rss    int64
	err    error
}

type truncResult struct {
	target string
	res    *loadgen.Result
	err    error
}

func (r *runner) fail(what string, err error) {
	logf("ERROR %s: %v", what, err)
	r.errs = append(r.errs, fmt.Sprintf("%s: %v", what, err))
}

// build compiles the fake, the floors and (if selected) the gateway into
// tmp/bin, so each runs as its own process with its own /proc counters.
func (r *runner) build() error {
	r.bin = filepath.Join(r.tmp, "bin")
	if err := os.MkdirAll(r.bin, 0o755); err != nil {
		return err
	}
	logf("building fake upstream and floors")
	if err := r.goBuild(r.bin+string(filepath.Separator), "./bench/fakeupstream", "./bench/floors/fasthttpproxy", "./bench/floors/httputilproxy"); err != nil {
		return err
	}
	if !slices.Contains(r.o.targets, "switchboard") {
		return nil
	}
	if r.o.gatewayBin != "" {
		r.gatewayBin = r.o.gatewayBin
		return nil
	}
	logf("building ./cmd/switchboard")
	r.gatewayBin = filepath.Join(r.bin, "switchboard")
	if err := r.goBuild(r.gatewayBin, "./cmd/switchboard"); err != nil {
		// Keep going: the floors are still worth reporting.
		r.gatewayErr = err
		r.fail("build switchboard", err)
	}
	return nil
}

func (r *runner) goBuild(out string, pkgs ...string) error {
	cmd := exec.CommandContext(r.ctx, "go", append([]string{"build", "-o", out}, pkgs...)...)
	cmd.Dir = r.root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, b)
	}
	return nil
}

func (r *runner) nextTag(what string) string {
	r.seq++
	return fmt.Sprintf("%02d-%s", r.seq, what)
}

// startFake starts a fake upstream with the given latency.
func (r *runner) startFake(tag string, latency time.Duration) (*child, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	p, err := startProc("fake upstream", filepath.Join(r.tmp, tag+"-fake.log"), filepath.Join(r.bin, "fakeupstream"),
		"-addr", addr, "-latency", latency.String())
	if err != nil {
		return nil, "", err
	}
	if err := p.waitReady(r.ctx, 10*time.Second, tcpReady(addr)); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

// startTarget starts target in front of the fake at upstream and returns
// the process to measure and the address to load. For direct, that is the
// fake itself.
func (r *runner) startTarget(tag, target string, fakeProc *child, upstream string) (*child, string, error) {
	if target == "direct" {
		return fakeProc, upstream, nil
	}
	if target == "switchboard" && r.gatewayErr != nil {
		return nil, "", errors.New("switchboard did not build")
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	logPath := filepath.Join(r.tmp, tag+"-"+target+".log")
	var p *child
	ready := tcpReady(addr)
	switch target {
	case "fasthttp":
		p, err = startProc(target, logPath, filepath.Join(r.bin, "fasthttpproxy"), "-addr", addr, "-upstream", upstream)
	case "httputil":
		p, err = startProc(target, logPath, filepath.Join(r.bin, "httputilproxy"), "-addr", addr, "-upstream", upstream)
	case "switchboard":
		cfg := filepath.Join(r.tmp, tag+"-switchboard.yaml")
		if err := os.WriteFile(cfg, []byte(gatewayConfig(upstream, filepath.Join(filepath.Dir(cfg), "switchboard.db"))), 0o600); err != nil {
			return nil, "", err
		}
		_, port, _ := strings.Cut(addr, ":")
		p, err = startProc(target, logPath, r.gatewayBin, "--config", cfg, "--port", port, "--host", "127.0.0.1")
		ready = httpReady("http://" + addr + gatewayReady)
	}
	if err != nil {
		return nil, "", err
	}
	if err := p.waitReady(r.ctx, 20*time.Second, ready); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

// gatewayConfig is the gateway's config for the run; its store (SQLite) lives
// in the run's temporary directory.
func gatewayConfig(upstream, database string) string {
	return `model_list:
  - model_name: ` + gatewayModel + `
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://` + upstream + `/v1
      api_key: ` + upstreamKey + `
general_settings:
  master_key: ` + gatewayKey + `
  database_url: ` + database + `
`
}

func (r *runner) client(target, addr string, stream bool, timeout time.Duration) *loadgen.Client {
	// 4000 connections of headroom for the open loop to absorb a stall.
	conns := max(4000, r.o.inflight, slices.Max(r.o.conns))
	cfg := loadgen.Config{
		Addr: addr, Model: gatewayModel, Stream: stream,
		ExpectEvents: fake.StreamEventsWithUsage, Timeout: timeout, MaxConns: conns,
	}
	if target == "switchboard" {
		cfg.Key = gatewayKey
	} else {
		cfg.Key = upstreamKey // the fake and the floors ignore it; same header bytes
	}
	return loadgen.NewClient(cfg)
}

func modeName(stream bool) string {
	if stream {
		return "stream"
	}
	return "non-stream"
}

func (r *runner) runAll() {
	for _, t := range r.o.targets {
		if t == "switchboard" && r.gatewayErr != nil {
			continue // the build error is already reported
		}
		for _, stream := range []bool{false, true} {
			for _, n := range r.o.conns {
				if r.ctx.Err() != nil {
					return
				}
				r.scenarios = append(r.scenarios, r.runScenario(t, stream, n))
			}
		}
		for _, stream := range []bool{false, true} {
			if r.ctx.Err() != nil {
				return
			}
			r.inflights = append(r.inflights, r.runInflight(t, stream))
		}
		if r.ctx.Err() != nil {
			return
		}
		r.truncs = append(r.truncs, r.runTrunc(t))
	}
}

// runScenario: fresh fake + target, closed loop (warm-up, then a measured
// window with the target's CPU sampled at its edges), then an open loop at
// -rate over the same warm connections, then the target's VmHWM.
func (r *runner) runScenario(target string, stream bool, conns int) *scenario {
	s := &scenario{target: target, stream: stream, conns: conns, cpuUs: math.NaN(), bgCores: math.NaN()}
	what := fmt.Sprintf("%s %s %d conns", target, modeName(stream), conns)
	r.waitIdle()
	logf("scenario: %s", what)
	tag := r.nextTag(target)
	fk, upstream, err := r.startFake(tag, 0)
	if err != nil {
		s.err = err
		r.fail(what, err)
		return s
	}
	defer fk.stop()
	tp, addr, err := r.startTarget(tag, target, fk, upstream)
	if err != nil {
		s.err = err
		r.fail(what, err)
		return s
	}
	defer tp.stop()

	c := r.client(target, addr, stream, 30*time.Second)
	defer c.Close()

	type sample struct{ target, fake, self, busy int64 }
	take := func() (x sample, err error) {
		if x.target, err = cpuTicks(tp.Pid()); err != nil {
			return x, err
		}
		if fk != tp {
			if x.fake, err = cpuTicks(fk.Pid()); err != nil {
				return x, err
			}
		}
		x.self, x.busy = selfTicks(), machineBusyTicks()
		return x, nil
	}
	var s0, s1 sample
	var e0, e1 error
	s.closed = c.Closed(r.ctx, loadgen.ClosedOptions{
		Conns: conns, Warmup: r.o.warmup, Duration: r.o.duration,
		OnStart: func() { s0, e0 = take() },
		OnStop:  func() { s1, e1 = take() },
	})
	// Foreign load: machine CPU not spent by the target, the fake or the
	// report (load generator) itself.
	bg := func(a, b sample, d time.Duration) float64 {
		ours := (b.target - a.target) + (b.fake - a.fake) + (b.self - a.self)
		return math.Max(0, float64(b.busy-a.busy-ours)/ticksPerSec/d.Seconds())
	}
	if err := errors.Join(e0, e1); err != nil {
		s.err = fmt.Errorf("reading /proc: %w", err)
	} else if n := s.closed.Completed(); n > 0 {
		s.cpuUs = float64(s1.target-s0.target) * 1e6 / ticksPerSec / float64(n)
		s.bgCores = bg(s0, s1, s.closed.Elapsed)
	}
	if r.ctx.Err() == nil {
		// Let the closed loop's tail (GC, idle conns) settle first.
		time.Sleep(100 * time.Millisecond)
		o0, err0 := take()
		s.open = c.Open(r.ctx, loadgen.OpenOptions{Rate: r.o.rate, Duration: r.o.duration})
		if o1, err1 := take(); err0 == nil && err1 == nil {
			s.bgCores = nanMax(s.bgCores, bg(o0, o1, s.open.Elapsed))
		}
	}
	if tp.Exited() {
		s.err = fmt.Errorf("%s exited during the run:\n%s", target, tp.logTail(20))
	} else if rss, err := peakRSS(tp.Pid()); err == nil {
		s.rss = rss
	}
	if s.err != nil {
		r.fail(what, s.err)
	}
	return s
}

// runInflight holds -inflight requests in flight against a slow fake and
// reads the target's peak RSS.
func (r *runner) runInflight(target string, stream bool) *inflightResult {
	res := &inflightResult{target: target, stream: stream}
	what := fmt.Sprintf("%s %s %d in flight", target, modeName(stream), r.o.inflight)
	r.waitIdle()
	logf("scenario: %s", what)
	tag := r.nextTag(target + "-inflight")
	fk, upstream, err := r.startFake(tag, r.o.inflightLatency)
	if err != nil {
		res.err = err
		r.fail(what, err)
		return res
	}
	defer fk.stop()
	tp, addr, err := r.startTarget(tag, target, fk, upstream)
	if err != nil {
		res.err = err
		r.fail(what, err)
		return res
	}
	defer tp.stop()
	c := r.client(target, addr, stream, 30*time.Second+r.o.inflightLatency)
	defer c.Close()
	res.res = c.Closed(r.ctx, loadgen.ClosedOptions{Conns: r.o.inflight, Duration: r.o.inflightDur})
	if tp.Exited() {
		res.err = fmt.Errorf("%s exited during the run:\n%s", target, tp.logTail(20))
		r.fail(what, res.err)
	} else if res.rss, err = peakRSS(tp.Pid()); err != nil {
		res.err = err
		r.fail(what, err)
	}
	return res
}

// runTrunc sends -trunc streams and counts every one that was not a
// complete, valid 8-event stream ending in [DONE]. Streams arrive at a fixed
// rate (open loop), i.e. mostly on idle keep-alive connections, like real
// clients: that is the pattern that exposes golang/go#40747 (~1.4 % of
// httputil streams on this host), while back-to-back requests on busy
// connections hit it about a hundred times less often.
func (r *runner) runTrunc(target string) *truncResult {
	res := &truncResult{target: target}
	what := fmt.Sprintf("%s truncation check (%d streams)", target, r.o.trunc)
	r.waitIdle()
	logf("scenario: %s", what)
	tag := r.nextTag(target + "-trunc")
	fk, upstream, err := r.startFake(tag, 0)
	if err != nil {
		res.err = err
		r.fail(what, err)
		return res
	}
	defer fk.stop()
	tp, addr, err := r.startTarget(tag, target, fk, upstream)
	if err != nil {
		res.err = err
		r.fail(what, err)
		return res
	}
	defer tp.stop()
	c := r.client(target, addr, true, 30*time.Second)
	defer c.Close()
	d := time.Duration(float64(r.o.trunc) / r.o.truncRate * float64(time.Second))
	res.res = c.Open(r.ctx, loadgen.OpenOptions{Rate: r.o.truncRate, Duration: d})
	if tp.Exited() {
		res.err = fmt.Errorf("%s exited during the run:\n%s", target, tp.logTail(20))
		r.fail(what, res.err)
	}
	return res
}

// waitIdle waits, up to -idle-wait, until processes outside the benchmark
// use less than 0.15 cores, so that a burst of someone else's work on a
// shared machine does not land inside a measurement. Between scenarios the
// report is the only process of the benchmark, so all other load is foreign.
func (r *runner) waitIdle() {
	if r.o.idleWait <= 0 {
		return
	}
	const window = 500 * time.Millisecond
	deadline := time.Now().Add(r.o.idleWait)
	for logged := false; ; logged = true {
		b0, s0 := machineBusyTicks(), selfTicks()
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(window):
		}
		cores := float64((machineBusyTicks()-b0)-(selfTicks()-s0)) / ticksPerSec / window.Seconds()
		if cores < 0.15 {
			return
		}
		if time.Now().After(deadline) {
			logf("machine still busy (%.2f cores) after %v: measuring anyway", cores, r.o.idleWait)
			return
		}
		if !logged {
			logf("waiting for the machine to go idle (%.2f cores busy elsewhere)", cores)
		}
	}
}
