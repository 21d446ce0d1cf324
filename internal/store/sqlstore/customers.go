package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/switchboard-gw/switchboard/internal/store"
)

const customerCols = "user_id, alias, blocked, max_budget, budget_duration, budget_reset_at, spend, " +
	"rpm_limit, tpm_limit, allowed_model_region, default_model, created_at, updated_at"

const customerColCount = 13

func scanCustomer(sc scanner) (*store.Customer, error) {
	var c store.Customer
	err := sc.Scan(&c.UserID, &c.Alias, &c.Blocked, nullIntCol{&c.MaxBudget}, &c.BudgetDuration, nullTsCol{&c.BudgetResetAt}, &c.Spend,
		nullIntCol{&c.RPMLimit}, nullIntCol{&c.TPMLimit}, &c.AllowedModelRegion, &c.DefaultModel, tsCol{&c.CreatedAt}, tsCol{&c.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// CreateCustomer implements store.CustomerStore. ErrConflict also when
// InsertSpend already auto-created the customer; callers that want
// "create or configure" follow up with UpdateCustomer.
func (s *Store) CreateCustomer(ctx context.Context, c *store.Customer) error {
	if c == nil || c.UserID == "" {
		return fmt.Errorf("create customer: empty user id: %w", store.ErrInvalid)
	}
	if err := createStamps(&c.CreatedAt, &c.UpdatedAt, c.BudgetDuration, &c.BudgetResetAt); err != nil {
		return fmt.Errorf("create customer %q: %w", c.UserID, err)
	}
	return insertOrConflict(ctx, s.db, "customer", c.UserID, s.q.insertCustomer,
		c.UserID, c.Alias, c.Blocked, c.MaxBudget, c.BudgetDuration, s.tsp(c.BudgetResetAt), c.Spend,
		c.RPMLimit, c.TPMLimit, c.AllowedModelRegion, c.DefaultModel, s.ts(c.CreatedAt), s.ts(c.UpdatedAt))
}

// GetCustomer implements store.CustomerStore.
func (s *Store) GetCustomer(ctx context.Context, userID string) (*store.Customer, error) {
	c, err := scanCustomer(s.db.QueryRowContext(ctx, s.q.getCustomer, userID))
	if err != nil {
		return nil, notFound(err, "get customer", userID)
	}
	return c, nil
}

// UpdateCustomer implements store.CustomerStore.
func (s *Store) UpdateCustomer(ctx context.Context, userID string, u store.CustomerUpdate) (*store.Customer, error) {
	at := now()
	st := s.update("customers", at)
	if u.Alias != nil {
		st.val("alias", *u.Alias)
	}
	if u.Blocked != nil {
		st.val("blocked", *u.Blocked)
	}
	st.nullInt("max_budget", u.MaxBudget)
	st.budget(u.BudgetDuration, u.BudgetResetAt, at)
	if u.Spend != nil {
		st.val("spend", *u.Spend)
	}
	st.nullInt("rpm_limit", u.RPMLimit)
	st.nullInt("tpm_limit", u.TPMLimit)
	if u.AllowedModelRegion != nil {
		st.val("allowed_model_region", *u.AllowedModelRegion)
	}
	if u.DefaultModel != nil {
		st.val("default_model", *u.DefaultModel)
	}
	q, args, err := st.finish("user_id", userID, customerCols)
	if err != nil {
		return nil, fmt.Errorf("update customer %q: %w", userID, err)
	}
	c, err := scanCustomer(s.db.QueryRowContext(ctx, q, args...))
	if err != nil {
		return nil, notFound(err, "update customer", userID)
	}
	return c, nil
}

// DeleteCustomers implements store.CustomerStore.
func (s *Store) DeleteCustomers(ctx context.Context, userIDs []string) (int, error) {
	return s.deleteIn(ctx, s.db, "customers", "user_id", userIDs)
}

// ListCustomers implements store.CustomerStore.
func (s *Store) ListCustomers(ctx context.Context, f store.CustomerFilter) ([]store.Customer, int, error) {
	var w where
	if f.Blocked != nil {
		w.eq("blocked", *f.Blocked)
	}
	var out []store.Customer
	total, err := s.list(ctx, "customers", customerCols, "created_at, user_id", &w, f.Page, f.Size, func(r *sql.Rows) error {
		c, err := scanCustomer(r)
		if err == nil {
			out = append(out, *c)
		}
		return err
	})
	return out, total, err
}
