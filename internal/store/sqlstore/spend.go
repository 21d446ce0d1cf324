package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

const spendCols = "request_id, start_time, end_time, key_hash, key_alias, team_id, user_id, end_user, " +
	"model_group, deployment, provider, prompt_tokens, completion_tokens, cached_tokens, cost, latency_ms, ttft_ms, " +
	"status, tags, metadata"

const spendColCount = 20

// spendChunk rows per INSERT keeps a statement under SQLite's 32,766 and
// PostgreSQL's 65,535 parameter limits.
const spendChunk = 500

func scanSpend(sc scanner) (*store.SpendRow, error) {
	var r store.SpendRow
	err := sc.Scan(&r.RequestID, tsCol{&r.StartTime}, tsCol{&r.EndTime}, &r.KeyHash, &r.KeyAlias, &r.TeamID, &r.UserID, &r.EndUser,
		&r.ModelGroup, &r.Deployment, &r.Provider, &r.PromptTokens, &r.CompletionTokens, &r.CachedTokens, &r.Cost,
		&r.LatencyMS, &r.TTFTMS, &r.Status, jsonCol{&r.Tags}, jsonCol{&r.Metadata})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

type dailyKey struct {
	day     time.Time
	typ, id string
}

type dailyAgg struct {
	spend, prompt, completion, requests, failed int64
}

// InsertSpend implements store.SpendStore.
//
// Idempotence comes from the ledger's primary key: rows go in with ON
// CONFLICT (request_id) DO NOTHING … RETURNING request_id, and only the
// returned (actually inserted) rows are added to entity spend and daily
// aggregates, all in one transaction. A replay, or two writers racing with
// the same batch, therefore counts each request exactly once.
//
// Lock order is fixed (ledger rows by request_id, then keys, teams, users,
// customers, daily rows, each sorted) so concurrent batches cannot
// deadlock each other on PostgreSQL.
func (s *Store) InsertSpend(ctx context.Context, rows []store.SpendRow) (int, error) {
	uniq := make([]store.SpendRow, 0, len(rows))
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		if r.RequestID == "" {
			return 0, fmt.Errorf("insert spend: empty request id: %w", store.ErrInvalid)
		}
		switch r.Status {
		case "":
			r.Status = store.StatusOK
		case store.StatusOK, store.StatusError, store.StatusTruncated, store.StatusCancelled:
		default:
			return 0, fmt.Errorf("insert spend %q: status %q: %w", r.RequestID, r.Status, store.ErrInvalid)
		}
		if seen[r.RequestID] {
			continue // a duplicate inside one batch is the same request
		}
		seen[r.RequestID] = true
		uniq = append(uniq, r)
	}
	if len(uniq) == 0 {
		return 0, nil
	}
	slices.SortFunc(uniq, func(a, b store.SpendRow) int { return strings.Compare(a.RequestID, b.RequestID) })
	js := make([][2]string, len(uniq))
	for i, r := range uniq {
		var err error
		if js[i][0], err = jsonText(r.Tags); err == nil {
			js[i][1], err = jsonText(r.Metadata)
		}
		if err != nil {
			return 0, fmt.Errorf("insert spend %q: %w", r.RequestID, err)
		}
	}

	var inserted int
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		ins := make(map[string]bool, len(uniq))
		for lo := 0; lo < len(uniq); lo += spendChunk {
			hi := min(lo+spendChunk, len(uniq))
			if err := s.insertSpendChunk(ctx, tx, uniq[lo:hi], js[lo:hi], ins); err != nil {
				return err
			}
		}
		inserted = len(ins)
		if inserted == 0 {
			return nil
		}
		return s.applySpend(ctx, tx, uniq, ins)
	})
	if err != nil {
		return 0, fmt.Errorf("insert spend: %w", err)
	}
	return inserted, nil
}

func (s *Store) insertSpendChunk(ctx context.Context, tx *sql.Tx, rows []store.SpendRow, js [][2]string, ins map[string]bool) error {
	q := s.build().w("INSERT INTO spend_logs (", spendCols, ") VALUES ")
	for i, r := range rows {
		if i > 0 {
			q.w(", ")
		}
		vals := [spendColCount]any{r.RequestID, s.ts(r.StartTime), s.ts(r.EndTime), r.KeyHash, r.KeyAlias, r.TeamID, r.UserID, r.EndUser,
			r.ModelGroup, r.Deployment, r.Provider, r.PromptTokens, r.CompletionTokens, r.CachedTokens, r.Cost, r.LatencyMS, r.TTFTMS,
			r.Status, js[i][0], js[i][1]}
		q.w("(")
		for j, v := range vals {
			if j > 0 {
				q.w(", ")
			}
			q.arg(v)
		}
		q.w(")")
	}
	q.w(" ON CONFLICT (request_id) DO NOTHING RETURNING request_id")
	res, err := tx.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return fmt.Errorf("insert rows: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var id string
		if err := res.Scan(&id); err != nil {
			return fmt.Errorf("insert rows: %w", err)
		}
		ins[id] = true
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("insert rows: %w", err)
	}
	return nil
}

