//go:build linux

// Command acceptance measures Switchboard's guarantees on keys, limits and
// spend with real processes, PostgreSQL and Redis, and writes a markdown
// report with a PASS/FAIL per criterion:
//
//	go run ./bench/acceptance                      # every scenario (~15 min)
//	go run ./bench/acceptance -only budget,crash    # some of them
//	go run ./bench/acceptance -rpm-duration 1m -keep
//
// Scenarios: rpm (a shared rpm limit across two replicas), budget (a
// max_budget under a concurrent burst), crash (kill -9 and SIGTERM against
// the spend ledger), pgoutage (PostgreSQL unreachable for 30 s), keys1m
// (authentication cost with 1,000,000 keys). Each gets fresh databases.
//
// It exits non-zero when a scenario could not run, not when a criterion
// fails: failures are what the report is for. See bench/acceptance/README.md.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"github.com/switchboard-gw/switchboard/bench/internal/proc"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// masterKey is the gateways' master key (long and varied enough to be
// accepted without SWITCHBOARD_ALLOW_WEAK_MASTER_KEY).
const masterKey = "sk-accept-7f3a9c1e5b2d4086"

// The mock model's numbers: every request costs exactly
// 100×0.00001 + 50×0.00002 = 0.002 USD = 2000 micro-dollars.
const (
	promptTokens     = 100
	completionTokens = 50
	requestCostMicro = 2000
)

type options struct {
	only        []string
	out         string
	rpmDuration time.Duration
	keep        bool
	bin         string
	pg          string // admin connection (database test)
	redisAddr   string
	redisDB     int
	kills       int
	terms       int
	outageModes []string
	keysLarge   int
	probes      int
}

var allScenarios = []string{"rpm", "budget", "crash", "pgoutage", "keys1m"}

type scenario struct {
	name  string
	title string
	run   func(ctx context.Context, h *harness, s *section) error
}

var scenarios = map[string]scenario{
	"rpm":      {"rpm", "Shared rpm limit across two replicas", runRPM},
	"budget":   {"budget", "max_budget under a concurrent burst", runBudget},
	"crash":    {"crash", "Spend ledger across kill -9 and SIGTERM", runCrash},
	"pgoutage": {"pgoutage", "Spend ledger across a 30 s PostgreSQL outage", runPGOutage},
	"keys1m":   {"keys1m", "Authentication cost with 1,000,000 keys", runKeys1M},
}

// harness is what every scenario shares.
type harness struct {
	o    options
	root string // module root
	tmp  string
	bin  string
	rdb  *redis.Client
	salt string // makes database names unique per run
	// ownFlushes counts this run's FLUSHDBs, to notice anyone else's.
	ownFlushes int64
	rev        string // what the gateway was built from
	dbsMu      sync.Mutex
	dbs        []string

	cleanupMu sync.Mutex
	cleanups  []func()
}

func (h *harness) addCleanup(f func()) {
	h.cleanupMu.Lock()
	h.cleanups = append(h.cleanups, f)
	h.cleanupMu.Unlock()
}

