// Package store defines the gateway's durable state: virtual keys, teams,
// users, customers (end users) and the spend ledger. It holds the model
// types, one small interface per aggregate and the sentinel errors; the
// implementation lives in store/sqlstore so that callers (auth, policy,
// admin, spend) depend only on behaviour, and tests can substitute fakes.
//
// Conventions shared by every aggregate:
//   - money is int64 micro-dollars (1 USD = 1_000_000) so sums are exact;
//   - times are UTC and truncated to microseconds (the finest unit both
//     SQLite and PostgreSQL keep), so a value read back equals the value
//     written;
//   - ids are opaque text;
//   - errors wrap ErrNotFound, ErrConflict or ErrInvalid; test with errors.Is;
//   - List methods take a 1-based Page and a Size (default DefaultPageSize,
//     capped at MaxPageSize), return rows in a stable order, and also return
//     the total number of matches for the UI's page count.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Implementations wrap them with context, so compare with
// errors.Is, never ==.
var (
	// ErrNotFound: the addressed row does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique value (id, key hash, key alias) is already taken.
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid: the input can never be stored (bad budget duration, bad role).
	ErrInvalid = errors.New("store: invalid")
)

// Page sizes used when a filter leaves Size unset or asks for too much:
// listing a million keys in one response would exhaust memory.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Null is the new value of a nullable column in an update. A nil *Null
// leaves the column unchanged; Valid false sets it to NULL ("no limit").
type Null[T any] struct {
	V     T
	Valid bool
}

// Some returns an update that sets a nullable column to v.
func Some[T any](v T) *Null[T] { return &Null[T]{V: v, Valid: true} }

// None returns an update that sets a nullable column to NULL.
func None[T any]() *Null[T] { return &Null[T]{} }

// Ptr returns the update as a pointer (nil for NULL), the shape model
// structs use for nullable fields.
func (n Null[T]) Ptr() *T {
	if !n.Valid {
		return nil
	}
	v := n.V
	return &v
}

// KeyStore persists virtual keys, addressed by the hex SHA-256 of the key.
type KeyStore interface {
	// CreateKey inserts k; ErrConflict if the hash or the alias is taken.
	// Zero CreatedAt/UpdatedAt are set to now, and BudgetResetAt is derived
	// from BudgetDuration when unset; k is updated in place.
	CreateKey(ctx context.Context, k *Key) error
	// GetKey returns the key with that hash or ErrNotFound.
	GetKey(ctx context.Context, tokenHash string) (*Key, error)
	// UpdateKey changes only the fields set in u, in one statement, and
	// returns the updated key.
	UpdateKey(ctx context.Context, tokenHash string, u KeyUpdate) (*Key, error)
	// DeleteKeys deletes the keys that exist and reports how many there were.
	DeleteKeys(ctx context.Context, hashes []string) (int, error)
	// ListKeys returns one page of matching keys (oldest first) and the
	// total number of matches.
	ListKeys(ctx context.Context, f KeyFilter) ([]Key, int, error)
	// RegenerateKey atomically moves the key from oldHash to newHash with a
	// new masked name, keeping every other field (spend included).
	RegenerateKey(ctx context.Context, oldHash, newHash, newName string) (*Key, error)
}

// TeamStore persists teams and their members.
type TeamStore interface {
	CreateTeam(ctx context.Context, t *Team) error
	GetTeam(ctx context.Context, teamID string) (*Team, error)
	UpdateTeam(ctx context.Context, teamID string, u TeamUpdate) (*Team, error)
	DeleteTeams(ctx context.Context, teamIDs []string) (int, error)
	ListTeams(ctx context.Context, f TeamFilter) ([]Team, int, error)
	// AddMembers adds members or changes the role of existing ones.
	AddMembers(ctx context.Context, teamID string, members []TeamMember) (*Team, error)
	// RemoveMembers removes the listed users; absent ones are ignored.
	RemoveMembers(ctx context.Context, teamID string, userIDs []string) (*Team, error)
}

// UserStore persists internal users (people and service accounts that own keys).
type UserStore interface {
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, userID string) (*User, error)
	UpdateUser(ctx context.Context, userID string, u UserUpdate) (*User, error)
	DeleteUsers(ctx context.Context, userIDs []string) (int, error)
	ListUsers(ctx context.Context, f UserFilter) ([]User, int, error)
}

// CustomerStore persists end users, identified by the request's "user"
// field. Block and unblock are UpdateCustomer with Blocked set.
type CustomerStore interface {
	CreateCustomer(ctx context.Context, c *Customer) error
	GetCustomer(ctx context.Context, userID string) (*Customer, error)
	UpdateCustomer(ctx context.Context, userID string, u CustomerUpdate) (*Customer, error)
	DeleteCustomers(ctx context.Context, userIDs []string) (int, error)
	ListCustomers(ctx context.Context, f CustomerFilter) ([]Customer, int, error)
}

// SpendStore is the spend ledger: the truth that counters are rebuilt from.
type SpendStore interface {
	// InsertSpend records rows idempotently: a request_id already present is
	// skipped, so replaying a batch after a crash never double-counts. In the
	// same transaction the cost of each row actually inserted is added to
	// its key, team, user and customer (the customer row is created if
	// missing) and to the daily aggregates.
	InsertSpend(ctx context.Context, rows []SpendRow) (inserted int, err error)
	// ListSpend returns one page of ledger rows, newest first, and the total.
	ListSpend(ctx context.Context, f SpendFilter) ([]SpendRow, int, error)
	// SumSpend returns the total cost of the rows f selects (Page and Size
	// are ignored), e.g. to seed a budget counter that has no spend column.
	SumSpend(ctx context.Context, f SpendFilter) (int64, error)
	// SpendReport returns daily aggregates for one kind of entity.
	SpendReport(ctx context.Context, f ReportFilter) ([]ReportRow, error)
	// ResetBudgets zeroes the spend of every key, team, user and customer
	// whose budget_reset_at <= now and moves budget_reset_at to the next
	// window; it returns how many rows were reset.
	ResetBudgets(ctx context.Context, now time.Time) (int, error)
}

// Store is every aggregate together, what the application wires in.
type Store interface {
	KeyStore
	TeamStore
	UserStore
	CustomerStore
	SpendStore
}