// applySpend adds the inserted rows to entity spend and daily aggregates.
func (s *Store) applySpend(ctx context.Context, tx *sql.Tx, rows []store.SpendRow, ins map[string]bool) error {
	keys, teams, users, customers := map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}
	daily := map[dailyKey]*dailyAgg{}
	add := func(day time.Time, typ, id string, r *store.SpendRow) {
		if id == "" {
			return
		}
		k := dailyKey{day, typ, id}
		a := daily[k]
		if a == nil {
			a = &dailyAgg{}
			daily[k] = a
		}
		a.spend += r.Cost
		a.prompt += r.PromptTokens
		a.completion += r.CompletionTokens
		a.requests++
		if r.Status != store.StatusOK {
			a.failed++
		}
	}
	for i := range rows {
		r := &rows[i]
		if !ins[r.RequestID] {
			continue
		}
		if r.KeyHash != "" {
			keys[r.KeyHash] += r.Cost
		}
		if r.TeamID != "" {
			teams[r.TeamID] += r.Cost
		}
		if r.UserID != "" {
			users[r.UserID] += r.Cost
		}
		if r.EndUser != "" {
			customers[r.EndUser] += r.Cost
		}
		st := r.StartTime.UTC()
		day := time.Date(st.Year(), st.Month(), st.Day(), 0, 0, 0, 0, time.UTC)
		add(day, store.EntityKey, r.KeyHash, r)
		add(day, store.EntityTeam, r.TeamID, r)
		add(day, store.EntityUser, r.UserID, r)
		add(day, store.EntityEndUser, r.EndUser, r)
		add(day, store.EntityModel, r.ModelGroup, r)
		for _, tag := range uniqueStrings(r.Tags) {
			add(day, store.EntityTag, tag, r)
		}
	}
	for _, e := range []struct {
		q string
		m map[string]int64
	}{{s.q.addKeySpend, keys}, {s.q.addTeamSpend, teams}, {s.q.addUserSpend, users}} {
		for _, id := range sortedKeys(e.m) {
			// A ledger row for an entity that was deleted is still kept;
			// the UPDATE simply matches nothing.
			if _, err := tx.ExecContext(ctx, e.q, e.m[id], id); err != nil {
				return fmt.Errorf("add spend: %w", err)
			}
		}
	}
	at := s.ts(now())
	for _, id := range sortedKeys(customers) {
		if _, err := tx.ExecContext(ctx, s.q.addCustomerSpend, id, customers[id], at, at); err != nil {
			return fmt.Errorf("add customer spend: %w", err)
		}
	}
	dks := make([]dailyKey, 0, len(daily))
	for k := range daily {
		dks = append(dks, k)
	}
	slices.SortFunc(dks, func(a, b dailyKey) int {
		return cmp.Or(a.day.Compare(b.day), strings.Compare(a.typ, b.typ), strings.Compare(a.id, b.id))
	})
	for _, k := range dks {
		a := daily[k]
		if _, err := tx.ExecContext(ctx, s.q.addDaily, s.day(k.day), k.typ, k.id, a.spend, a.prompt, a.completion, a.requests, a.failed); err != nil {
			return fmt.Errorf("add daily spend: %w", err)
		}
	}
	return nil
}

