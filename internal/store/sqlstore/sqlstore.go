// Package sqlstore implements the store interfaces over database/sql for
// SQLite and PostgreSQL with one code path and a small dialect.
//
// It never imports a driver: the application opens the *sql.DB (DriverFor
// tells it which driver and DSN a database_url needs) and passes it to Open
// with the dialect, so only the app knows concrete clients and CGO-free
// builds stay possible.
//
// Queries are written with '?' placeholders. Fixed statements are rebound to
// '$n' once in Open; statements whose shape depends on the call (updates,
// filters, batches) are assembled by a builder that emits the dialect's
// placeholder as each argument is added. Values are always parameters, never
// spliced into SQL text.
//
// Storage choices per dialect (see migrations/*/0001_init.sql):
//
//	            SQLite                         PostgreSQL
//	times       INTEGER unix microseconds UTC   TIMESTAMPTZ
//	money       INTEGER micro-dollars           BIGINT micro-dollars
//	JSON        TEXT                            JSONB
//	booleans    INTEGER 0/1                     BOOLEAN
//	day         TEXT 'YYYY-MM-DD'               DATE
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// Dialect selects the SQL flavour. The zero value is invalid so a forgotten
// dialect fails in Open rather than producing wrong SQL.
type Dialect int

// Supported dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// sqlitePragmas are applied by the driver to every new connection: wait up
// to 5 s for a lock instead of failing with SQLITE_BUSY, WAL so readers never
// block the writer, enforced foreign keys, and BEGIN IMMEDIATE for every
// transaction so a transaction that reads before it writes takes the write
// lock up front and cannot fail with an unretryable lock upgrade.
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// DriverFor maps a LiteLLM-style database_url to the database/sql driver
// name the application must open, the DSN, and the dialect to pass to Open:
//
//	postgres://… or postgresql://…     -> "pgx", the URL unchanged, Postgres
//	sqlite:PATH, sqlite://PATH, file:PATH, or a plain path
//	                                   -> "sqlite", PATH plus pragmas, SQLite
//
// In-memory SQLite is refused: every pooled connection would get its own
// empty database.
func DriverFor(databaseURL string) (driverName, dsn string, d Dialect, err error) {
	u := strings.TrimSpace(databaseURL)
	lower := strings.ToLower(u)
	switch {
	case u == "":
		return "", "", 0, errors.New("sqlstore: empty database URL")
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return "pgx", u, Postgres, nil
	case strings.HasPrefix(lower, "sqlite:"):
		u = strings.TrimPrefix(u[len("sqlite:"):], "//")
	case strings.HasPrefix(lower, "file:"):
		// A SQLite URI; the driver understands it as is.
	case strings.Contains(u, "://"):
		return "", "", 0, fmt.Errorf("sqlstore: unsupported database URL scheme in %q (want postgres:// or a SQLite path)", redactURL(u))
	}
	path := u
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == "" || path == ":memory:" || strings.Contains(u, "mode=memory") {
		return "", "", 0, fmt.Errorf("sqlstore: SQLite database %q must be a file (in-memory databases are per connection)", u)
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return "sqlite", u + sep + sqlitePragmas, SQLite, nil
}

// redactURL drops a password from a URL for error messages.
func redactURL(u string) string {
	if at := strings.LastIndexByte(u, '@'); at >= 0 {
		if s := strings.Index(u, "://"); s >= 0 && s < at {
			return u[:s+3] + "…" + u[at:]
		}
	}
	return u
}

// Store implements store.Store. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	d  Dialect
	q  queries
}

var _ store.Store = (*Store)(nil)

// Open wraps an open database. It does not create tables; call Migrate.
// For SQLite the DSN should come from DriverFor (busy timeout, WAL, foreign
// keys, immediate transactions).
func Open(db *sql.DB, d Dialect) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	if d != SQLite && d != Postgres {
		return nil, fmt.Errorf("sqlstore: unknown dialect %v", d)
	}
	return &Store{db: db, d: d, q: newQueries(d)}, nil
}

