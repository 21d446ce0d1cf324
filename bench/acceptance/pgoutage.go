//go:build linux

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgoutage: one replica reaches PostgreSQL through a relay that fails for
// 30 s under load. Rows of responses completed during the outage must be
// spilled and replayed: none lost, none counted twice.
const (
	outageRate   = 50
	outageBefore = 10 * time.Second
	outageLength = 30 * time.Second
	outageAfter  = 20 * time.Second
	replayLimit  = 60 * time.Second
)

var phases = []string{"before", "outage", "after"}

func phaseOf(t, start time.Time) int {
	switch d := t.Sub(start); {
	case d < outageBefore:
		return 0
	case d < outageBefore+outageLength:
		return 1
	default:
		return 2
	}
}

func runPGOutage(ctx context.Context, h *harness, s *section) error {
	s.printf("One replica (no Redis) whose `DATABASE_URL` points at a TCP relay to PostgreSQL, written in the harness. Keys are created while the database is up. "+
		"Load: %d req/s (stream or non-stream at random) with one key (first used 5 s before the load, see below) for %v before, the %v outage and %v after; plus a *cold-key probe*: 1 req/s, each with a different key created before the outage but never used before (so never in the gateway's key cache). "+
		"Outage modes: **refuse** closes every relayed connection and the listener (new connections are refused, as when PostgreSQL is down); "+
		"**blackhole** closes every relayed connection and then accepts new ones but never answers (as when packets are dropped). "+
		"After the outage the harness polls `spend_logs` until every completely-received response has its row and the count is stable for 3 s (at most %v), reads `/metrics`, then stops the gateway with SIGTERM and checks again.\n\n",
		outageRate, outageBefore, outageLength, outageAfter, replayLimit)
	for _, mode := range h.o.outageModes {
		if err := pgOutageRun(ctx, h, s, mode); err != nil {
			return fmt.Errorf("mode %s: %w", mode, err)
		}
	}
	return nil
}

