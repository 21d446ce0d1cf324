package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"

	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/store/sqlstore"
	"github.com/switchboard-gw/switchboard/internal/store/storetest"
)

const pgEnv = "SWITCHBOARD_TEST_POSTGRES_URL"

// dialects lists the databases available to this run: SQLite always,
// PostgreSQL when SWITCHBOARD_TEST_POSTGRES_URL is set.
func dialects() []dialect {
	return []dialect{
		{"sqlite", sqliteDSN, sqlstore.SQLite},
		{"postgres", postgresDSN, sqlstore.Postgres},
	}
}

// open returns a pool on a fresh database of the dialect.
func (dl dialect) open(t *testing.T) *sql.DB {
	t.Helper()
	driver, dsn := dl.newDSN(t)
	return openDB(t, driver, dsn)
}

type dialect struct {
	name   string
	newDSN func(t *testing.T) (driver, dsn string) // a fresh, empty database
	d      sqlstore.Dialect
}

func openDB(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(12) // stay well inside PostgreSQL's max_connections when tests run in parallel
	t.Cleanup(func() { db.Close() })
	return db
}

func sqliteDSN(t *testing.T) (string, string) {
	t.Helper()
	driver, dsn, d, err := sqlstore.DriverFor(filepath.Join(t.TempDir(), "test.db"))
	if err != nil || d != sqlstore.SQLite {
		t.Fatalf("DriverFor: %v %v", d, err)
	}
	return driver, dsn
}

// postgresDSN creates a schema of its own (t_<random>) and returns a DSN
// whose search_path points there, so parallel test runs never collide; the
// schema is dropped at cleanup (registered first, so it runs after the
// pools on it are closed).
func postgresDSN(t *testing.T) (string, string) {
	t.Helper()
	base := os.Getenv(pgEnv)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", pgEnv)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		admin.Close()
	})
	driver, dsn, d, err := sqlstore.DriverFor(u.String())
	if err != nil || d != sqlstore.Postgres {
		t.Fatalf("DriverFor: %v %v", d, err)
	}
	return driver, dsn
}

func openStore(t *testing.T, db *sql.DB, d sqlstore.Dialect) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(db, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	for _, dl := range dialects() {
		t.Run(dl.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return openStore(t, dl.open(t), dl.d) })
		})
	}
}

func TestMigrate(t *testing.T) {
	for _, dl := range dialects() {
		t.Run(dl.name, func(t *testing.T) {
			ctx := context.Background()
			db := dl.open(t)
			s, err := sqlstore.Open(db, dl.d)
			if err != nil {
				t.Fatal(err)
			}
			applied, err := s.Migrate(ctx)
			if err != nil || len(applied) == 0 || applied[0] != 1 {
				t.Fatalf("first Migrate = %v, %v", applied, err)
			}
			applied, err = s.Migrate(ctx)
			if err != nil || len(applied) != 0 {
				t.Fatalf("second Migrate = %v, %v (want nothing applied)", applied, err)
			}
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n == 0 {
				t.Fatalf("schema_migrations rows = %d, %v", n, err)
			}
		})
	}
}

// TestMigrateConcurrent runs Migrate from two independent pools at once,
// as two replicas starting together would: exactly one applies each
// migration and neither fails.
func TestMigrateConcurrent(t *testing.T) {
	for _, dl := range dialects() {
		t.Run(dl.name, func(t *testing.T) {
			for round := range 3 {
				driver, dsn := dl.newDSN(t)
				// Two pools on one database, like two processes.
				first, second := openDB(t, driver, dsn), openDB(t, driver, dsn)
				var wg sync.WaitGroup
				results := make([][]int, 2)
				errs := make([]error, 2)
				for i, pool := range []*sql.DB{first, second} {
					wg.Go(func() {
						s, err := sqlstore.Open(pool, dl.d)
						if err == nil {
							results[i], err = s.Migrate(context.Background())
						}
						errs[i] = err
					})
				}
				wg.Wait()
				if errs[0] != nil || errs[1] != nil {
					t.Fatalf("round %d: errors %v / %v", round, errs[0], errs[1])
				}
				if len(results[0])+len(results[1]) != 1 {
					t.Fatalf("round %d: applied %v and %v; want version 1 applied once", round, results[0], results[1])
				}
			}
		})
	}
}