// DB returns the underlying database, for the owner to close and for tests.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the dialect given to Open.
func (s *Store) Dialect() Dialect { return s.d }

// rebind turns '?' placeholders into '$1', '$2', … for PostgreSQL. Our
// statements never contain '?' inside literals or use the jsonb '?'
// operator, so a plain scan is exact.
func rebind(d Dialect, q string) string {
	if d != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// sqlb assembles a statement whose shape depends on the call, emitting the
// dialect's placeholder as each argument is added (so no per-call rebind).
type sqlb struct {
	d    Dialect
	b    strings.Builder
	args []any
}

func (s *Store) build() *sqlb { return &sqlb{d: s.d} }

func (q *sqlb) w(parts ...string) *sqlb {
	for _, p := range parts {
		q.b.WriteString(p)
	}
	return q
}

func (q *sqlb) arg(v any) *sqlb {
	q.args = append(q.args, v)
	if q.d == Postgres {
		q.b.WriteByte('$')
		q.b.WriteString(strconv.Itoa(len(q.args)))
	} else {
		q.b.WriteByte('?')
	}
	return q
}

// in writes "col IN (?, ?, …)".
func (q *sqlb) in(col string, vals []string) *sqlb {
	q.w(col, " IN (")
	for i, v := range vals {
		if i > 0 {
			q.w(", ")
		}
		q.arg(v)
	}
	return q.w(")")
}

func (q *sqlb) String() string { return q.b.String() }

// where collects AND-ed conditions for list queries.
type where struct {
	conds []func(q *sqlb)
}

func (w *where) add(f func(q *sqlb)) { w.conds = append(w.conds, f) }

func (w *where) eq(col string, v any) { w.add(func(q *sqlb) { q.w(col, " = ").arg(v) }) }

func (w *where) write(q *sqlb) {
	for i, c := range w.conds {
		if i == 0 {
			q.w(" WHERE ")
		} else {
			q.w(" AND ")
		}
		c(q)
	}
}

// jsonContains writes a condition that the JSON array in col contains the
// string v. Dialect-specific because SQLite has no containment operator and
// PostgreSQL's '?' operator would collide with placeholders.
func (q *sqlb) jsonContains(col, v string) *sqlb {
	if q.d == Postgres {
		return q.w(col, " @> jsonb_build_array(CAST(").arg(v).w(" AS text))")
	}
	return q.w("EXISTS (SELECT 1 FROM json_each(", col, ") WHERE json_each.value = ").arg(v).w(")")
}

// page normalises 1-based page/size to LIMIT/OFFSET.
func page(p, size int) (limit, offset int) {
	if size <= 0 {
		size = store.DefaultPageSize
	}
	if size > store.MaxPageSize {
		size = store.MaxPageSize
	}
	if p < 1 {
		p = 1
	}
	return size, (p - 1) * size
}

// list runs a COUNT and a page query sharing one filter; scan is called
// once per row of the page.
func (s *Store) list(ctx context.Context, table, cols, order string, w *where, pg, size int, scan func(*sql.Rows) error) (int, error) {
	cq := s.build().w("SELECT COUNT(*) FROM ", table)
	w.write(cq)
	var total int
	if err := s.db.QueryRowContext(ctx, cq.String(), cq.args...).Scan(&total); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	limit, offset := page(pg, size)
	if total == 0 || offset >= total {
		return total, nil
	}
	q := s.build().w("SELECT ", cols, " FROM ", table)
	w.write(q)
	q.w(" ORDER BY ", order, " LIMIT ").arg(limit).w(" OFFSET ").arg(offset)
	rows, err := s.db.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return 0, fmt.Errorf("list %s: %w", table, err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list %s: %w", table, err)
	}
	return total, nil
}

// deleteIn deletes rows whose idCol is in ids, in chunks that stay under
// both dialects' parameter limits, and returns how many went.
func (s *Store) deleteIn(ctx context.Context, ex execer, table, idCol string, ids []string) (int, error) {
	n := 0
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		q := s.build().w("DELETE FROM ", table, " WHERE ").in(idCol, chunk)
		res, err := ex.ExecContext(ctx, q.String(), q.args...)
		if err != nil {
			return n, fmt.Errorf("delete %s: %w", table, err)
		}
		c, err := res.RowsAffected()
		if err != nil {
			return n, fmt.Errorf("delete %s: %w", table, err)
		}
		n += int(c)
	}
	return n, nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

type queryer interface {
	execer
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type scanner interface{ Scan(dest ...any) error }

// withTx runs fn in a transaction, retrying a few times when the database
// reports a deadlock, a serialization failure or a busy lock: those abort
// the whole transaction through no fault of the statements, and the batch
// writers (spend, members) must not lose work to them.
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	const attempts = 5
	var err error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(time.Duration(i*i) * 10 * time.Millisecond):
			}
		}
		var tx *sql.Tx
		tx, err = s.db.BeginTx(ctx, nil)
		if err != nil {
			if retryable(err) {
				continue
			}
			return err
		}
		if err = fn(tx); err != nil {
			_ = tx.Rollback()
			if retryable(err) {
				continue
			}
			return err
		}
		if err = tx.Commit(); err == nil || !retryable(err) {
			return err
		}
	}
	return err
}

