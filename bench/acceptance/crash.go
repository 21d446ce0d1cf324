//go:build linux

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// crash: one replica under ~50 req/s of mixed stream and non-stream
// requests is killed with SIGKILL at random moments and restarted on the
// same database and spill dir; then stopped with SIGTERM and restarted.
// Every response the client received completely must have its ledger row,
// except — after a kill -9 — rows of responses completed in the last flush
// interval before the kill.
const (
	crashRate     = 50
	flushInterval = time.Second // spend.Options.FlushInterval default: the claimed crash-loss bound
)

// instance is one run of the gateway process: from its spawn to the
// signal that ended it.
type instance struct {
	spawn     time.Time
	ready     time.Duration // spawn → ready
	end       time.Time     // when the ending signal was sent
	exit      time.Duration // signal → exit (SIGTERM)
	endedBy   string        // "kill -9", "SIGTERM", "final SIGTERM"
	graceful  bool
	completed int
	missing   []time.Duration // end − completion, per missing row
}

func runCrash(ctx context.Context, h *harness, s *section) error {
	dbURL, err := h.createDatabase(ctx, "crash")
	if err != nil {
		return err
	}
	cfg, err := h.writeConfig("crash", 20)
	if err != nil {
		return err
	}
	spill := filepath.Join(h.tmp, "crash-spill")
	t0 := time.Now()
	g, err := h.startGateway(ctx, gwSpec{name: "crash", config: cfg, dbURL: dbURL, spillDir: spill})
	if err != nil {
		return err
	}
	insts := []*instance{{spawn: t0, ready: time.Since(t0)}}
	key, err := generateKey(g, map[string]any{"models": []string{"m"}})
	if err != nil {
		return err
	}
	client := newClient(512)
	var col collector
	stop := make(chan struct{})
	loadDone := make(chan int, 1)
	bodies := [2][]byte{chatBody(false, 0), chatBody(true, 0)}
	go func() {
		loadDone <- pacer(ctx, crashRate, time.Now(), time.Time{}, stop, func(i int) {
			stream := rand.IntN(2) == 1
			b := bodies[0]
			if stream {
				b = bodies[1]
			}
			col.add(chat(ctx, client, g.url, key.Key, b, stream))
		})
	}()
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-loadDone
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
			<-loadDone
		}
	}()
	sleepCtx := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	restart := func() error {
		inst := &instance{spawn: time.Now()}
		insts = append(insts, inst)
		if err := g.start(ctx); err != nil {
			return err
		}
		inst.ready = time.Since(inst.spawn)
		return nil
	}
	rounds := append(slices.Repeat([]string{"kill -9"}, h.o.kills), slices.Repeat([]string{"SIGTERM"}, h.o.terms)...)
	for i, kind := range rounds {
		if err := sleepCtx(3*time.Second + rand.N(5*time.Second)); err != nil {
			return err
		}
		cur := insts[len(insts)-1]
		cur.endedBy = kind
		cur.end = time.Now()
		if kind == "kill -9" {
			g.kill9()
			cur.graceful = false
		} else {
			cur.exit, cur.graceful = g.sigterm(60 * time.Second)
		}
		progress("crash: round %d/%d: %s after %v of load; %d responses so far", i+1, len(rounds), kind, cur.end.Sub(cur.spawn).Round(100*time.Millisecond), len(col.results()))
		if err := restart(); err != nil {
			return err
		}
	}
	if err := sleepCtx(3 * time.Second); err != nil {
		return err
	}
	stopLoad()
	cur := insts[len(insts)-1]
	cur.endedBy, cur.end = "final SIGTERM", time.Now()
	cur.exit, cur.graceful = g.sigterm(60 * time.Second)
	rs := col.results()
	h.dumpResults("crash", rs)
	progress("crash: load over, %d responses; checking the ledger", len(rs))

	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	ids, err := spendIDs(ctx, db, key.Hash)
	if err != nil {
		return err
	}
	// Each request was served by the instance alive when it was sent: the
	// last one spawned before.
	completeIDs := map[string]bool{}
	var missingIDs []string
	for i := range rs {
		r := &rs[i]
		if !(r.Status == 200 && r.Complete) {
			continue
		}
		completeIDs[r.ID] = true
		k := 0
		for j, in := range insts {
			if !in.spawn.After(r.Sent) {
				k = j
			}
		}
		in := insts[k]
		in.completed++
		if _, ok := ids[r.ID]; !ok {
			in.missing = append(in.missing, in.end.Sub(r.Done))
			missingIDs = append(missingIDs, fmt.Sprintf("%s (%s, completed %s before %s)", r.ID, streamWord(r.Stream), ms(in.end.Sub(r.Done))+" ms", in.endedBy))
		}
	}
	extra := map[string]int{}
	for id, st := range ids {
		if !completeIDs[id] {
			extra[st]++
		}
	}

	s.printf("One replica on PostgreSQL (no Redis), spill dir `%s` kept across restarts. Open-loop load at %d req/s, stream or non-stream at random (mock latency 20 ms, 6 content chunks), "+
		"through restarts (requests sent while no process listens fail and do not count). The client logs every response it received **completely** (200 and, for a stream, `data: [DONE]` as the last event) with its `x-request-id` and completion time. "+
		"%d times the gateway is killed with SIGKILL after 3–8 s of load and restarted on the same database and spill dir; then %d times stopped with SIGTERM (drain, flush) and restarted; then stopped with SIGTERM. "+
		"A request is attributed to the process instance alive when it was sent; for a missing row, *Δ* is the time from the response's completion to the signal that ended its instance.\n\n",
		spill, crashRate, h.o.kills, h.o.terms)
	s.printf("| # | ended by | after s | complete responses | rows missing | max Δ of missing (ms) | exit after signal (ms) | restart → ready (ms) |\n|--:|---|--:|--:|--:|--:|--:|--:|\n")
	var killMissing, termMissing, killDone, termDone int
	var worst time.Duration
	allWithin := true
	for i, in := range insts {
		restartReady := "—"
		if i+1 < len(insts) {
			restartReady = ms(insts[i+1].ready)
		}
		exit := "—"
		if in.endedBy != "kill -9" {
			exit = ms(in.exit)
			if !in.graceful {
				exit += " (did not exit: killed)"
			}
		}
		mx := "—"
		if len(in.missing) > 0 {
			m := slices.Max(in.missing)
			mx = ms(m)
		}
		s.printf("| %d | %s | %.1f | %d | %d | %s | %s | %s |\n", i+1, in.endedBy, in.end.Sub(in.spawn).Seconds(), in.completed, len(in.missing), mx, exit, restartReady)
		if in.endedBy == "kill -9" {
			killMissing += len(in.missing)
			killDone += in.completed
			for _, d := range in.missing {
				worst = max(worst, d)
				if d > flushInterval {
					allWithin = false
				}
			}
		} else {
			termMissing += len(in.missing)
			termDone += in.completed
		}
	}
	statuses := countBy(rs, (*result).statusKey)
	s.printf("\nClient outcomes: %s.\n\n", formatCounts(statuses))
	s.printf("Rows in `spend_logs` for the key whose response the client did not receive completely (cut by a kill or a shutdown): %s.\n\n", formatCounts(extra))
	if len(missingIDs) > 0 {
		s.printf("Missing rows:\n\n")
		for _, m := range first(missingIDs, 20) {
			s.printf("- `%s`\n", m)
		}
		if len(missingIDs) > 20 {
			s.printf("- … %d more\n", len(missingIDs)-20)
		}
		s.printf("\n")
	}
	left := spillFiles(spill)
	s.printf("Spill dir at the end: %s.\n\n", left)
	var notes []string
	for _, l := range grepLog(g.log.Name(), "level=ERROR", "panic", "LOST", "spilled", "rejected") {
		notes = append(notes, strings.TrimSpace(l))
	}
	if len(notes) > 0 {
		s.printf("Gateway log lines of note:\n\n```\n%s\n```\n\n", strings.Join(first(notes, 15), "\n"))
	}
	s.check(fmt.Sprintf("kill -9: every missing row completed ≤ %v before the kill", flushInterval), allWithin,
		"%d of %d complete responses missing a row over %d kills; max Δ %s ms", killMissing, killDone, h.o.kills, ms(worst))
	s.check("SIGTERM: no row missing", termMissing == 0, "%d of %d missing over %d SIGTERMs + final stop", termMissing, termDone, h.o.terms)
	return nil
}

func streamWord(stream bool) string {
	if stream {
		return "stream"
	}
	return "non-stream"
}

// spillFiles describes what a spill dir holds.
func spillFiles(dir string) string {
	es, err := os.ReadDir(dir)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	if len(es) == 0 {
		return "empty"
	}
	var names []string
	for _, e := range es {
		info, _ := e.Info()
		size := int64(0)
		if info != nil {
			size = info.Size()
		}
		names = append(names, fmt.Sprintf("`%s` (%d bytes)", e.Name(), size))
	}
	return strings.Join(names, ", ")
}