func sortedKeys(m map[string]int64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// uniqueStrings drops empty and repeated tags so one request counts once
// per tag.
func uniqueStrings(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// ListSpend implements store.SpendStore.
func (s *Store) ListSpend(ctx context.Context, f store.SpendFilter) ([]store.SpendRow, int, error) {
	w := s.spendWhere(f)
	var out []store.SpendRow
	total, err := s.list(ctx, "spend_logs", spendCols, "start_time DESC, request_id DESC", w, f.Page, f.Size, func(r *sql.Rows) error {
		row, err := scanSpend(r)
		if err == nil {
			out = append(out, *row)
		}
		return err
	})
	return out, total, err
}

// SumSpend implements store.SpendStore.
func (s *Store) SumSpend(ctx context.Context, f store.SpendFilter) (int64, error) {
	q := s.build().w("SELECT COALESCE(SUM(cost), 0) FROM spend_logs")
	s.spendWhere(f).write(q)
	var sum int64
	if err := s.db.QueryRowContext(ctx, q.String(), q.args...).Scan(&sum); err != nil {
		return 0, fmt.Errorf("sum spend: %w", err)
	}
	return sum, nil
}

// spendWhere selects the ledger rows f names.
func (s *Store) spendWhere(f store.SpendFilter) *where {
	var w where
	for _, c := range []struct{ col, v string }{
		{"request_id", f.RequestID}, {"key_hash", f.KeyHash}, {"team_id", f.TeamID}, {"user_id", f.UserID}, {"end_user", f.EndUser}, {"model_group", f.Model},
	} {
		if c.v != "" {
			w.eq(c.col, c.v)
		}
	}
	if f.Tag != "" {
		w.add(func(q *sqlb) { q.jsonContains("tags", f.Tag) })
	}
	if !f.From.IsZero() {
		w.add(func(q *sqlb) { q.w("start_time >= ").arg(s.ts(f.From)) })
	}
	if !f.To.IsZero() {
		w.add(func(q *sqlb) { q.w("start_time < ").arg(s.ts(f.To)) })
	}
	return &w
}

// SpendReport implements store.SpendStore.
func (s *Store) SpendReport(ctx context.Context, f store.ReportFilter) ([]store.ReportRow, error) {
	switch f.GroupBy {
	case store.EntityKey, store.EntityTeam, store.EntityUser, store.EntityEndUser, store.EntityModel, store.EntityTag:
	default:
		return nil, fmt.Errorf("spend report: group by %q: %w", f.GroupBy, store.ErrInvalid)
	}
	q := s.build().w("SELECT day, entity_id, spend, prompt_tokens, completion_tokens, requests, failed_requests FROM daily_spend WHERE entity_type = ").arg(f.GroupBy)
	if !f.From.IsZero() {
		q.w(" AND day >= ").arg(s.day(f.From))
	}
	if !f.To.IsZero() {
		q.w(" AND day <= ").arg(s.day(f.To))
	}
	q.w(" ORDER BY day, entity_id")
	rows, err := s.db.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return nil, fmt.Errorf("spend report: %w", err)
	}
	defer rows.Close()
	var out []store.ReportRow
	for rows.Next() {
		var r store.ReportRow
		if err := rows.Scan(tsCol{&r.Day}, &r.GroupID, &r.Spend, &r.PromptTokens, &r.CompletionTokens, &r.Requests, &r.FailedRequests); err != nil {
			return nil, fmt.Errorf("spend report: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("spend report: %w", err)
	}
	return out, nil
}

// ResetBudgets implements store.SpendStore. Each row is reset by its own
// UPDATE guarded by "budget_reset_at <= now", so a row is reset once even
// when several replicas run the job at the same moment, and spend added by
// a request committed after the reset is never wiped. The next reset is
// computed from now, not from the missed boundary, so a store that was down
// for a week resets once rather than seven times.
func (s *Store) ResetBudgets(ctx context.Context, at time.Time) (int, error) {
	total := 0
	nowArg := s.ts(at)
	for _, t := range s.q.resets {
		sel, upd := t.sel, t.upd
		for {
			type due struct{ id, dur string }
			var batch []due
			rows, err := s.db.QueryContext(ctx, sel, nowArg)
			if err != nil {
				return total, fmt.Errorf("reset budgets %s: %w", t.table, err)
			}
			for rows.Next() {
				var d due
				if err := rows.Scan(&d.id, &d.dur); err != nil {
					rows.Close()
					return total, fmt.Errorf("reset budgets %s: %w", t.table, err)
				}
				batch = append(batch, d)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return total, fmt.Errorf("reset budgets %s: %w", t.table, err)
			}
			if len(batch) == 0 {
				break
			}
			for _, d := range batch {
				// A row with no (or an unparseable) duration gets a NULL reset
				// time: it is reset this once and then left alone, instead of
				// being picked up again forever.
				next, _ := resetFor(d.dur, at)
				res, err := s.db.ExecContext(ctx, upd, s.tsp(next), d.id, nowArg)
				if err != nil {
					return total, fmt.Errorf("reset budgets %s: %w", t.table, err)
				}
				if n, err := res.RowsAffected(); err == nil {
					total += int(n)
				}
			}
		}
	}
	return total, nil
}
