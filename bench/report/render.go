//go:build linux

package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/bench/internal/loadgen"
)

// Gateway targets from the issue.
const (
	targetCPUNonStream = 40.0   // µs per non-streaming request
	targetCPUStream    = 90.0   // µs per 8-event stream
	targetAddedP99     = 1000.0 // µs at the open-loop rate
	targetRSS          = 64 << 20
)

const mib = 1 << 20

func us(d time.Duration) float64 { return float64(d) / 1e3 }

func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func signed(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%+.0f", v)
}

func mark(ok bool) string {
	if ok {
		return "✅"
	}
	return "❌"
}

// find returns the scenario for target/stream/conns, or nil.
func (r *runner) find(target string, stream bool, conns int) *scenario {
	for _, s := range r.scenarios {
		if s.target == target && s.stream == stream && s.conns == conns {
			return s
		}
	}
	return nil
}

// added returns the open-loop quantile of s minus that of direct, in µs.
func (r *runner) added(s *scenario, q float64) float64 {
	d := r.find("direct", s.stream, s.conns)
	if s.target == "direct" || d == nil || d.open == nil || s.open == nil || s.open.OK == 0 || d.open.OK == 0 {
		return math.NaN()
	}
	return us(s.open.Latency.Quantile(q)) - us(d.open.Latency.Quantile(q))
}

func failures(rs ...*loadgen.Result) uint64 {
	var n uint64
	for _, x := range rs {
		if x != nil {
			n += x.Failed()
		}
	}
	return n
}

