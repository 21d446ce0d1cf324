//go:build linux

package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// budget: a key whose max_budget is exactly budgetRequests × the cost of
// one request, hit by a burst of burstSize requests released at once.
const (
	budgetRequests = 10
	burstSize      = 200
	// budgetBodyBytes makes the gateway's worst-case reservation equal the
	// actual cost: the reservation estimates ceil(body bytes / 3) prompt
	// tokens (spend.Estimate at the time of writing), so a 300-byte body
	// reserves 100 prompt + 50 (max_tokens) completion tokens = 2000 µ$.
	budgetBodyBytes = 300
)

// budgetBody is a non-stream chat request of exactly n bytes.
func budgetBody(n int) []byte {
	fixed := len(chatBody(false, 0)) - len("hi")
	return chatBody(false, n-fixed)
}

func runBudget(ctx context.Context, h *harness, s *section) error {
	body := budgetBody(budgetBodyBytes)
	maxBudget := float64(budgetRequests*requestCostMicro) / 1e6
	s.printf("Key `max_budget: %g` = %d × the cost of one request (%d µ$). %d requests are released at once: each on its own TCP connection dialled beforehand, "+
		"the request bytes written when a barrier opens. Requests: non-stream, `max_tokens: %d` (= mock completion tokens), body %d bytes, "+
		"so a reservation of ceil(bytes/3) prompt tokens + max_tokens equals the actual cost (2000 µ$); an estimate above it can only make fewer succeed. "+
		"Just before the burst each replica authenticates the key once with `GET /v1/models` (free), so the burst measures budget admission, not a cold key cache; "+
		"the last setup skips that, so all 200 requests also miss the key cache at once.\n\n",
		maxBudget, budgetRequests, requestCostMicro, burstSize, completionTokens, len(body))
	s.printf("| setup | requests | HTTP 200 | 400 budget_exceeded | other | ledger rows | ledger SUM(cost) µ$ | budget µ$ | virtual_keys.spend µ$ | next request after the burst |\n")
	s.printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	var notes []string
	for _, setup := range []struct {
		replicas int
		warm     bool
	}{{1, true}, {2, true}, {2, false}} {
		replicas := setup.replicas
		label := fmt.Sprintf("%d replica", replicas)
		if replicas > 1 {
			label += "s (Postgres + Redis shared)"
		}
		if !setup.warm {
			label += ", cold key cache"
		}
		progress("budget: %s", label)
		if err := h.flushRedis(ctx); err != nil {
			return err
		}
		dbURL, err := h.createDatabase(ctx, fmt.Sprintf("budget%d_%v", replicas, setup.warm))
		if err != nil {
			return err
		}
		cfg, err := h.writeConfig("budget", 20)
		if err != nil {
			return err
		}
		var gws []*gateway
		for i := 0; i < replicas; i++ {
			name := fmt.Sprintf("budget%d-%c", replicas, 'a'+i)
			if !setup.warm {
				name += "-cold"
			}
			g, err := h.startGateway(ctx, gwSpec{name: name, config: cfg, dbURL: dbURL, redisURL: h.redisURL(), spillDir: filepath.Join(h.tmp, name+"-spill")})
			if err != nil {
				return err
			}
			gws = append(gws, g)
		}
		key, err := generateKey(gws[0], map[string]any{"models": []string{"m"}, "max_budget": maxBudget})
		if err != nil {
			return err
		}
		for _, g := range gws {
			if !setup.warm {
				break
			}
			if err := warmKey(g, key.Key); err != nil {
				return err
			}
		}
		targets := make([]string, burstSize)
		for i := range targets {
			targets[i] = strings.TrimPrefix(gws[i%replicas].url, "http://")
		}
		rs, err := burst(ctx, targets, key.Key, body)
		if err != nil {
			return err
		}
		h.dumpResults(fmt.Sprintf("budget-%d-%v", replicas, setup.warm), rs)
		ok, exceeded, other := 0, 0, map[string]int{}
		var spread []time.Duration
		for i := range rs {
			r := &rs[i]
			switch {
			case r.Status == 200 && r.Complete:
				ok++
			case r.Status == 400 && r.ErrType == "budget_exceeded":
				exceeded++
			default:
				other[r.statusKey()]++
			}
			spread = append(spread, r.Sent.Sub(rs[0].Sent).Abs())
		}
		db, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return err
		}
		n, settled, err := waitLedgerStable(ctx, db, 2500*time.Millisecond, 20*time.Second, "SELECT count(*) FROM spend_logs WHERE key_hash = $1", key.Hash)
		if err != nil {
			db.Close(ctx)
			return err
		}
		var sum, keySpend int64
		if err := db.QueryRow(ctx, "SELECT coalesce(sum(cost), 0)::bigint FROM spend_logs WHERE key_hash = $1", key.Hash).Scan(&sum); err != nil {
			db.Close(ctx)
			return err
		}
		if err := db.QueryRow(ctx, "SELECT spend FROM virtual_keys WHERE token_hash = $1", key.Hash).Scan(&keySpend); err != nil {
			db.Close(ctx)
			return err
		}
		db.Close(ctx)
		// One more request once everything has settled: the budget is spent
		// (or nearly), so it must be refused unless fewer than 10 succeeded.
		after := chat(ctx, newClient(1), gws[len(gws)-1].url, key.Key, body, false)
		budgetMicro := int64(budgetRequests * requestCostMicro)
		s.printf("| %s | %d | %d | %d | %s | %d | %d | %d | %d | %s |\n", label, len(rs), ok, exceeded, formatCounts(other), n, sum, budgetMicro, keySpend, after.statusKey())
		if !settled {
			notes = append(notes, label+": the ledger was still changing 20 s after the burst.")
		}
		if ok == len(rs) {
			notes = append(notes, label+": every request succeeded — this build does not enforce max_budget on concurrent requests (no `budget_exceeded` refusal at all).")
		} else if ok < budgetRequests {
			notes = append(notes, fmt.Sprintf("%s: only %d of the %d affordable requests succeeded (the reservation overestimates, or settles late).", label, ok, budgetRequests))
		}
		for k, v := range other {
			var ex string
			for i := range rs {
				if rs[i].statusKey() == k {
					ex = rs[i].ErrMsg
					if rs[i].Err != nil {
						ex = rs[i].Err.Error()
					}
					break
				}
			}
			notes = append(notes, fmt.Sprintf("%s: %d × %q, e.g. %q", label, v, k, ex))
		}
		if errs := refusedMessages(rs); errs != "" && replicas == 1 {
			notes = append(notes, "Refusal message: "+errs)
		}
		notes = append(notes, fmt.Sprintf("%s: the %d requests left within %v of each other.", label, len(rs), maxDur(spread).Round(time.Microsecond)))
		s.check(label+": at most 10 succeed", ok <= budgetRequests, "%d × 200", ok)
		s.check(label+": the rest get 400 budget_exceeded", exceeded == len(rs)-ok, "%d of %d", exceeded, len(rs)-ok)
		s.check(label+": ledger SUM(cost) ≤ max_budget", sum <= budgetMicro, "%d ≤ %d µ$", sum, budgetMicro)
		for _, g := range gws {
			g.sigterm(30 * time.Second)
		}
		for _, g := range gws {
			for _, l := range grepLog(g.log.Name(), "level=ERROR", "level=WARN", "panic") {
				notes = append(notes, g.spec.name+" log: `"+strings.TrimSpace(l)+"`")
			}
		}
	}
	s.printf("\n")
	for _, n := range notes {
		s.printf("- %s\n", n)
	}
	s.printf("\n")
	return nil
}

// warmKey authenticates key on g without spending anything.
func warmKey(g *gateway, key string) error {
	req, err := http.NewRequest("GET", g.url+"/v1/models", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: GET /v1/models with the key: %d", g.spec.name, resp.StatusCode)
	}
	return nil
}

func refusedMessages(rs []result) string {
	for i := range rs {
		if rs[i].ErrType == "budget_exceeded" {
			return fmt.Sprintf("%q", rs[i].ErrMsg)
		}
	}
	return ""
}

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
