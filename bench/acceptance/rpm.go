//go:build linux

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// rpm: one key with rpm_limit 600 used through two replicas that share
// PostgreSQL and Redis, at 3× the limit, over whole minute windows.
const (
	rpmLimit   = 600
	rpmLow     = 570 // the least a full window must admit
	rpmOverdue = 3   // offered load = rpmOverdue × limit
	rpmLead    = 3 * time.Second
)

func runRPM(ctx context.Context, h *harness, s *section) error {
	dbURL, err := h.createDatabase(ctx, "rpm")
	if err != nil {
		return err
	}
	cfg, err := h.writeConfig("rpm", 20)
	if err != nil {
		return err
	}
	var gws []*gateway
	for _, name := range []string{"rpm-a", "rpm-b"} {
		g, err := h.startGateway(ctx, gwSpec{name: name, config: cfg, dbURL: dbURL, redisURL: h.redisURL(), spillDir: filepath.Join(h.tmp, name+"-spill")})
		if err != nil {
			return err
		}
		gws = append(gws, g)
	}
	key, err := generateKey(gws[0], map[string]any{"models": []string{"m"}, "rpm_limit": rpmLimit})
	if err != nil {
		return err
	}
	windows := int(h.o.rpmDuration / time.Minute)
	rate := float64(rpmOverdue*rpmLimit) / 60
	// Load starts rpmLead before a minute boundary B and ends just after
	// B+windows minutes, so windows [B+i, B+i+1) are wholly under load.
	now := time.Now()
	b := now.Truncate(time.Minute).Add(time.Minute)
	if b.Sub(now) < rpmLead+2*time.Second {
		b = b.Add(time.Minute)
	}
	start, end := b.Add(-rpmLead), b.Add(time.Duration(windows)*time.Minute+time.Second)
	progress("rpm: key %s…, %d full windows from %s; load %.0f req/s over both replicas from %s (waiting %v)",
		key.Hash[:12], windows, b.UTC().Format("15:04:05"), rate, start.UTC().Format("15:04:05.000"), time.Until(start).Round(time.Second))
	client := newClient(512)
	var col collector
	body := chatBody(false, 0)
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				rs := col.results()
				progress("rpm: %d requests sent, %s", len(rs), formatCounts(countBy(rs, (*result).statusKey)))
			}
		}
	}()
	sent := pacer(ctx, rate, start, end, nil, func(i int) {
		g := gws[i%len(gws)]
		r := chat(ctx, client, g.url, key.Key, body, false)
		r.Target = i % len(gws)
		col.add(r)
	})
	close(done)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rs := col.results()
	h.dumpResults("rpm", rs)
	progress("rpm: load over: %d sent; waiting for the ledger", sent)

	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	if _, settled, err := waitLedgerStable(ctx, db, 3*time.Second, 30*time.Second, "SELECT count(*) FROM spend_logs WHERE key_hash = $1", key.Hash); err != nil {
		return err
	} else if !settled {
		s.printf("> The ledger was still growing 30 s after the load ended.\n\n")
	}

	// Server side: rows per minute of start_time, by status.
	type win struct {
		ok, other                               int
		sent, c200, c429, cOther, cErr, noRetry int
		replicaOK                               [2]int
	}
	wins := map[int64]*win{}
	get := func(m int64) *win {
		if wins[m] == nil {
			wins[m] = &win{}
		}
		return wins[m]
	}
	rows, err := db.Query(ctx, `SELECT extract(epoch FROM date_trunc('minute', start_time))::bigint AS m,
		count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status <> 'ok')
		FROM spend_logs WHERE key_hash = $1 GROUP BY m ORDER BY m`, key.Hash)
	if err != nil {
		return err
	}
	for rows.Next() {
		var m int64
		var ok, other int
		if err := rows.Scan(&m, &ok, &other); err != nil {
			rows.Close()
			return err
		}
		w := get(m)
		w.ok, w.other = ok, other
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	ids, err := spendIDs(ctx, db, key.Hash)
	if err != nil {
		return err
	}
	// Client side, by the minute the request was sent.
	var lat200 []time.Duration
	missing, total200 := 0, 0
	var missingIDs []string
	for i := range rs {
		r := &rs[i]
		w := get(r.Sent.Unix() / 60 * 60)
		w.sent++
		switch {
		case r.Status == 200 && r.Complete:
			w.c200++
			w.replicaOK[r.Target]++
			total200++
			lat200 = append(lat200, r.latency())
			if _, ok := ids[r.ID]; !ok {
				missing++
				if len(missingIDs) < 5 {
					missingIDs = append(missingIDs, r.ID)
				}
			}
		case r.Status == 429:
			w.c429++
			if r.RetryAfter == "" || r.ErrType != "rate_limit_error" {
				w.noRetry++
			}
		case r.Status == 0:
			w.cErr++
		default:
			w.cOther++
		}
	}
	clientIDs := map[string]bool{}
	for i := range rs {
		if rs[i].ID != "" {
			clientIDs[rs[i].ID] = true
		}
	}
	extra := 0
	for id := range ids {
		if !clientIDs[id] {
			extra++
		}
	}

	s.printf("Two replicas (`rpm-a`, `rpm-b`) share PostgreSQL and Redis (`REDIS_URL=%s`). One key, `rpm_limit: %d`. "+
		"Open-loop load at %.0f req/s (%d/min, %d× the limit), alternating between the replicas, from %s (%v before the first boundary) to %s; mock latency 20 ms, non-stream. "+
		"**Server-side** counts are `spend_logs` rows of the key bucketed by `date_trunc('minute', start_time)`; **client-side** counts bucket each request by the minute it was sent. "+
		"Full windows are the %d whole minutes under load; the partial windows at both ends are shown but not judged.\n\n",
		h.redisURL(), rpmLimit, rate, rpmOverdue*rpmLimit, rpmOverdue, start.UTC().Format("15:04:05.000"), rpmLead, end.UTC().Format("15:04:05"), windows)
	s.printf("| window (UTC) | full | sent | client 200 | client 429 | other | transport errors | server rows ok | server rows other | client 200 − server ok | admitted via a / b | 429 without Retry-After or rate_limit_error |\n")
	s.printf("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var keys []int64
	for m := range wins {
		keys = append(keys, m)
	}
	slices.Sort(keys)
	var judged []string
	allIn := true
	for _, m := range keys {
		w := wins[m]
		t := time.Unix(m, 0).UTC()
		full := !t.Before(b) && t.Before(b.Add(time.Duration(windows)*time.Minute))
		s.printf("| %s | %s | %d | %d | %d | %d | %d | %d | %d | %+d | %d / %d | %d |\n", t.Format("15:04"), yesNo(full), w.sent, w.c200, w.c429, w.cOther, w.cErr, w.ok, w.other, w.c200-w.ok, w.replicaOK[0], w.replicaOK[1], w.noRetry)
		if full {
			judged = append(judged, strconv.Itoa(w.ok))
			if w.ok < rpmLow || w.ok > rpmLimit {
				allIn = false
			}
		}
	}
	ls := sortedDurations(lat200)
	s.printf("\nTotals: %d requests sent, %s. Latency of admitted requests p50 %s ms, p99 %s ms. "+
		"Every client 200 has its `spend_logs` row: %d of %d missing; rows of the key no client response names: %d.\n\n",
		len(rs), formatCounts(countBy(rs, (*result).statusKey)), ms(percentile(ls, 50)), ms(percentile(ls, 99)), missing, total200, extra)
	if len(missingIDs) > 0 {
		s.printf("Missing ids (first %d): %s\n\n", len(missingIDs), strings.Join(missingIDs, ", "))
	}
	if errs := firstErrors(rs, 3); len(errs) > 0 {
		s.printf("Transport errors (first distinct): %s\n\n", strings.Join(errs, "; "))
	}
	var noisy []string
	for _, g := range gws {
		for _, l := range grepLog(g.log.Name(), "rate-limit counters unreachable", "level=ERROR", "panic") {
			noisy = append(noisy, g.spec.name+": "+l)
		}
	}
	if len(noisy) > 0 {
		s.printf("Gateway log lines of note:\n\n```\n%s\n```\n\n", strings.Join(first(noisy, 10), "\n"))
	} else {
		s.printf("The gateways logged no rate-limit fail-open, error or panic.\n\n")
	}
	s.check(fmt.Sprintf("every full window admits %d–%d (server-side rows)", rpmLow, rpmLimit), allIn, "%s", strings.Join(judged, ", "))
	noRetry := 0
	for _, w := range wins {
		noRetry += w.noRetry
	}
	s.check("every 429 has Retry-After and type rate_limit_error", noRetry == 0, "%d of %d without", noRetry, countStatus(rs, 429))
	s.check("client 200s = server rows (by request id)", missing == 0, "%d client 200s, %d missing rows, %d rows without a client 200", total200, missing, extra)
	return nil
}

func countStatus(rs []result, status int) int {
	n := 0
	for i := range rs {
		if rs[i].Status == status {
			n++
		}
	}
	return n
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
