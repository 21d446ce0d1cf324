package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the numbered schema changes per dialect:
// migrations/<dialect>/NNNN_name.sql. Migrations are additive only (new
// tables, columns, indexes) so an older binary keeps working against a
// newer schema during a rolling deploy.
//
//go:embed migrations
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(d Dialect) ([]migration, error) {
	dir := path.Join("migrations", d.String())
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations for %v: %w", d, err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// Migrate applies the pending migrations in version order, recording each in
// schema_migrations(version, applied_at), and returns the versions it
// applied (none when the schema is current, so it is safe to call on every
// start).
//
// Everything runs in one transaction that first takes a lock: on PostgreSQL
// a transaction-scoped advisory lock (keyed by the current schema, so
// separate schemas migrate independently) serialises concurrent Migrate
// calls from several replicas, and DDL being transactional means a failed
// migration leaves nothing behind; on SQLite BEGIN IMMEDIATE takes the
// database write lock before schema_migrations is read.
//
// A busy database (SQLite: another process opening the file or switching
// it to WAL at the same moment) is retried a few times, so replicas that
// start together all come up.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	ms, err := loadMigrations(s.d)
	if err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		applied, err := s.migrate(ctx, ms)
		if err == nil || !retryable(err) || i == 4 {
			return applied, err
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(i+1) * 50 * time.Millisecond):
		}
	}
}

func (s *Store) migrate(ctx context.Context, ms []migration) (applied []int, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()

	var tx interface {
		queryer
		Commit() error
		Rollback() error
	}
	if s.d == SQLite {
		// database/sql cannot ask for BEGIN IMMEDIATE, so issue it on a
		// dedicated connection; the DSN's _txlock may not be set by every
		// caller.
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return nil, fmt.Errorf("migrate: begin: %w", err)
		}
		tx = &rawTx{ctx: ctx, conn: conn}
	} else {
		t, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("migrate: begin: %w", err)
		}
		tx = t
	}
	defer func() {
		if err != nil {
			if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
				err = errors.Join(err, rerr)
			}
			applied = nil
		}
	}()

	if s.d == Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(1937207652, hashtext(current_schema()))"); err != nil {
			return nil, fmt.Errorf("migrate: lock: %w", err)
		}
	}
	ts := "INTEGER" // unix microseconds, as every SQLite time column
	if s.d == Postgres {
		ts = "TIMESTAMPTZ"
	}
	if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at "+ts+" NOT NULL)"); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	done := map[int]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		// No arguments: both drivers then accept several statements in one
		// Exec (pgx uses the simple protocol).
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return nil, fmt.Errorf("migrate: %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, s.q.recordMigration, m.version, s.ts(now())); err != nil {
			return nil, fmt.Errorf("migrate: record %s: %w", m.name, err)
		}
		applied = append(applied, m.version)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("migrate: commit: %w", err)
	}
	return applied, nil
}

// rawTx is a transaction opened with an explicit BEGIN on one connection.
type rawTx struct {
	ctx  context.Context
	conn *sql.Conn
	done bool
}

func (t *rawTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.conn.ExecContext(ctx, q, args...)
}

func (t *rawTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.conn.QueryContext(ctx, q, args...)
}

func (t *rawTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.conn.QueryRowContext(ctx, q, args...)
}

func (t *rawTx) Commit() error {
	_, err := t.conn.ExecContext(t.ctx, "COMMIT")
	// A failed COMMIT (say, SQLITE_BUSY) leaves the transaction open, so
	// only a successful one makes Rollback a no-op.
	t.done = err == nil
	return err
}

// Rollback uses a fresh context: the caller's may be what was cancelled,
// and the connection must not go back to the pool inside a transaction.
func (t *rawTx) Rollback() error {
	if t.done {
		return nil
	}
	t.done = true
	_, err := t.conn.ExecContext(context.Background(), "ROLLBACK")
	return err
}
