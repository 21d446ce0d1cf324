//go:build linux

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/switchboard-gw/switchboard/bench/internal/proc"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// keys1m: authentication on a key-cache miss is one primary-key lookup, so
// its cost must not grow with the number of keys.
const keysSmall = 1000

// getKeyQuery is the store's lookup (internal/store/sqlstore: GetKey).
const getKeyQuery = "SELECT token_hash, key_name, key_alias, team_id, user_id, models, aliases, " +
	"max_budget, soft_budget, budget_duration, budget_reset_at, spend, " +
	"rpm_limit, tpm_limit, max_parallel_requests, model_max_budget, model_rpm_limit, model_tpm_limit, " +
	"expires_at, blocked, metadata, tags, created_at, updated_at, created_by FROM virtual_keys WHERE token_hash = "

// latencies is one measured series.
type latencies struct {
	name     string
	ds       []time.Duration
	bad      map[string]int // unexpected outcomes
	sessions int64          // PostgreSQL sessions opened meanwhile (-1: unknown)
}

func (l *latencies) p(q float64) time.Duration { return percentile(sortedDurations(l.ds), q) }

func runKeys1M(ctx context.Context, h *harness, s *section) error {
	dbURL, err := h.createDatabase(ctx, "keys1m")
	if err != nil {
		return err
	}
	cfg, err := h.writeConfig("keys1m", 0)
	if err != nil {
		return err
	}
	// The gateway's own migrations create the schema.
	logf, err := os.Create(filepath.Join(h.tmp, "keys1m-migrate.log"))
	if err != nil {
		return err
	}
	mp, err := proc.Start("migrate", logf, childEnv("DATABASE_URL="+dbURL), h.bin, "migrate", "--config", cfg)
	if err != nil {
		logf.Close()
		return err
	}
	<-mp.Done()
	logf.Close()
	if mp.Err() != nil {
		return fmt.Errorf("switchboard migrate: %v\n%s", mp.Err(), proc.Tail(logf.Name(), 10))
	}
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	plain := func(i int) string { return fmt.Sprintf("sk-acc1m-%s-%08d", h.salt, i) }

	type sizeRun struct {
		label              string
		keys               int
		table, index, pkey string
		explain            string
		insert             time.Duration
		series             []*latencies
	}
	var runs []*sizeRun
	inserted := 0
	for _, n := range []int{keysSmall, h.o.keysLarge} {
		sr := &sizeRun{label: countLabel(n), keys: n}
		runs = append(runs, sr)
		progress("keys1m: inserting keys %d–%d", inserted, n-1)
		t := time.Now()
		if err := insertKeys(ctx, db, inserted, n, plain); err != nil {
			return err
		}
		sr.insert = time.Since(t)
		inserted = n
		if _, err := db.Exec(ctx, "VACUUM ANALYZE virtual_keys"); err != nil {
			return err
		}
		if err := db.QueryRow(ctx, "SELECT pg_size_pretty(pg_relation_size('virtual_keys')), pg_size_pretty(pg_indexes_size('virtual_keys')), pg_size_pretty(pg_relation_size('virtual_keys_pkey'))").Scan(&sr.table, &sr.index, &sr.pkey); err != nil {
			return err
		}
		// Probe keys: never seen by the gateway process that measures them.
		// With the small table there are only keysSmall keys, so both
		// passes use all of them (each pass in a fresh process); with the
		// large one each pass gets its own random sample.
		var seqKeys, concKeys []string
		if n == keysSmall {
			for _, i := range rand.Perm(n)[:min(n, h.o.probes)] {
				seqKeys = append(seqKeys, plain(i))
			}
			for _, i := range rand.Perm(n)[:min(n, h.o.probes)] {
				concKeys = append(concKeys, plain(i))
			}
		} else {
			seen := map[int]bool{}
			pick := func() string {
				for {
					i := keysSmall + rand.IntN(n-keysSmall)
					if !seen[i] {
						seen[i] = true
						return plain(i)
					}
				}
			}
			for i := 0; i < h.o.probes; i++ {
				seqKeys = append(seqKeys, pick())
				concKeys = append(concKeys, pick())
			}
		}
		rows, err := db.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+getKeyQuery+"'"+hashKey(seqKeys[0])+"'")
		if err != nil {
			return err
		}
		var lines []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				rows.Close()
				return err
			}
			lines = append(lines, l)
		}
		rows.Close()
		sr.explain = strings.Join(lines, "\n")

		// Pass 1: sequential, in a fresh gateway.
		progress("keys1m: %s keys: sequential pass (%d cache misses)", sr.label, len(seqKeys))
		unknown := make([]string, h.o.probes)
		for i := range unknown {
			unknown[i] = fmt.Sprintf("sk-acc1m-unknown-%s-%d-%08d", h.salt, n, i)
		}
		series, err := keysPass(ctx, h, db, cfg, dbURL, fmt.Sprintf("keys1m-%s-seq", sr.label), 1, seqKeys, unknown)
		if err != nil {
			return err
		}
		sr.series = append(sr.series, series...)
		progress("keys1m: %s keys: 8-way concurrent pass (%d cache misses)", sr.label, len(concKeys))
		series, err = keysPass(ctx, h, db, cfg, dbURL, fmt.Sprintf("keys1m-%s-conc8", sr.label), 8, concKeys, nil)
		if err != nil {
			return err
		}
		sr.series = append(sr.series, series...)
	}

	s.printf("Keys are inserted straight into `virtual_keys` (pgx CopyFrom: `token_hash` = hex SHA-256 of the plaintext `sk-…` key, `key_name`, `created_at`/`updated_at` = now, every other column its default) "+
		"after `switchboard migrate` created the schema; then `VACUUM ANALYZE`. For each table size, two fresh gateway processes (no Redis; mock latency 0 ms, so a request costs the gateway's own work plus the key lookup): "+
		"one sends requests **sequentially** on one keep-alive connection, the other **8-way concurrently**. A *cache miss* is a request with a key that process has never seen (the key cache is per process, 10 s TTL); "+
		"*unknown key* is a never-seen key that is not in the table (401, the same index probe finding nothing); *cache hit* repeats one key. "+
		"Each process is warmed with 100 unknown-key requests first (database pool, code paths). With %d keys in the table both passes use all %d of them (each in its own fresh process); with %d keys each pass draws %d distinct random keys. Latency is client-side, send to last byte, in µs.\n\n",
		keysSmall, keysSmall, h.o.keysLarge, h.o.probes)
	s.printf("| keys in table | table / indexes / pkey size | insert time | series | requests | p50 µs | p90 µs | p99 µs | max µs | PostgreSQL sessions opened | unexpected outcomes |\n|--:|---|--:|---|--:|--:|--:|--:|--:|--:|---|\n")
	for _, sr := range runs {
		for i, l := range sr.series {
			size, ins := "", ""
			if i == 0 {
				size = sr.table + " / " + sr.index + " / " + sr.pkey
				ins = fmt.Sprintf("%.1f s", sr.insert.Seconds())
			}
			s.printf("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %d | %s |\n", sr.label, size, ins, l.name, len(l.ds), us(l.p(50)), us(l.p(90)), us(l.p(99)), us(l.p(100)), l.sessions, formatCounts(l.bad))
		}
	}
	for _, sr := range runs {
		s.printf("\n`EXPLAIN (ANALYZE, BUFFERS)` of the lookup with %s keys:\n\n```\n%s\n```\n", sr.label, sr.explain)
	}
	s.printf("\n")
	small, large := runs[0], runs[1]
	for _, name := range []string{"cache miss, sequential", "cache miss, 8-way concurrent"} {
		a, b := find(small.series, name), find(large.series, name)
		if a == nil || b == nil {
			continue
		}
		pa, pb := a.p(50), b.p(50)
		limit := max(time.Duration(float64(pa)*1.5), pa+100*time.Microsecond)
		s.check(fmt.Sprintf("%s: p50 at %s ≤ max(1.5×, +100 µs) of p50 at %s", name, large.label, small.label), pb <= limit,
			"%s µs vs %s µs (limit %s µs)", us(pb), us(pa), us(limit))
	}
	plan := strings.Contains(large.explain, "Index Scan using virtual_keys_pkey") || strings.Contains(large.explain, "Index Only Scan using virtual_keys_pkey")
	s.check("the lookup is an index scan on the primary key at "+large.label, plan, "%s", oneLine(firstLine(large.explain)))
	for _, sr := range runs {
		for _, l := range sr.series {
			if len(l.bad) > 0 {
				s.check(fmt.Sprintf("%s, %s: every request answered as expected", sr.label, l.name), false, "%s", formatCounts(l.bad))
			}
		}
	}
	return nil
}