// runCleanups runs the cleanups registered so far, newest first.
func (h *harness) runCleanups() {
	h.cleanupMu.Lock()
	fs := h.cleanups
	h.cleanups = nil
	h.cleanupMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// criterion is one PASS/FAIL line of the report.
type criterion struct {
	name     string
	measured string
	pass     bool
}

// section is one scenario's part of the report.
type section struct {
	name, title string
	body        strings.Builder
	criteria    []criterion
	warnings    []string
	err         error
	took        time.Duration
}

func (s *section) printf(format string, args ...any) { fmt.Fprintf(&s.body, format, args...) }

func (s *section) check(name string, pass bool, measured string, args ...any) {
	s.criteria = append(s.criteria, criterion{name: name, measured: fmt.Sprintf(measured, args...), pass: pass})
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05")+" "+format+"\n", args...)
}

func main() {
	os.Exit(run())
}

func run() int {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "acceptance:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	h := &harness{o: o}
	defer proc.KillAll()
	began := time.Now()
	// Two runs at once would FLUSHDB each other's Redis counters and share
	// two cores: one run at a time per machine.
	unlock, err := lockMachine(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "acceptance:", err)
		return 1
	}
	defer unlock()
	if err := h.setup(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "acceptance:", err)
		h.teardown()
		return 1
	}
	var sections []*section
	failed := false
	for _, name := range o.only {
		sc := scenarios[name]
		s := &section{name: sc.name, title: sc.title}
		sections = append(sections, s)
		if ctx.Err() != nil {
			s.err = errors.New("interrupted before it started")
			failed = true
			continue
		}
		progress("== scenario %s: %s", sc.name, sc.title)
		t := time.Now()
		if err := h.flushRedis(ctx); err != nil {
			s.err = err
		} else {
			own, before := h.ownFlushes, h.flushCount(ctx)
			s.err = safeRun(ctx, h, s, sc.run)
			if foreign := h.flushCount(ctx) - before - (h.ownFlushes - own); before >= 0 && foreign > 0 {
				s.warnings = append(s.warnings, fmt.Sprintf("Redis received %d FLUSHDB/FLUSHALL from another client during this scenario (another acceptance run?): rate-limit and budget counters may have been wiped; do not trust its numbers.", foreign))
			}
		}
		h.runCleanups()
		s.took = time.Since(t)
		if s.err != nil {
			failed = true
			progress("== scenario %s could not run: %v", sc.name, s.err)
		} else {
			n := 0
			for _, c := range s.criteria {
				if c.pass {
					n++
				}
			}
			progress("== scenario %s done in %v: %d/%d criteria pass", sc.name, s.took.Round(time.Second), n, len(s.criteria))
		}
	}
	report := h.render(sections, time.Since(began))
	h.teardown()
	out := h.o.out // setup fills in the default
	err = os.MkdirAll(filepath.Dir(out), 0o755)
	if err == nil {
		err = os.WriteFile(out, []byte(report), 0o644)
	}
	if err != nil {
		// Never lose a finished run: the report goes to stdout instead.
		fmt.Fprintln(os.Stderr, "acceptance: cannot write the report:", err)
		fmt.Print(report)
		return 1
	}
	progress("report written to %s", out)
	if failed {
		return 1
	}
	return 0
}

// safeRun runs a scenario, turning a panic into its error.
func safeRun(ctx context.Context, h *harness, s *section, f func(context.Context, *harness, *section) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			buf := make([]byte, 8<<10)
			buf = buf[:runtime.Stack(buf, false)]
			err = fmt.Errorf("panic: %v\n%s", r, buf)
		}
	}()
	return f(ctx, h, s)
}