func pgOutageRun(ctx context.Context, h *harness, s *section, mode string) error {
	progress("pgoutage: mode %s", mode)
	dbURL, err := h.createDatabase(ctx, "pgout_"+mode)
	if err != nil {
		return err
	}
	pgc, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	rl, err := newRelay(net.JoinHostPort(pgc.Host, strconv.Itoa(int(pgc.Port))))
	if err != nil {
		return err
	}
	h.addCleanup(rl.close)
	cfg, err := h.writeConfig("pgoutage", 20)
	if err != nil {
		return err
	}
	spill := filepath.Join(h.tmp, "pgout-"+mode+"-spill")
	g, err := h.startGateway(ctx, gwSpec{name: "pgout-" + mode, config: cfg, dbURL: dbURLVia(dbURL, rl.addr()), spillDir: spill})
	if err != nil {
		return err
	}
	key, err := generateKey(g, map[string]any{"models": []string{"m"}})
	if err != nil {
		return err
	}
	total := outageBefore + outageLength + outageAfter
	cold := make([]vkey, int(total/time.Second)+2)
	for i := range cold {
		if cold[i], err = generateKey(g, map[string]any{"models": []string{"m"}}); err != nil {
			return err
		}
	}
	client := newClient(512)
	var load, probe collector
	bodies := [2][]byte{chatBody(false, 0), chatBody(true, 0)}
	// The gateway caches a key for 10 s from the lookup, hits do not
	// extend it. One request now makes the load key's entries expire at
	// +5 s, +15 s, … into the load, so the outage (at +10 s) begins with
	// 5 s of cached life left: the key keeps being served — and its rows
	// must be spilled — for the first seconds of the outage.
	warm := time.Now()
	load.add(chat(ctx, client, g.url, key.Key, bodies[0], false))
	start := warm.Add(cacheWarmLead)
	end := start.Add(total)
	var samples []metricSample
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		for t := time.NewTicker(500 * time.Millisecond); ; {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case now := <-t.C:
				if now.After(end.Add(10 * time.Second)) {
					t.Stop()
					return
				}
				m, err := g.metrics(metricNames...)
				if err == nil {
					samples = append(samples, metricSample{at: now, m: m})
				}
			}
		}
	}()
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		pacer(ctx, outageRate, start, end, nil, func(i int) {
			stream := rand.IntN(2) == 1
			b := bodies[0]
			if stream {
				b = bodies[1]
			}
			load.add(chat(ctx, client, g.url, key.Key, b, stream))
		})
	}()
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		pacer(ctx, 1, start.Add(500*time.Millisecond), end, nil, func(i int) {
			probe.add(chat(ctx, client, g.url, cold[i].Key, bodies[0], false))
		})
	}()
	sleepUntil := func(t time.Time) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(t)):
			return nil
		}
	}
	if err := sleepUntil(start.Add(outageBefore)); err != nil {
		return err
	}
	closed := rl.outage(mode)
	g.logf("=== harness: PostgreSQL outage (%s) begins; %d relayed connections closed", mode, closed)
	progress("pgoutage: outage (%s) begins: %d relayed connections closed", mode, closed)
	if err := sleepUntil(start.Add(outageBefore + outageLength)); err != nil {
		return err
	}
	if err := rl.resume(); err != nil {
		return err
	}
	g.logf("=== harness: PostgreSQL outage ends")
	recovered := time.Now()
	progress("pgoutage: outage over")
	<-loadDone
	<-probeDone
	loadEnded := time.Now()
	<-sampleDone
	lr, pr := load.results(), probe.results()
	h.dumpResults("pgoutage-"+mode+"-load", lr)
	h.dumpResults("pgoutage-"+mode+"-probe", pr)

	db, err := pgx.Connect(ctx, dbURL) // directly, not through the relay
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	complete := map[string]*result{}
	for i := range lr {
		if lr[i].Status == 200 && lr[i].Complete {
			complete[lr[i].ID] = &lr[i]
		}
	}
	var ids map[string]string
	missingOf := func() ([]string, error) {
		var err error
		if ids, err = spendIDs(ctx, db, key.Hash); err != nil {
			return nil, err
		}
		var miss []string
		for id := range complete {
			if _, ok := ids[id]; !ok {
				miss = append(miss, id)
			}
		}
		return miss, nil
	}
	var missing []string
	deadline := recovered.Add(replayLimit)
	lastCount, stableSince := -1, time.Now()
	for {
		if missing, err = missingOf(); err != nil {
			return err
		}
		if len(ids) != lastCount {
			lastCount, stableSince = len(ids), time.Now()
		}
		if len(missing) == 0 && time.Since(stableSince) >= 3*time.Second || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	settledAfter, settledAfterLoad := time.Since(recovered), time.Since(loadEnded)
	met, merr := g.metrics(metricNames...)
	files := spillFiles(spill)
	g.sigterm(60 * time.Second)
	missingAfterStop, err := missingOf()
	if err != nil {
		return err
	}
	var rowsN, dailyReq, sumCost, dailySpend, keySpend int64
	if err := db.QueryRow(ctx, "SELECT count(*), coalesce(sum(cost),0)::bigint FROM spend_logs WHERE key_hash = $1", key.Hash).Scan(&rowsN, &sumCost); err != nil {
		return err
	}
	if err := db.QueryRow(ctx, "SELECT coalesce(sum(requests),0)::bigint, coalesce(sum(spend),0)::bigint FROM daily_spend WHERE entity_type = 'key' AND entity_id = $1", key.Hash).Scan(&dailyReq, &dailySpend); err != nil {
		return err
	}
	if err := db.QueryRow(ctx, "SELECT spend FROM virtual_keys WHERE token_hash = $1", key.Hash).Scan(&keySpend); err != nil {
		return err
	}

	// Per phase: outcomes of the load key and of the cold-key probe.
	s.printf("### mode: %s\n\n", mode)
	s.printf("| phase | load requests | load outcomes | cold-key probes | probe outcomes |\n|---|--:|---|--:|---|\n")
	for p, name := range phases {
		var lp, pp []result
		for i := range lr {
			if phaseOf(lr[i].Sent, start) == p {
				lp = append(lp, lr[i])
			}
		}
		for i := range pr {
			if phaseOf(pr[i].Sent, start) == p {
				pp = append(pp, pr[i])
			}
		}
		s.printf("| %s (%s) | %d | %s | %d | %s |\n", name, phaseSpan(p), len(lp), formatCounts(countBy(lp, (*result).statusKey)), len(pp), formatCounts(countBy(pp, (*result).statusKey)))
	}
	// When, within the outage, the load key stopped being served.
	var last200, first503 time.Duration = -1, -1
	for i := range lr {
		if phaseOf(lr[i].Sent, start) != 1 {
			continue
		}
		d := lr[i].Sent.Sub(start) - outageBefore
		if lr[i].Status == 200 {
			last200 = max(last200, d)
		}
		if lr[i].Status == 503 && (first503 < 0 || d < first503) {
			first503 = d
		}
	}
	switch {
	case first503 < 0:
		s.printf("\nDuring the outage the load key was **never refused with 503**: it was answered 200 until +%s, although the outage began ~%v before its 10 s cache entry reached its TTL (the gateway served the expired entry while the store was unreachable).",
			secs(last200), 10*time.Second-cacheWarmLead-outageBefore%(10*time.Second))
	default:
		s.printf("\nDuring the outage the load key was last answered 200 at +%s and first refused with 503 at +%s into the outage (the outage began ~%v before its 10 s cache entry reached its TTL); those 503s took p50 %s ms, max %s ms.",
			secs(last200), secs(first503), 10*time.Second-cacheWarmLead-outageBefore%(10*time.Second), ms(lat503(lr, start, 50)), ms(lat503(lr, start, 100)))
	}
	if n := countPhaseStatus(pr, start, 1, 503); n > 0 {
		s.printf(" Cold-key probes during the outage: %d × 503, p50 %s ms, max %s ms.", n, ms(lat503(pr, start, 50)), ms(lat503(pr, start, 100)))
	}
	s.printf("\n\n")
	// Rows only in memory (not in the database, not in a spill file): what
	// a crash at that moment would lose.
	var maxQueued float64
	var maxAt, firstSpill time.Duration = 0, -1
	for _, sm := range samples {
		d := sm.at.Sub(start) - outageBefore
		if q := sm.m["switchboard_spend_queue_rows"]; q > maxQueued {
			maxQueued, maxAt = q, d
		}
		if firstSpill < 0 && sm.m["switchboard_spend_rows_spilled_total"] > 0 {
			firstSpill = d
		}
	}
	s.printf("`/metrics` sampled every 0.5 s: at most **%.0f rows were held only in memory** (`switchboard_spend_queue_rows`: neither in the database nor in a spill file — what a crash at that moment would lose), at %+.1f s from the outage start; %s. "+
		"The writer's documented crash-loss bound during an outage is SpillAfter + FlushInterval = 6 s of rows.\n\n",
		maxQueued, maxAt.Seconds(), spillWhen(firstSpill))
	s.printf("Ledger: %d complete responses; %d rows missing at the check (%.1f s after the outage ended, %.1f s after the load ended), %d missing after the graceful stop. "+
		"Rows of the key: %d; rows whose response the client did not receive completely: %d. ",
		len(complete), len(missing), settledAfter.Seconds(), settledAfterLoad.Seconds(), len(missingAfterStop), rowsN, int(rowsN)-(len(complete)-len(missingAfterStop)))
	s.printf("Double counting: SUM(spend_logs.cost) = %d µ$, virtual_keys.spend = %d µ$, daily_spend (key) = %d µ$ over %d requests.\n\n", sumCost, keySpend, dailySpend, dailyReq)
	if merr != nil {
		s.printf("`/metrics` unreadable: %v\n\n", merr)
	} else {
		s.printf("`/metrics` after recovery: written %v, spilled %v, replayed %v, rejected %v, failed batches %v, queued %v. Spill dir then: %s.\n\n",
			met["switchboard_spend_rows_written_total"], met["switchboard_spend_rows_spilled_total"], met["switchboard_spend_rows_replayed_total"],
			met["switchboard_spend_rows_rejected_total"], met["switchboard_spend_batch_failures_total"], met["switchboard_spend_queue_rows"], files)
	}
	if len(missing) > 0 {
		s.printf("Missing at the check (first 10): %s\n\n", strings.Join(first(missing, 10), ", "))
	}
	var notes []string
	for _, l := range grepLog(g.log.Name(), "spend store", "spill", "replay", "level=ERROR", "LOST", "panic", "=== harness") {
		notes = append(notes, strings.TrimSpace(l))
	}
	if len(notes) > 0 {
		s.printf("Gateway log lines of note:\n\n```\n%s\n```\n\n", strings.Join(first(notes, 25), "\n"))
	}
	s.check(mode+": zero rows lost after replay", len(missing) == 0, "%d of %d missing %.0f s after recovery (%d after stop)", len(missing), len(complete), settledAfter.Seconds(), len(missingAfterStop))
	dup := keySpend != sumCost || dailySpend != sumCost || dailyReq != rowsN
	s.check(mode+": zero duplicated (rows are unique by request_id; aggregates = SUM of rows)", !dup,
		"rows %d, daily requests %d; cost %d, key spend %d, daily spend %d µ$", rowsN, dailyReq, sumCost, keySpend, dailySpend)
	return nil
}

