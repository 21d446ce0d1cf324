// Command loadgen drives an OpenAI-compatible chat completions endpoint in a
// closed loop (ceiling) or an open loop (latency at a fixed rate, measured
// from each request's scheduled send time). See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/bench/internal/loadgen"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:4000/v1/chat/completions", "chat completions URL (http only)")
	key := flag.String("key", "", "bearer key for the Authorization header")
	model := flag.String("model", "bench", "model name in the request body")
	stream := flag.Bool("stream", false, "request and validate an SSE stream")
	noUsage := flag.Bool("no-usage", false, "do not set stream_options.include_usage")
	expect := flag.Int("expect-events", 8, "JSON events a stream must carry before [DONE] (0 = any)")
	mode := flag.String("mode", "closed", "closed (N connections back to back) or open (fixed rate)")
	conns := flag.Int("conns", 50, "closed loop: concurrent connections")
	rate := flag.Float64("rate", 2000, "open loop: requests per second")
	maxInFlight := flag.Int("max-inflight", 4000, "connection cap (open loop: in-flight cap)")
	duration := flag.Duration("duration", 10*time.Second, "measured duration (closed: cap when -requests is set)")
	warmup := flag.Duration("warmup", 2*time.Second, "closed loop: unmeasured warm-up")
	requests := flag.Int("requests", 0, "closed loop: stop after this many requests (0 = duration only)")
	timeout := flag.Duration("timeout", 30*time.Second, "per-request timeout")
	flag.Parse()

	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fmt.Fprintf(os.Stderr, "loadgen: -url must be an http:// URL, got %q\n", *target)
		os.Exit(2)
	}
	raiseNoFile()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	c := loadgen.NewClient(loadgen.Config{
		Addr: u.Host, Path: u.RequestURI(), Key: *key, Model: *model,
		Stream: *stream, NoUsage: *noUsage, ExpectEvents: *expect,
		Timeout: *timeout, MaxConns: max(*maxInFlight, *conns),
	})
	defer c.Close()

	var res *loadgen.Result
	switch *mode {
	case "closed":
		res = c.Closed(ctx, loadgen.ClosedOptions{Conns: *conns, Warmup: *warmup, Duration: *duration, Requests: *requests})
	case "open":
		res = c.Open(ctx, loadgen.OpenOptions{Rate: *rate, Duration: *duration})
	default:
		fmt.Fprintf(os.Stderr, "loadgen: unknown -mode %q\n", *mode)
		os.Exit(2)
	}
	fmt.Println(res.Summary())
	if res.Failed() > 0 {
		os.Exit(1)
	}
}

// raiseNoFile lifts the soft descriptor limit to the hard one: thousands of
// connections need more than the common 1024 default.
func raiseNoFile() {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil && r.Cur < r.Max {
		r.Cur = r.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r) //nolint:errcheck // best effort
	}
}
