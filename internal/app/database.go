package app

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	// The store's two drivers: pure-Go SQLite (so CGO_ENABLED=0 builds work)
	// and pgx for PostgreSQL. Only the app knows them.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/store/sqlstore"
)

// DefaultDatabaseFile is the embedded store used when no database_url is set.
const DefaultDatabaseFile = "switchboard.db"

// databaseURL is general_settings.database_url (the config loader already
// falls back to DATABASE_URL), else the embedded SQLite file.
func databaseURL(cfg *config.Config) string {
	if u := cfg.GeneralSettings.DatabaseURL; u != "" {
		return u
	}
	return DefaultDatabaseFile
}

// database is the store and its state as the health endpoint reports it.
// Migrations run in the background with retries, so a PostgreSQL that is
// down at start delays readiness instead of failing the gateway.
type database struct {
	db    *sql.DB
	store *sqlstore.Store
	kind  string
	ready atomic.Bool
	stop  context.CancelFunc
	done  chan struct{}
}

// openDatabase opens the store; a bad URL or driver fails at once, an
// unreachable server does not.
func openDatabase(url string) (*database, error) {
	driver, dsn, dialect, err := sqlstore.DriverFor(url)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	st, err := sqlstore.Open(db, dialect)
	if err != nil {
		db.Close()
		return nil, err
	}
	kind := "sqlite"
	if dialect == sqlstore.Postgres {
		kind = "postgres"
		// database/sql keeps 2 idle connections by default, so a burst of
		// key-cache misses opened a PostgreSQL session (a fork and auth,
		// milliseconds) per lookup: measured p99 50 ms at 8-way concurrency.
		// A bounded pool that stays open leaves room for several replicas
		// in the default max_connections of 100.
		db.SetMaxOpenConns(32)
		db.SetMaxIdleConns(32)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	return &database{db: db, store: st, kind: kind, done: make(chan struct{})}, nil
}

// start migrates once before the gateway serves (so a healthy database is
// ready with the first request) and, if that fails, keeps retrying in the
// background with backoff until it succeeds or stop is called.
func (d *database) start(log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	d.stop = cancel
	first, cancelFirst := context.WithTimeout(ctx, firstAttemptTimeout)
	ok := d.attempt(first, log, 0)
	cancelFirst()
	if ok {
		close(d.done)
		return
	}
	go func() {
		defer close(d.done)
		wait := 500 * time.Millisecond
		for !d.attempt(ctx, log, wait) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(wait*2, 30*time.Second)
		}
	}()
}

// firstAttemptTimeout bounds how long start-up waits for the database.
const firstAttemptTimeout = 10 * time.Second

func (d *database) attempt(ctx context.Context, log *slog.Logger, retryIn time.Duration) bool {
	applied, err := d.store.Migrate(ctx)
	if err != nil {
		if ctx.Err() == nil || retryIn == 0 {
			log.Warn("database not ready; retrying", "database", d.kind, "error", err.Error())
		}
		return false
	}
	d.ready.Store(true)
	if len(applied) > 0 {
		log.Info("database migrated", "database", d.kind, "applied", fmt.Sprint(applied))
	}
	return true
}

// status is the readiness report's "db" value, LiteLLM's words first.
func (d *database) status() (string, bool) {
	if d == nil {
		return "Not connected", false
	}
	if d.ready.Load() {
		return "connected", true
	}
	return "connecting", false
}

func (d *database) close() {
	if d == nil {
		return
	}
	if d.stop != nil {
		d.stop()
		<-d.done
	}
	d.db.Close()
}

// Migrate applies the store's migrations now (switchboard migrate).
func Migrate(ctx context.Context, cfg *config.Config) (applied []int, where string, err error) {
	d, err := openDatabase(databaseURL(cfg))
	if err != nil {
		return nil, "", err
	}
	defer d.db.Close()
	applied, err = d.store.Migrate(ctx)
	return applied, d.kind, err
}

// budgetResets zeroes the spend of keys, teams, users and end users whose
// budget_duration period has ended, every interval until ctx ends. Every
// replica runs it; the store resets each row once however many do.
func (d *database) budgetResets(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !d.ready.Load() {
			continue
		}
		n, err := d.store.ResetBudgets(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("budget reset failed; will retry", "error", err.Error())
		case n > 0:
			log.Info("budgets reset", "rows", n)
		}
	}
}

// budgetResetInterval is LiteLLM's PROXY_BUDGET_RESCHEDULER_MIN_TIME
// (seconds), 60 s by default: a period that ended is reset within a minute.
func budgetResetInterval(env func(string) (string, bool)) time.Duration {
	if v, ok := env("PROXY_BUDGET_RESCHEDULER_MIN_TIME"); ok {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			return time.Duration(secs * float64(time.Second))
		}
	}
	return time.Minute
}
