//go:build linux

package main

import (
	"context"
	"fmt"
	"github.com/switchboard-gw/switchboard/bench/internal/proc"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// gwSpec is how to start one gateway replica.
type gwSpec struct {
	name     string // used for the log file and messages
	config   string // path of config.yaml
	dbURL    string // DATABASE_URL
	redisURL string // REDIS_URL, "" for in-process counters
	spillDir string // SWITCHBOARD_SPILL_DIR, kept across restarts
	env      []string
}

// gateway is one replica. Restarts keep its port, log file and spill dir,
// so clients keep the same URL.
type gateway struct {
	h      *harness
	spec   gwSpec
	port   int
	url    string
	log    *os.File
	logMu  sync.Mutex
	p      *proc.Proc
	starts int
}

// childEnv is the harness's environment without anything that would change
// how the gateway behaves, plus env.
func childEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "DATABASE_URL", k == "CONFIG_FILE_PATH", k == "HOST", k == "PORT", k == "JSON_LOGS",
			strings.HasPrefix(k, "REDIS_"), strings.HasPrefix(k, "SWITCHBOARD_"), strings.HasPrefix(k, "LITELLM_"),
			strings.HasPrefix(k, "PROXY_"):
			continue
		}
		out = append(out, kv)
	}
	return append(out, env...)
}