func countPhaseStatus(rs []result, start time.Time, phase, status int) int {
	n := 0
	for i := range rs {
		if rs[i].Status == status && phaseOf(rs[i].Sent, start) == phase {
			n++
		}
	}
	return n
}

// lat503 is a percentile of the latency of 503 answers during the outage.
func lat503(rs []result, start time.Time, q float64) time.Duration {
	var ds []time.Duration
	for i := range rs {
		if rs[i].Status == 503 && phaseOf(rs[i].Sent, start) == 1 {
			ds = append(ds, rs[i].latency())
		}
	}
	return percentile(sortedDurations(ds), q)
}

// cacheWarmLead is how long before the load the key is first used.
const cacheWarmLead = 5 * time.Second

var metricNames = []string{"switchboard_spend_rows_written_total", "switchboard_spend_rows_spilled_total", "switchboard_spend_rows_replayed_total",
	"switchboard_spend_batch_failures_total", "switchboard_spend_queue_rows", "switchboard_spend_rows_rejected_total"}

type metricSample struct {
	at time.Time
	m  map[string]float64
}

func spillWhen(d time.Duration) string {
	if d < 0 {
		return "no row was ever written to a spill file"
	}
	return fmt.Sprintf("the first row reached a spill file at %+.1f s", d.Seconds())
}

func phaseSpan(p int) string {
	switch p {
	case 0:
		return fmt.Sprintf("0–%v", outageBefore)
	case 1:
		return fmt.Sprintf("%v–%v", outageBefore, outageBefore+outageLength)
	}
	return fmt.Sprintf("%v–%v", outageBefore+outageLength, outageBefore+outageLength+outageAfter)
}

func secs(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