func (r *runner) render() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.o
	kind := "full"
	if o.quick {
		kind = "quick"
	}
	elapsed := r.finished.Sub(r.started)
	foreign := float64(r.busy1-r.busy0-(r.self1-r.self0)) / ticksPerSec / elapsed.Seconds()

	p("# Switchboard load benchmark — %s (%s run)\n\n", r.started.UTC().Format("2006-01-02 15:04 UTC"), kind)
	p("- Host: %d CPUs (%s), Linux %s, %s, commit %s\n", runtime.NumCPU(), cpuModel(), kernel(), goVersion(), r.commit())
	p("- Run took %s; RLIMIT_NOFILE %d. Processes outside the benchmark used on average %.2f of %d cores meanwhile%s.\n",
		elapsed.Round(time.Second), r.nofile, math.Max(0, foreign), runtime.NumCPU(), noisyNote(foreign))
	p("- Per scenario: a fresh fake upstream (no latency) and target. Closed loop with *conns* connections: %v warm-up, then a %v window → throughput, and CPU µs/request = Δ(utime+stime) of the target process ÷ requests completed in the window. Then an open loop at %.0f req/s for %v over the same warm connections (FIFO pool, so all of them carry traffic) → latency from each request's *scheduled* send time to its last body byte.\n",
		o.warmup, o.duration, o.rate, o.duration)
	p("- Non-stream: one chat.completion with usage. Stream: 8 JSON events (6 content chunks, a finish_reason chunk, a usage chunk with `choices:[]`) then `data: [DONE]`; every stream is validated (ends with [DONE], each event parses, 8 events, no error event).\n")
	p("- Added latency = target − direct at the same mode and connection count. Peak RSS = VmHWM of the target process over the scenario. *bg cores* = CPU used by processes outside the benchmark (the higher of the closed- and open-loop windows); anything but ~0 means the CPU and throughput numbers are perturbed.\n\n")

	p("## Chat completions through each target\n\n")
	p("| target | mode | conns | req/s (closed) | CPU µs/req | p50 µs | p99 µs | p99.9 µs | added p50 µs | added p99 µs | peak RSS MiB | failed | sched lag p99 µs | bg cores |\n")
	p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.scenarios {
		thr, p50, p99, p999, lag := math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
		if s.closed != nil {
			thr = s.closed.Throughput()
		}
		if s.open != nil && s.open.OK > 0 {
			p50, p99, p999 = us(s.open.Latency.Quantile(.5)), us(s.open.Latency.Quantile(.99)), us(s.open.Latency.Quantile(.999))
			lag = us(s.open.Lag.Quantile(.99))
		}
		rss := math.NaN()
		if s.rss > 0 {
			rss = float64(s.rss) / mib
		}
		failed := fmt.Sprint(failures(s.closed, s.open))
		if s.err != nil {
			failed = "error"
		}
		p("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			s.target, modeName(s.stream), s.conns, num(thr, 0), num(s.cpuUs, 1), num(p50, 0), num(p99, 0), num(p999, 0),
			signed(r.added(s, .5)), signed(r.added(s, .99)), num(rss, 1), failed, num(lag, 0), num(s.bgCores, 2))
	}

	p("\n## Peak RSS with %d requests in flight (fake upstream latency %v)\n\n", o.inflight, o.inflightLatency)
	p("| target | mode | max in flight | completed | peak RSS MiB | failed |\n|---|---|--:|--:|--:|--:|\n")
	for _, x := range r.inflights {
		inflight, done, failed, rss := "—", "—", "error", math.NaN()
		if x.res != nil {
			inflight, done = fmt.Sprint(x.res.MaxInFlight), fmt.Sprint(x.res.Completed())
			if x.err == nil {
				failed = fmt.Sprint(x.res.Failed())
			}
		}
		if x.rss > 0 {
			rss = float64(x.rss) / mib
		}
		p("| %s | %s | %s | %s | %s | %s |\n", x.target, modeName(x.stream), inflight, done, num(rss, 1), failed)
	}

	p("\n## Stream integrity: %d streams at %.0f/s (open loop)\n\n", o.trunc, o.truncRate)
	p("| target | streams completed | bad streams | bad %% | first failure |\n|---|--:|--:|--:|---|\n")
	for _, x := range r.truncs {
		if x.res == nil {
			p("| %s | — | — | — | %s |\n", x.target, oneLine(fmt.Sprint(x.err)))
			continue
		}
		done := x.res.Completed()
		pct := math.NaN()
		if done > 0 {
			pct = 100 * float64(x.res.Failed()) / float64(done)
		}
		p("| %s | %d | %d | %s | %s |\n", x.target, done, x.res.Failed(), num(pct, 3), oneLine(x.res.FirstError))
	}

	p("\n## Against the gateway targets\n\n")
	p("Worst case over the connection counts above. Targets are for switchboard; the floors are shown for scale.\n\n")
	p("| target | CPU µs non-stream (≤ %.0f) | CPU µs stream (≤ %.0f) | added p99 @ %.0f req/s (≤ %.0f µs) | peak RSS @ %d in flight (≤ %d MiB) | bad streams (0 of %d) |\n|---|---|---|---|---|---|\n",
		targetCPUNonStream, targetCPUStream, o.rate, targetAddedP99, o.inflight, targetRSS/mib, o.trunc)
	for _, t := range o.targets {
		if t == "direct" {
			continue
		}
		if t == "switchboard" && r.gatewayErr != nil {
			p("| switchboard | did not build (see Errors) | — | — | — | — |\n")
			continue
		}
		cpuNS, cpuS, addP99, rss := math.NaN(), math.NaN(), math.NaN(), math.NaN()
		for _, s := range r.scenarios {
			if s.target != t {
				continue
			}
			if s.stream {
				cpuS = nanMax(cpuS, s.cpuUs)
			} else {
				cpuNS = nanMax(cpuNS, s.cpuUs)
			}
			addP99 = nanMax(addP99, r.added(s, .99))
		}
		for _, x := range r.inflights {
			if x.target == t && x.rss > 0 {
				rss = nanMax(rss, float64(x.rss))
			}
		}
		cell := func(v float64, prec int, limit float64, unit string) string {
			if math.IsNaN(v) {
				return "—"
			}
			return num(v, prec) + unit + " " + mark(v <= limit)
		}
		trunc := "—"
		for _, x := range r.truncs {
			if x.target == t && x.res != nil {
				// Streams never sent or never finished are not verified: bad.
				bad := x.res.Failed() + uint64(max(0, o.trunc-int(x.res.Completed()+x.res.Unsent)))
				trunc = fmt.Sprintf("%d %s", bad, mark(bad == 0))
			}
		}
		p("| %s | %s | %s | %s | %s | %s |\n", t, cell(cpuNS, 1, targetCPUNonStream, ""), cell(cpuS, 1, targetCPUStream, ""),
			cell(addP99, 0, targetAddedP99, ""), cell(rss/mib, 1, targetRSS/mib, ""), trunc)
	}

	p("\n## Targets\n\n")
	for _, t := range o.targets {
		p("- **%s**: %s\n", t, targetDesc[t])
	}
	if len(r.errs) > 0 || r.anyFailures() {
		p("\n## Errors and failures\n\n")
		for _, e := range r.errs {
			p("- %s\n", oneLine(e))
		}
		for _, s := range r.scenarios {
			for i, x := range []*loadgen.Result{s.closed, s.open} {
				if x != nil && x.Failed() > 0 {
					p("- %s %s %d conns, %s loop: %d failed (transport %d, status %d, invalid %d, unsent %d); first: %s\n",
						s.target, modeName(s.stream), s.conns, []string{"closed", "open"}[i], x.Failed(), x.Transport, x.Status, x.Invalid, x.Unsent, oneLine(x.FirstError))
				}
			}
		}
		for _, x := range r.inflights {
			if x.res != nil && x.res.Failed() > 0 {
				p("- %s %s in flight: %d failed; first: %s\n", x.target, modeName(x.stream), x.res.Failed(), oneLine(x.res.FirstError))
			}
		}
	}
	return b.String()
}

func (r *runner) anyFailures() bool {
	for _, s := range r.scenarios {
		if failures(s.closed, s.open) > 0 {
			return true
		}
	}
	for _, x := range r.inflights {
		if failures(x.res) > 0 {
			return true
		}
	}
	return false
}

func nanMax(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return math.Max(a, b)
}

func noisyNote(cores float64) string {
	if cores > 0.1 {
		return " (**the machine was not idle: treat CPU and throughput numbers with care**)"
	}
	return ""
}

// oneLine keeps table cells on one line and short.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}

func (r *runner) commit() string {
	out, err := exec.Command("git", "-C", r.root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", r.root, "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		c += " (dirty tree)"
	}
	return c
}