func parseFlags() (options, error) {
	var o options
	var only, modes string
	flag.StringVar(&only, "only", strings.Join(allScenarios, ","), "scenarios to run, comma-separated ("+strings.Join(allScenarios, ",")+")")
	flag.StringVar(&o.out, "out", "", "report path (default bench/results/acceptance-<date>.md under the module root)")
	flag.DurationVar(&o.rpmDuration, "rpm-duration", 3*time.Minute, "rpm: measured length, rounded down to whole minutes (at least 1m)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (binary, configs, gateway logs, spill dirs) and the databases")
	flag.StringVar(&o.bin, "bin", "", "use this switchboard binary instead of building ./cmd/switchboard")
	flag.StringVar(&o.pg, "pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL admin connection; scenario databases are created beside it")
	flag.StringVar(&o.redisAddr, "redis", "127.0.0.1:6379", "Redis address")
	flag.IntVar(&o.redisDB, "redis-db", 9, "Redis database for the gateways' counters (FLUSHDB before each scenario)")
	flag.IntVar(&o.kills, "kills", 10, "crash: kill -9 rounds")
	flag.IntVar(&o.terms, "terms", 5, "crash: SIGTERM rounds")
	flag.StringVar(&modes, "outage-modes", "refuse,blackhole", "pgoutage: how the relay fails (refuse: connections refused; blackhole: accepted, never answered)")
	flag.IntVar(&o.keysLarge, "keys", 1_000_000, "keys1m: keys in the large table")
	flag.IntVar(&o.probes, "probes", 2000, "keys1m: distinct never-seen keys per measurement")
	flag.Parse()
	if flag.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
	for _, n := range strings.Split(only, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if _, ok := scenarios[n]; !ok {
			return o, fmt.Errorf("-only: unknown scenario %q (known: %s)", n, strings.Join(allScenarios, ","))
		}
		if !slices.Contains(o.only, n) {
			o.only = append(o.only, n)
		}
	}
	if len(o.only) == 0 {
		return o, errors.New("-only: no scenario")
	}
	for _, m := range strings.Split(modes, ",") {
		m = strings.TrimSpace(m)
		if m != "refuse" && m != "blackhole" {
			return o, fmt.Errorf("-outage-modes: unknown mode %q", m)
		}
		o.outageModes = append(o.outageModes, m)
	}
	if o.rpmDuration < time.Minute {
		return o, errors.New("-rpm-duration: at least 1m (one full window)")
	}
	if o.kills < 1 || o.terms < 1 || o.probes < 10 || o.keysLarge < 10_000 {
		return o, errors.New("-kills, -terms ≥ 1, -probes ≥ 10, -keys ≥ 10000")
	}
	return o, nil
}

// setup finds the module, builds the gateway and checks the services.
func (h *harness) setup(ctx context.Context) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	h.root = root
	if h.o.out == "" {
		h.o.out = filepath.Join(root, "bench", "results", "acceptance-"+time.Now().UTC().Format("2006-01-02")+".md")
	}
	if h.tmp, err = os.MkdirTemp("", "sbaccept-"); err != nil {
		return err
	}
	progress("temp dir %s", h.tmp)
	var b [4]byte
	_, _ = rand.Read(b[:])
	h.salt = hex.EncodeToString(b[:])
	h.rev = h.revision() // before building: the work tree may change during the run
	if h.o.bin != "" {
		h.bin, err = filepath.Abs(h.o.bin)
		if err != nil {
			return err
		}
	} else {
		h.bin = filepath.Join(h.tmp, "switchboard")
		progress("building ./cmd/switchboard")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", h.bin, "./cmd/switchboard")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/switchboard: %v\n%s", err, out)
		}
	}
	c, err := pgx.Connect(ctx, h.o.pg)
	if err != nil {
		return fmt.Errorf("PostgreSQL (%s): %w", h.o.pg, err)
	}
	c.Close(ctx)
	h.rdb = redis.NewClient(&redis.Options{Addr: h.o.redisAddr, DB: h.o.redisDB})
	if err := h.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", h.o.redisAddr, err)
	}
	return nil
}

func (h *harness) teardown() {
	h.runCleanups()
	proc.KillAll()
	if !h.o.keep {
		h.dropDatabases()
		if h.tmp != "" {
			os.RemoveAll(h.tmp)
		}
	} else {
		progress("kept temp dir %s and databases %s", h.tmp, strings.Join(h.dbs, ", "))
	}
	if h.rdb != nil {
		h.rdb.Close()
	}
}

// lockMachine takes an exclusive flock on a file in the temp dir, waiting
// for a run that holds it.
func lockMachine(ctx context.Context) (func(), error) {
	path := filepath.Join(os.TempDir(), "switchboard-acceptance.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	for waited := false; ; waited = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !waited {
			progress("another acceptance run holds %s (it would FLUSHDB this run's Redis counters); waiting for it", path)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return func() { f.Close() }, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/switchboard-gw/switchboard\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the switchboard module")
		}
		dir = parent
	}
}

func (h *harness) flushRedis(ctx context.Context) error {
	h.ownFlushes++
	if err := h.rdb.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("redis FLUSHDB: %w", err)
	}
	return nil
}