// The drivers' error types are reached through these method sets so that
// this package needs no driver import: pgconn.PgError has SQLState,
// modernc.org/sqlite's Error has Code (the extended result code).
type sqlStater interface{ SQLState() string }
type sqliteCoder interface{ Code() int }

func isUniqueViolation(err error) bool {
	var st sqlStater
	if errors.As(err, &st) {
		return st.SQLState() == "23505"
	}
	var c sqliteCoder
	if errors.As(err, &c) {
		// SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
		return c.Code() == 1555 || c.Code() == 2067
	}
	return false
}

func retryable(err error) bool {
	var st sqlStater
	if errors.As(err, &st) {
		return st.SQLState() == "40001" || st.SQLState() == "40P01"
	}
	var c sqliteCoder
	if errors.As(err, &c) {
		// SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
		return c.Code()&0xff == 5 || c.Code()&0xff == 6
	}
	return false
}

// now is the store's clock for created/updated stamps, truncated to the
// precision both dialects keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func normp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := norm(*t)
	return &v
}

// ts converts a time to the dialect's column value.
func (s *Store) ts(t time.Time) any {
	if s.d == SQLite {
		return t.UTC().UnixMicro()
	}
	return norm(t)
}

func (s *Store) tsp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.ts(*t)
}

// day converts a time to the dialect's daily_spend.day value (UTC date).
func (s *Store) day(t time.Time) any {
	t = t.UTC()
	if s.d == SQLite {
		return t.Format(time.DateOnly)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode JSON column: %w: %w", err, store.ErrInvalid)
	}
	return string(b), nil
}

// Column scanners accept what either driver returns for the column type.

type tsCol struct{ dst *time.Time }

func (c tsCol) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*c.dst = time.UnixMicro(v).UTC()
	case time.Time:
		*c.dst = v.UTC()
	case string:
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return fmt.Errorf("scan time: %w", err)
		}
		*c.dst = t
	case nil:
		*c.dst = time.Time{}
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

type nullTsCol struct{ dst **time.Time }

func (c nullTsCol) Scan(src any) error {
	if src == nil {
		*c.dst = nil
		return nil
	}
	var t time.Time
	if err := (tsCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.dst = &t
	return nil
}

type nullIntCol struct{ dst **int64 }

func (c nullIntCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.dst = nil
	case int64:
		*c.dst = &v
	default:
		return fmt.Errorf("scan integer: unexpected %T", src)
	}
	return nil
}

type jsonCol struct{ dst any }