// startGateway starts a replica and waits until it is ready.
func (h *harness) startGateway(ctx context.Context, spec gwSpec) (*gateway, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if spec.spillDir != "" {
		if err := os.MkdirAll(spec.spillDir, 0o700); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(filepath.Join(h.tmp, spec.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	g := &gateway{h: h, spec: spec, port: port, url: "http://127.0.0.1:" + strconv.Itoa(port), log: f}
	h.addCleanup(func() { g.p.Kill(); f.Close() })
	if err := g.start(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// start runs the binary (again) and waits for /health/liveliness and, when
// the database is up, /health/readiness.
func (g *gateway) start(ctx context.Context) error {
	g.starts++
	g.logf("=== harness: start #%d of %s on port %d", g.starts, g.spec.name, g.port)
	env := []string{"DATABASE_URL=" + g.spec.dbURL}
	if g.spec.redisURL != "" {
		env = append(env, "REDIS_URL="+g.spec.redisURL)
	}
	if g.spec.spillDir != "" {
		env = append(env, "SWITCHBOARD_SPILL_DIR="+g.spec.spillDir)
	}
	env = append(env, g.spec.env...)
	p, err := proc.Start(g.spec.name, g.log, childEnv(env...), g.h.bin,
		"--config", g.spec.config, "--port", strconv.Itoa(g.port), "--host", "127.0.0.1")
	if err != nil {
		return err
	}
	g.p = p
	return g.waitReady(ctx, 30*time.Second, true)
}

func (g *gateway) logf(format string, args ...any) {
	g.logMu.Lock()
	defer g.logMu.Unlock()
	fmt.Fprintf(g.log, time.Now().UTC().Format("15:04:05.000")+" "+format+"\n", args...)
}

var probeClient = &http.Client{Timeout: time.Second}

func (g *gateway) get(path string) (int, []byte, error) {
	resp, err := probeClient.Get(g.url + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (g *gateway) waitReady(ctx context.Context, timeout time.Duration, db bool) error {
	deadline := time.Now().Add(timeout)
	paths := []string{"/health/liveliness"}
	if db {
		paths = append(paths, "/health/readiness")
	}
	for _, path := range paths {
		for {
			code, _, err := g.get(path)
			if err == nil && code == 200 {
				break
			}
			if g.p.Exited() {
				return fmt.Errorf("%s exited during start-up (%v); log: %s\n%s", g.spec.name, g.p.Err(), g.log.Name(), proc.Tail(g.log.Name(), 15))
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %s not 200 after %v (last: %d %v); log: %s\n%s", g.spec.name, path, timeout, code, err, g.log.Name(), proc.Tail(g.log.Name(), 15))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// kill9 kills the replica with SIGKILL.
func (g *gateway) kill9() {
	g.logf("=== harness: kill -9 pid %d", g.p.Pid())
	g.p.Kill()
}

// sigterm stops the replica gracefully and waits for it; it reports how long
// the exit took and whether it exited within wait.
func (g *gateway) sigterm(wait time.Duration) (time.Duration, bool) {
	g.logf("=== harness: SIGTERM pid %d", g.p.Pid())
	t := time.Now()
	ok := g.p.Term(wait)
	d := time.Since(t)
	g.logf("=== harness: pid exited after %v (graceful=%v, status=%v)", d.Round(time.Millisecond), ok, g.p.Err())
	return d, ok
}

// metrics reads the named series (without labels) from /metrics.
func (g *gateway) metrics(names ...string) (map[string]float64, error) {
	code, b, err := g.get("/metrics")
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("/metrics: %d", code)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		for _, n := range names {
			if rest, ok := strings.CutPrefix(line, n+" "); ok {
				v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
				if err == nil {
					out[n] = v
				}
			}
		}
	}
	return out, nil
}

// grepLog returns the log lines containing any of subs.
func grepLog(path string, subs ...string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, s := range subs {
			if strings.Contains(line, s) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// relay is a TCP relay from a loopback port to PostgreSQL that can simulate
// an outage: every relayed connection is closed and new ones are refused
// (the listener is closed: ECONNREFUSED, as when PostgreSQL is down) or
// blackholed (accepted and never answered, as when the network drops
// packets) until resume.
type relay struct {
	target string
	port   int

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	down     bool
	mode     string
	accepted int
	held     int // connections blackholed during outages
	wg       sync.WaitGroup
}

func newRelay(target string) (*relay, error) {
	r := &relay{target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.port = ln.Addr().(*net.TCPAddr).Port
	r.serve(ln)
	return r, nil
}

func (r *relay) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *relay) serve(ln net.Listener) {
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.accepted++
			down, mode := r.down, r.mode
			r.conns[c] = struct{}{}
			if down && mode == "blackhole" {
				r.held++
				r.mu.Unlock()
				continue // never read, never answer; closed at resume
			}
			r.mu.Unlock()
			go r.pipe(c)
		}
	}()
}

func (r *relay) pipe(c net.Conn) {
	up, err := net.DialTimeout("tcp", r.target, 2*time.Second)
	if err != nil {
		r.drop(c)
		return
	}
	r.mu.Lock()
	if r.down {
		r.mu.Unlock()
		up.Close()
		r.drop(c)
		return
	}
	r.conns[up] = struct{}{}
	r.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(up, c)
	go cp(c, up)
	<-done
	r.drop(c)
	r.drop(up)
}

func (r *relay) drop(c net.Conn) {
	c.Close()
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// outage closes every relayed connection; mode "refuse" also closes the
// listener, mode "blackhole" keeps accepting and holds new connections.
func (r *relay) outage(mode string) int {
	r.mu.Lock()
	r.down, r.mode = true, mode
	n := len(r.conns)
	for c := range r.conns {
		c.Close()
		delete(r.conns, c)
	}
	ln := r.ln
	r.mu.Unlock()
	if mode == "refuse" {
		ln.Close()
		r.wg.Wait()
	}
	return n
}

// resume ends the outage: blackholed connections are closed (their
// clients reconnect) and a closed listener listens again on the same port.
func (r *relay) resume() error {
	r.mu.Lock()
	mode := r.mode
	r.down = false
	for c := range r.conns {
		c.Close()
		delete(r.conns, c)
	}
	r.mu.Unlock()
	if mode == "refuse" {
		var ln net.Listener
		var err error
		for i := 0; i < 50; i++ {
			if ln, err = net.Listen("tcp4", r.addr()); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("relay: listen again on %s: %w", r.addr(), err)
		}
		r.serve(ln)
	}
	return nil
}

func (r *relay) close() {
	r.mu.Lock()
	r.down = true
	ln := r.ln
	for c := range r.conns {
		c.Close()
		delete(r.conns, c)
	}
	r.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}
