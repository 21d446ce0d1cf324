package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/switchboard-gw/switchboard/internal/store"
)

const userCols = "user_id, user_email, user_alias, user_role, teams, models, max_budget, budget_duration, budget_reset_at, spend, " +
	"rpm_limit, tpm_limit, max_parallel_requests, metadata, created_at, updated_at"

const userColCount = 16

func scanUser(sc scanner) (*store.User, error) {
	var u store.User
	err := sc.Scan(&u.UserID, &u.UserEmail, &u.UserAlias, &u.UserRole, jsonCol{&u.Teams}, jsonCol{&u.Models},
		nullIntCol{&u.MaxBudget}, &u.BudgetDuration, nullTsCol{&u.BudgetResetAt}, &u.Spend,
		nullIntCol{&u.RPMLimit}, nullIntCol{&u.TPMLimit}, nullIntCol{&u.MaxParallelRequests},
		jsonCol{&u.Metadata}, tsCol{&u.CreatedAt}, tsCol{&u.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// CreateUser implements store.UserStore.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	if u == nil || u.UserID == "" {
		return fmt.Errorf("create user: empty user id: %w", store.ErrInvalid)
	}
	if u.UserRole == "" {
		u.UserRole = store.RoleInternalUser
	}
	if !store.ValidUserRole(u.UserRole) {
		return fmt.Errorf("create user %q: role %q: %w", u.UserID, u.UserRole, store.ErrInvalid)
	}
	if err := createStamps(&u.CreatedAt, &u.UpdatedAt, u.BudgetDuration, &u.BudgetResetAt); err != nil {
		return fmt.Errorf("create user %q: %w", u.UserID, err)
	}
	var js [3]string
	for i, v := range []any{u.Teams, u.Models, u.Metadata} {
		var err error
		if js[i], err = jsonText(v); err != nil {
			return fmt.Errorf("create user %q: %w", u.UserID, err)
		}
	}
	return insertOrConflict(ctx, s.db, "user", u.UserID, s.q.insertUser,
		u.UserID, u.UserEmail, u.UserAlias, u.UserRole, js[0], js[1],
		u.MaxBudget, u.BudgetDuration, s.tsp(u.BudgetResetAt), u.Spend,
		u.RPMLimit, u.TPMLimit, u.MaxParallelRequests, js[2], s.ts(u.CreatedAt), s.ts(u.UpdatedAt))
}

// GetUser implements store.UserStore.
func (s *Store) GetUser(ctx context.Context, userID string) (*store.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q.getUser, userID))
	if err != nil {
		return nil, notFound(err, "get user", userID)
	}
	return u, nil
}

// UpdateUser implements store.UserStore.
func (s *Store) UpdateUser(ctx context.Context, userID string, u store.UserUpdate) (*store.User, error) {
	if u.UserRole != nil && !store.ValidUserRole(*u.UserRole) {
		return nil, fmt.Errorf("update user %q: role %q: %w", userID, *u.UserRole, store.ErrInvalid)
	}
	at := now()
	st := s.update("users", at)
	if u.UserEmail != nil {
		st.val("user_email", *u.UserEmail)
	}
	if u.UserAlias != nil {
		st.val("user_alias", *u.UserAlias)
	}
	if u.UserRole != nil {
		st.val("user_role", *u.UserRole)
	}
	if u.Teams != nil {
		st.json("teams", *u.Teams)
	}
	if u.Models != nil {
		st.json("models", *u.Models)
	}
	st.nullInt("max_budget", u.MaxBudget)
	st.budget(u.BudgetDuration, u.BudgetResetAt, at)
	if u.Spend != nil {
		st.val("spend", *u.Spend)
	}
	st.nullInt("rpm_limit", u.RPMLimit)
	st.nullInt("tpm_limit", u.TPMLimit)
	st.nullInt("max_parallel_requests", u.MaxParallelRequests)
	if u.Metadata != nil {
		st.json("metadata", *u.Metadata)
	}
	q, args, err := st.finish("user_id", userID, userCols)
	if err != nil {
		return nil, fmt.Errorf("update user %q: %w", userID, err)
	}
	out, err := scanUser(s.db.QueryRowContext(ctx, q, args...))
	if err != nil {
		return nil, notFound(err, "update user", userID)
	}
	return out, nil
}

// DeleteUsers implements store.UserStore. Memberships go with the user so
// a team never lists someone who no longer exists.
func (s *Store) DeleteUsers(ctx context.Context, userIDs []string) (int, error) {
	var n int
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.deleteIn(ctx, tx, "team_members", "user_id", userIDs); err != nil {
			return err
		}
		var err error
		n, err = s.deleteIn(ctx, tx, "users", "user_id", userIDs)
		return err
	})
	return n, err
}

// ListUsers implements store.UserStore.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, int, error) {
	var w where
	if f.UserRole != "" {
		w.eq("user_role", f.UserRole)
	}
	if f.UserEmail != "" {
		w.eq("user_email", f.UserEmail)
	}
	if f.TeamID != "" {
		w.add(func(q *sqlb) { q.jsonContains("teams", f.TeamID) })
	}
	var out []store.User
	total, err := s.list(ctx, "users", userCols, "created_at, user_id", &w, f.Page, f.Size, func(r *sql.Rows) error {
		u, err := scanUser(r)
		if err == nil {
			out = append(out, *u)
		}
		return err
	})
	return out, total, err
}