func (c jsonCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("scan JSON: unexpected %T", src)
	}
	if err := json.Unmarshal(b, c.dst); err != nil {
		return fmt.Errorf("scan JSON: %w", err)
	}
	return nil
}

// setter accumulates "col = ?" assignments for an UPDATE.
type setter struct {
	s   *Store
	q   *sqlb
	err error
}

func (s *Store) update(table string, at time.Time) *setter {
	st := &setter{s: s, q: s.build()}
	st.q.w("UPDATE ", table, " SET updated_at = ").arg(s.ts(at))
	return st
}

func (st *setter) val(col string, v any) {
	st.q.w(", ", col, " = ").arg(v)
}

func (st *setter) json(col string, v any) {
	txt, err := jsonText(v)
	if err != nil {
		st.err = errors.Join(st.err, err)
		return
	}
	st.val(col, txt)
}

func (st *setter) nullInt(col string, v *store.Null[int64]) {
	if v != nil {
		st.val(col, v.Ptr())
	}
}

func (st *setter) nullTime(col string, v *store.Null[time.Time]) {
	if v != nil {
		st.val(col, st.s.tsp(v.Ptr()))
	}
}

// budget applies a budget_duration change: setting the duration also moves
// budget_reset_at to the end of the new window (unless the caller sets it),
// and clearing it clears the reset time, so ResetBudgets sees the new rule.
func (st *setter) budget(dur *string, reset *store.Null[time.Time], at time.Time) {
	if dur != nil {
		st.val("budget_duration", *dur)
		if reset == nil {
			next, err := resetFor(*dur, at)
			st.err = errors.Join(st.err, err)
			st.val("budget_reset_at", st.s.tsp(next))
		}
	}
	st.nullTime("budget_reset_at", reset)
}

// finish appends the WHERE on the id and a RETURNING of cols.
func (st *setter) finish(idCol, id, cols string) (string, []any, error) {
	st.q.w(" WHERE ", idCol, " = ").arg(id).w(" RETURNING ", cols)
	return st.q.String(), st.q.args, st.err
}