// pgSessions is pg_stat_database.sessions of db's database (-1: unknown).
func pgSessions(ctx context.Context, db *pgx.Conn) int64 {
	var n int64
	if err := db.QueryRow(ctx, "SELECT sessions FROM pg_stat_database WHERE datname = current_database()").Scan(&n); err != nil {
		return -1
	}
	return n
}

func find(ls []*latencies, name string) *latencies {
	for _, l := range ls {
		if l.name == name {
			return l
		}
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(l)
}

func countLabel(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func hashKey(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// insertKeys copies keys [from, to) into virtual_keys.
func insertKeys(ctx context.Context, db *pgx.Conn, from, to int, plain func(int) string) error {
	now := time.Now().UTC()
	i := from
	n, err := db.CopyFrom(ctx, pgx.Identifier{"virtual_keys"}, []string{"token_hash", "key_name", "created_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= to {
				return nil, nil
			}
			p := plain(i)
			i++
			return []any{hashKey(p), "sk-..." + p[len(p)-4:], now, now}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy keys: %w", err)
	}
	if int(n) != to-from {
		return fmt.Errorf("copy keys: %d rows copied, want %d", n, to-from)
	}
	return nil
}

// keysPass starts a fresh gateway and measures cache misses with keys
// (each used once), unknown keys (if any) and cache hits, with conc
// clients.
func keysPass(ctx context.Context, h *harness, db *pgx.Conn, cfg, dbURL, name string, conc int, keys, unknown []string) ([]*latencies, error) {
	g, err := h.startGateway(ctx, gwSpec{name: name, config: cfg, dbURL: dbURL, spillDir: filepath.Join(h.tmp, name+"-spill")})
	if err != nil {
		return nil, err
	}
	defer g.sigterm(30 * time.Second)
	client := newClient(conc * 2)
	body := chatBody(false, 0)
	warm := make([]string, 100)
	for i := range warm {
		warm[i] = fmt.Sprintf("sk-acc1m-warm-%s-%s-%d", h.salt, name, i)
	}
	run := func(label string, keys []string, want int) *latencies {
		l := &latencies{name: label, bad: map[string]int{}, ds: make([]time.Duration, 0, len(keys))}
		s0 := pgSessions(ctx, db)
		defer func() {
			// Backends report their statistics within a second.
			time.Sleep(1200 * time.Millisecond)
			l.sessions = pgSessions(ctx, db) - s0
			if s0 < 0 {
				l.sessions = -1
			}
		}()
		var mu sync.Mutex
		var wg sync.WaitGroup
		next := make(chan string)
		for w := 0; w < conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range next {
					r := chat(ctx, client, g.url, k, body, false)
					mu.Lock()
					if r.Status == want && (want != 200 || r.Complete) {
						l.ds = append(l.ds, r.latency())
					} else {
						l.bad[r.statusKey()]++
					}
					mu.Unlock()
				}
			}()
		}
		for _, k := range keys {
			if ctx.Err() != nil {
				break
			}
			next <- k
		}
		close(next)
		wg.Wait()
		return l
	}
	mode := "sequential"
	if conc > 1 {
		mode = fmt.Sprintf("%d-way concurrent", conc)
	}
	run("warm-up", warm, http.StatusUnauthorized)
	out := []*latencies{run("cache miss, "+mode, keys, 200)}
	if len(unknown) > 0 {
		out = append(out, run("unknown key, "+mode, unknown, http.StatusUnauthorized))
	}
	hit := keys[0]
	run("prime", []string{hit}, 200)
	repeat := make([]string, len(keys))
	for i := range repeat {
		repeat[i] = hit
	}
	out = append(out, run("cache hit, "+mode, repeat, 200))
	return out, ctx.Err()
}