// flushCount is how many FLUSHDB and FLUSHALL Redis has executed since it
// started (-1: unknown).
func (h *harness) flushCount(ctx context.Context) int64 {
	info, err := h.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return -1
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		for _, cmd := range []string{"cmdstat_flushdb:calls=", "cmdstat_flushall:calls="} {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), cmd); ok {
				v, _, _ := strings.Cut(rest, ",")
				k, _ := strconv.ParseInt(v, 10, 64)
				n += k
			}
		}
	}
	return n
}

func (h *harness) redisURL() string {
	return fmt.Sprintf("redis://%s/%d", h.o.redisAddr, h.o.redisDB)
}

// createDatabase makes a fresh, empty database and returns its URL.
func (h *harness) createDatabase(ctx context.Context, label string) (string, error) {
	name := "sbaccept_" + label + "_" + h.salt
	c, err := pgx.Connect(ctx, h.o.pg)
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	h.dbsMu.Lock()
	h.dbs = append(h.dbs, name)
	h.dbsMu.Unlock()
	cfg, err := pgx.ParseConfig(h.o.pg)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name), nil
}

// dbURLVia is url with its host:port replaced (the relay).
func dbURLVia(url, hostport string) string {
	i := strings.Index(url, "@")
	j := strings.Index(url[i:], "/")
	return url[:i+1] + hostport + url[i+j:]
}

func (h *harness) dropDatabases() {
	if len(h.dbs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, h.o.pg)
	if err != nil {
		progress("could not drop databases: %v", err)
		return
	}
	defer c.Close(ctx)
	for _, name := range h.dbs {
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			progress("drop database %s: %v", name, err)
		}
	}
}