// resetFor returns when a new budget window of duration d that starts at
// at ends, or nil when there is no duration.
func resetFor(d string, at time.Time) (*time.Time, error) {
	if d == "" {
		return nil, nil
	}
	t, err := store.NextReset(at, d)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// createStamps fills the timestamps a new row needs and validates its
// budget duration, deriving the first reset time when none is given.
func createStamps(created, updated *time.Time, dur string, reset **time.Time) error {
	if created.IsZero() {
		*created = now()
	}
	*created = norm(*created)
	if updated.IsZero() {
		*updated = *created
	}
	*updated = norm(*updated)
	if dur != "" {
		t, err := store.NextReset(*created, dur)
		if err != nil {
			return err
		}
		if *reset == nil {
			*reset = &t
		}
	}
	*reset = normp(*reset)
	return nil
}

// insertOrConflict runs an INSERT … ON CONFLICT DO NOTHING and turns "no
// row inserted" into ErrConflict: one statement, no racy pre-check, and no
// dependence on driver error codes.
func insertOrConflict(ctx context.Context, ex execer, what, id, query string, args ...any) error {
	res, err := ex.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("create %s %q: %w", what, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("create %s %q: %w", what, id, err)
	}
	if n == 0 {
		return fmt.Errorf("create %s %q: %w", what, id, store.ErrConflict)
	}
	return nil
}

// notFound maps sql.ErrNoRows to ErrNotFound and a unique violation to
// ErrConflict, with context.
func notFound(err error, what, id string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("%s %q: %w: %w", what, id, store.ErrConflict, err)
	}
	return fmt.Errorf("%s %q: %w", what, id, err)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// queries holds the fixed statements, rebound once for the dialect.
type queries struct {
	getKey, insertKey, regenerateKey                          string
	getTeam, insertTeam, teamMembers, upsertMember, touchTeam string
	getUser, insertUser                                       string
	getCustomer, insertCustomer                               string
	addKeySpend, addTeamSpend, addUserSpend, addCustomerSpend string
	addDaily                                                  string
	resets                                                    [4]resetQueries
	recordMigration                                           string
}

// resetQueries find and reset due budgets in one table.
type resetQueries struct{ table, sel, upd string }

func newQueries(d Dialect) queries {
	r := func(q string) string { return rebind(d, q) }
	var resets [4]resetQueries
	for i, t := range [...]struct{ table, id string }{
		{"virtual_keys", "token_hash"}, {"teams", "team_id"}, {"users", "user_id"}, {"customers", "user_id"},
	} {
		resets[i] = resetQueries{
			table: t.table,
			sel: r("SELECT " + t.id + ", budget_duration FROM " + t.table +
				" WHERE budget_reset_at IS NOT NULL AND budget_reset_at <= ? ORDER BY " + t.id + " LIMIT 500"),
			upd: r("UPDATE " + t.table + " SET spend = 0, budget_reset_at = ? WHERE " + t.id + " = ? AND budget_reset_at <= ?"),
		}
	}
	return queries{
		resets:          resets,
		recordMigration: r("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"),
		getKey:          r("SELECT " + keyCols + " FROM virtual_keys WHERE token_hash = ?"),
		insertKey:       r("INSERT INTO virtual_keys (" + keyCols + ") VALUES (" + placeholders(keyColCount) + ") ON CONFLICT DO NOTHING"),
		regenerateKey:   r("UPDATE virtual_keys SET token_hash = ?, key_name = ?, updated_at = ? WHERE token_hash = ? RETURNING " + keyCols),

		getTeam:      r("SELECT " + teamCols + " FROM teams WHERE team_id = ?"),
		insertTeam:   r("INSERT INTO teams (" + teamCols + ") VALUES (" + placeholders(teamColCount) + ") ON CONFLICT DO NOTHING"),
		teamMembers:  r("SELECT user_id, role FROM team_members WHERE team_id = ? ORDER BY user_id"),
		upsertMember: r("INSERT INTO team_members (team_id, user_id, role) VALUES (?, ?, ?) ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role"),
		touchTeam:    r("UPDATE teams SET updated_at = ? WHERE team_id = ?"),

		getUser:    r("SELECT " + userCols + " FROM users WHERE user_id = ?"),
		insertUser: r("INSERT INTO users (" + userCols + ") VALUES (" + placeholders(userColCount) + ") ON CONFLICT DO NOTHING"),

		getCustomer:    r("SELECT " + customerCols + " FROM customers WHERE user_id = ?"),
		insertCustomer: r("INSERT INTO customers (" + customerCols + ") VALUES (" + placeholders(customerColCount) + ") ON CONFLICT DO NOTHING"),

		addKeySpend:  r("UPDATE virtual_keys SET spend = spend + ? WHERE token_hash = ?"),
		addTeamSpend: r("UPDATE teams SET spend = spend + ? WHERE team_id = ?"),
		addUserSpend: r("UPDATE users SET spend = spend + ? WHERE user_id = ?"),
		// Customers are created on first sight, as LiteLLM does, so an end
		// user's spend is tracked before anyone registers them.
		addCustomerSpend: r("INSERT INTO customers (user_id, spend, created_at, updated_at) VALUES (?, ?, ?, ?) " +
			"ON CONFLICT (user_id) DO UPDATE SET spend = customers.spend + excluded.spend"),
		addDaily: r("INSERT INTO daily_spend (day, entity_type, entity_id, spend, prompt_tokens, completion_tokens, requests, failed_requests) " +
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, entity_type, entity_id) DO UPDATE SET " +
			"spend = daily_spend.spend + excluded.spend, " +
			"prompt_tokens = daily_spend.prompt_tokens + excluded.prompt_tokens, " +
			"completion_tokens = daily_spend.completion_tokens + excluded.completion_tokens, " +
			"requests = daily_spend.requests + excluded.requests, " +
			"failed_requests = daily_spend.failed_requests + excluded.failed_requests"),
	}
}