// TestGetKeyUsesIndex checks that key lookup is an index search, which
// keeps it O(log n) at a million keys, by asking the planner rather than
// timing anything.
func TestGetKeyUsesIndex(t *testing.T) {
	for _, dl := range dialects() {
		t.Run(dl.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, dl.open(t), dl.d)
			db := s.DB()
			// PostgreSQL's planner is cost-based and seq-scans small tables,
			// so it needs a realistic table to prove the index is chosen.
			// SQLite always searches the primary-key index for an equality
			// match; a smaller table keeps the test quick under -race.
			n := 100_000
			if dl.d == sqlstore.SQLite {
				n = 20_000
			}
			insertKeys(t, db, dl.d, n)
			var plan []string
			if dl.d == sqlstore.SQLite {
				if _, err := db.Exec("ANALYZE"); err != nil {
					t.Fatal(err)
				}
				rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN SELECT * FROM virtual_keys WHERE token_hash = ?", fmt.Sprintf("%064x", 5))
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var id, parent, unused int
					var detail string
					if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
						t.Fatal(err)
					}
					plan = append(plan, detail)
				}
				rows.Close()
			} else {
				if _, err := db.Exec("ANALYZE virtual_keys"); err != nil {
					t.Fatal(err)
				}
				rows, err := db.QueryContext(ctx, "EXPLAIN SELECT * FROM virtual_keys WHERE token_hash = $1", fmt.Sprintf("%064x", 5))
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var line string
					if err := rows.Scan(&line); err != nil {
						t.Fatal(err)
					}
					plan = append(plan, line)
				}
				rows.Close()
			}
			p := strings.Join(plan, "\n")
			t.Logf("plan:\n%s", p)
			indexed := strings.Contains(p, "SEARCH") && strings.Contains(p, "INDEX") || strings.Contains(p, "Index Scan")
			if !indexed || strings.Contains(p, "SCAN virtual_keys") || strings.Contains(p, "Seq Scan") {
				t.Fatalf("GetKey is not an index lookup:\n%s", p)
			}
			// And the store's own lookup finds the last key loaded.
			k, err := s.GetKey(ctx, fmt.Sprintf("%064x", n-1))
			if err != nil || k.KeyAlias != "" {
				t.Fatalf("GetKey: %v %v", k, err)
			}
		})
	}
}

// insertKeys bulk-loads n minimal keys with multi-row INSERTs.
func insertKeys(t *testing.T, db *sql.DB, d sqlstore.Dialect, n int) {
	t.Helper()
	const per = 1000
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for lo := 0; lo < n; lo += per {
		var b strings.Builder
		args := make([]any, 0, 2*per)
		b.WriteString("INSERT INTO virtual_keys (token_hash, created_at, updated_at) VALUES ")
		for i := lo; i < min(lo+per, n); i++ {
			if i > lo {
				b.WriteString(", ")
			}
			if d == sqlstore.Postgres {
				fmt.Fprintf(&b, "($%d, now(), now())", len(args)+1)
			} else {
				b.WriteString("(?, 0, 0)")
			}
			args = append(args, fmt.Sprintf("%064x", i))
		}
		if _, err := tx.Exec(b.String(), args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestDriverFor(t *testing.T) {
	const pragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	cases := []struct {
		in, driver, dsn string
		d               sqlstore.Dialect
	}{
		{"postgres://u:p@h:5432/db?sslmode=disable", "pgx", "postgres://u:p@h:5432/db?sslmode=disable", sqlstore.Postgres},
		{"postgresql://h/db", "pgx", "postgresql://h/db", sqlstore.Postgres},
		{"sqlite:///var/lib/sb.db", "sqlite", "/var/lib/sb.db?" + pragmas, sqlstore.SQLite},
		{"sqlite:sb.db", "sqlite", "sb.db?" + pragmas, sqlstore.SQLite},
		{"file:sb.db?cache=shared", "sqlite", "file:sb.db?cache=shared&" + pragmas, sqlstore.SQLite},
		{"./data/sb.db", "sqlite", "./data/sb.db?" + pragmas, sqlstore.SQLite},
	}
	for _, c := range cases {
		driver, dsn, d, err := sqlstore.DriverFor(c.in)
		if err != nil || driver != c.driver || dsn != c.dsn || d != c.d {
			t.Errorf("DriverFor(%q) = %q, %q, %v, %v", c.in, driver, dsn, d, err)
		}
	}
	for _, bad := range []string{"", "mysql://u:secret@h/db", ":memory:", "sqlite::memory:", "file:x?mode=memory"} {
		_, _, _, err := sqlstore.DriverFor(bad)
		if err == nil {
			t.Errorf("DriverFor(%q) succeeded", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("DriverFor error leaks the password: %v", err)
		}
	}
}

func TestOpenRejectsBadInput(t *testing.T) {
	if _, err := sqlstore.Open(nil, sqlstore.SQLite); err == nil {
		t.Error("Open(nil) succeeded")
	}
	if _, err := sqlstore.Open(&sql.DB{}, 0); err == nil {
		t.Error("Open with zero dialect succeeded")
	}
}