// writeConfig writes a gateway config for the mock model with the given
// latency and returns its path.
func (h *harness) writeConfig(name string, latencyMS int) (string, error) {
	cfg := fmt.Sprintf(`model_list:
  - model_name: m
    litellm_params:
      model: mock/m
      mock_prompt_tokens: %d
      mock_completion_tokens: %d
      mock_latency_ms: %d
      mock_stream_chunks: 6
      input_cost_per_token: 0.00001
      output_cost_per_token: 0.00002
general_settings:
  master_key: %s
`, promptTokens, completionTokens, latencyMS, masterKey)
	path := filepath.Join(h.tmp, name+".yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// waitLedgerStable polls q (a count) until it has not changed for quiet,
// or until limit. It returns the last value and whether it settled.
func waitLedgerStable(ctx context.Context, db *pgx.Conn, quiet, limit time.Duration, q string, args ...any) (int64, bool, error) {
	deadline := time.Now().Add(limit)
	var last int64 = -1
	since := time.Now()
	for {
		var n int64
		if err := db.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			return 0, false, err
		}
		if n != last {
			last, since = n, time.Now()
		}
		if time.Since(since) >= quiet {
			return n, true, nil
		}
		if time.Now().After(deadline) {
			return n, false, nil
		}
		select {
		case <-ctx.Done():
			return n, false, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// spendIDs returns the request ids in spend_logs for a key.
func spendIDs(ctx context.Context, db *pgx.Conn, keyHash string) (map[string]string, error) {
	rows, err := db.Query(ctx, "SELECT request_id, status FROM spend_logs WHERE key_hash = $1", keyHash)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, err
		}
		out[id] = st
	}
	return out, rows.Err()
}

func passFail(ok bool) string {
	if ok {
		return "**PASS**"
	}
	return "**FAIL**"
}

// render is the whole report.
func (h *harness) render(sections []*section, took time.Duration) string {
	var b strings.Builder
	now := time.Now().UTC()
	fmt.Fprintf(&b, "# Switchboard acceptance — %s\n\n", now.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- Host: %d CPUs, %s, %s; gateway %s\n", runtime.NumCPU(), kernel(), runtime.Version(), h.rev)
	fmt.Fprintf(&b, "- PostgreSQL %s, Redis %s (db %d); run took %v; scenarios: %s\n", h.pgVersion(), h.redisVersion(), h.o.redisDB, took.Round(time.Second), strings.Join(h.o.only, ", "))
	fmt.Fprintf(&b, "- Model `m` = `mock/m`: %d prompt + %d completion tokens, $0.00001 / $0.00002 per token → **%d µ$ (0.002 USD) per request**. Master key and virtual keys from `/key/generate`.\n", promptTokens, completionTokens, requestCostMicro)
	fmt.Fprintf(&b, "- Command: `go run ./bench/acceptance %s`\n\n", strings.Join(os.Args[1:], " "))
	b.WriteString("## Summary\n\n| scenario | criterion | measured | result |\n|---|---|---|---|\n")
	for _, s := range sections {
		if s.err != nil {
			fmt.Fprintf(&b, "| %s | — | could not run: %s | **ERROR** |\n", s.name, oneLine(s.err.Error()))
			continue
		}
		for _, c := range s.criteria {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", s.name, c.name, c.measured, passFail(c.pass))
		}
	}
	b.WriteString("\n")
	for _, s := range sections {
		for _, w := range s.warnings {
			fmt.Fprintf(&b, "> **Warning (%s):** %s\n\n", s.name, w)
		}
	}
	for _, s := range sections {
		fmt.Fprintf(&b, "## %s — %s\n\n", s.name, s.title)
		for _, w := range s.warnings {
			fmt.Fprintf(&b, "> **Warning:** %s\n\n", w)
		}
		if s.took > 0 {
			fmt.Fprintf(&b, "_Took %v._\n\n", s.took.Round(time.Second))
		}
		b.WriteString(s.body.String())
		if s.err != nil {
			fmt.Fprintf(&b, "\n**The scenario could not run to the end:**\n\n```\n%s\n```\n\n", s.err)
		}
		if len(s.criteria) > 0 {
			b.WriteString("\n| criterion | measured | result |\n|---|---|---|\n")
			for _, c := range s.criteria {
				fmt.Fprintf(&b, "| %s | %s | %s |\n", c.name, c.measured, passFail(c.pass))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "Linux"
	}
	return "Linux " + strings.TrimSpace(string(b))
}

// revision is the commit the gateway is built from and, if the sources
// differ from it, a hash of the difference (so two runs can be told apart).
func (h *harness) revision() string {
	if h.o.bin != "" {
		return "binary " + h.o.bin
	}
	out, err := exec.Command("git", "-C", h.root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "commit unknown"
	}
	rev := "commit " + strings.TrimSpace(string(out))
	paths := []string{"--", "cmd", "internal", "go.mod", "go.sum"}
	st, _ := exec.Command("git", append([]string{"-C", h.root, "status", "--porcelain"}, paths...)...).Output()
	if lines := strings.Fields(strings.TrimSpace(string(st))); len(lines) > 0 {
		diff, _ := exec.Command("git", append([]string{"-C", h.root, "diff", "HEAD"}, paths...)...).Output()
		untracked, _ := exec.Command("git", append([]string{"-C", h.root, "ls-files", "--others", "--exclude-standard"}, paths...)...).Output()
		sum := sha256.Sum256(append(diff, untracked...))
		rev += fmt.Sprintf(" + uncommitted changes in cmd/, internal/ (diff sha256 %x, %d files listed by git status)", sum[:6], strings.Count(strings.TrimSpace(string(st)), "\n")+1)
	}
	return rev + ", as of " + time.Now().UTC().Format("15:04:05") + " UTC when the build started"
}

func (h *harness) pgVersion() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, h.o.pg)
	if err != nil {
		return "?"
	}
	defer c.Close(ctx)
	var v string
	_ = c.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v
}

func (h *harness) redisVersion() string {
	if h.rdb == nil {
		return "?"
	}
	s, err := h.rdb.Info(context.Background(), "server").Result()
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
