package admin

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// customerView is an end user as LiteLLM shows it (LiteLLM_EndUserTable):
// the budget and limits are in the nested litellm_budget_table, null when
// none is set.
type customerView struct {
	UserID             string               `json:"user_id"`
	Alias              *string              `json:"alias"`
	Spend              float64              `json:"spend"`
	Blocked            bool                 `json:"blocked"`
	AllowedModelRegion *string              `json:"allowed_model_region"`
	DefaultModel       *string              `json:"default_model"`
	BudgetTable        *customerBudgetTable `json:"litellm_budget_table"`
	CreatedAt          time.Time            `json:"created_at"`
	UpdatedAt          time.Time            `json:"updated_at"`
}

type customerBudgetTable struct {
	MaxBudget      *float64   `json:"max_budget"`
	BudgetDuration *string    `json:"budget_duration"`
	BudgetResetAt  *time.Time `json:"budget_reset_at"`
	RPMLimit       *int64     `json:"rpm_limit"`
	TPMLimit       *int64     `json:"tpm_limit"`
}

func viewCustomer(c *store.Customer) customerView {
	v := customerView{
		UserID:             c.UserID,
		Alias:              strOrNil(c.Alias),
		Spend:              microsToUSD(c.Spend),
		Blocked:            c.Blocked,
		AllowedModelRegion: strOrNil(c.AllowedModelRegion),
		DefaultModel:       strOrNil(c.DefaultModel),
		CreatedAt:          c.CreatedAt.UTC(),
		UpdatedAt:          c.UpdatedAt.UTC(),
	}
	if c.MaxBudget != nil || c.BudgetDuration != "" || c.RPMLimit != nil || c.TPMLimit != nil {
		v.BudgetTable = &customerBudgetTable{
			MaxBudget:      usdOrNil(c.MaxBudget),
			BudgetDuration: strOrNil(c.BudgetDuration),
			BudgetResetAt:  utc(c.BudgetResetAt),
			RPMLimit:       c.RPMLimit,
			TPMLimit:       c.TPMLimit,
		}
	}
	return v
}

type customerOut struct {
	customerView
	Warnings []string `json:"warnings,omitempty"`
}

// customerFields decodes the settable customer fields of m, skipping own.
func (a *API) customerFields(m object, own ...string) (store.CustomerUpdate, []string, error) {
	var u store.CustomerUpdate
	var warnings []string
	for _, name := range m.names() {
		raw := m[name]
		var err error
		switch name {
		case "budget_id", "soft_budget", "object_permission", "model_max_budget", "max_parallel_requests":
			if !slices.Contains(own, name) {
				warnings = append(warnings, notImplemented(name))
			}
		case "alias":
			u.Alias, err = optString(raw, name)
		case "blocked":
			u.Blocked, err = optBool(raw, name)
		case "max_budget":
			u.MaxBudget, err = nullMoney(raw, name)
		case "budget_duration":
			u.BudgetDuration, err = budgetDuration(raw, name)
		case "spend":
			if !isNull(raw) {
				var v int64
				v, err = money(raw, name)
				u.Spend = &v
			}
		case "rpm_limit":
			u.RPMLimit, err = nullLimit(raw, name)
		case "tpm_limit":
			u.TPMLimit, err = nullLimit(raw, name)
		case "allowed_model_region":
			u.AllowedModelRegion, err = optString(raw, name)
			if err == nil && *u.AllowedModelRegion != "" && *u.AllowedModelRegion != "eu" && *u.AllowedModelRegion != "us" {
				err = badRequest(name, "allowed_model_region must be \"eu\" or \"us\", got %q", *u.AllowedModelRegion)
			}
		case "default_model":
			u.DefaultModel, err = optString(raw, name)
		default:
			if !slices.Contains(own, name) {
				err = badRequest(name, "unknown field %q", name)
			}
		}
		if err != nil {
			return store.CustomerUpdate{}, nil, err
		}
	}
	var err error
	if u.BudgetResetAt, err = a.budgetReset(u.BudgetDuration); err != nil {
		return store.CustomerUpdate{}, nil, err
	}
	return u, warnings, nil
}

func applyCustomer(c *store.Customer, u store.CustomerUpdate) {
	set(&c.Alias, u.Alias)
	set(&c.BudgetDuration, u.BudgetDuration)
	set(&c.AllowedModelRegion, u.AllowedModelRegion)
	set(&c.DefaultModel, u.DefaultModel)
	set(&c.Blocked, u.Blocked)
	setNull(&c.MaxBudget, u.MaxBudget)
	setNull(&c.BudgetResetAt, u.BudgetResetAt)
	set(&c.Spend, u.Spend)
	setNull(&c.RPMLimit, u.RPMLimit)
	setNull(&c.TPMLimit, u.TPMLimit)
}

// customerNew serves POST /customer/new (and /end_user/new).
func (a *API) customerNew(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	id, err := requiredID(m, "user_id")
	if err != nil {
		return nil, err
	}
	u, warnings, err := a.customerFields(m, "user_id")
	if err != nil {
		return nil, err
	}
	now := a.now().UTC().Truncate(time.Microsecond)
	c := &store.Customer{UserID: id, CreatedAt: now, UpdatedAt: now}
	applyCustomer(c, u)
	if err := a.customers.CreateCustomer(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, badRequest("user_id", "customer %q already exists", id)
		}
		return nil, err
	}
	return customerOut{viewCustomer(c), warnings}, nil
}

// customerUpdate serves POST /customer/update: only the fields present change.
func (a *API) customerUpdate(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	id, err := requiredID(m, "user_id")
	if err != nil {
		return nil, err
	}
	u, warnings, err := a.customerFields(m, "user_id")
	if err != nil {
		return nil, err
	}
	c, err := a.customers.UpdateCustomer(ctx, id, u)
	if err != nil {
		return nil, missing(err, "customer", id)
	}
	a.hooks.Changed(store.EntityEndUser, id)
	if u.Spend != nil {
		a.hooks.SpendSet(store.EntityEndUser, id, c.BudgetDuration, c.BudgetResetAt)
	}
	return customerOut{viewCustomer(c), warnings}, nil
}

// customerDelete serves POST /customer/delete ({"user_ids": [...]}); it
// answers the ids that existed, 404 when none did.
func (a *API) customerDelete(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	if err := onlyFields(m, "user_ids"); err != nil {
		return nil, err
	}
	ids, err := idList(m, "user_ids")
	if err != nil {
		return nil, err
	}
	var found []string
	for _, id := range ids {
		if _, err := a.customers.GetCustomer(ctx, id); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		found = append(found, id)
	}
	if len(found) == 0 {
		return nil, notFound("none of the customers to delete exist")
	}
	if _, err := a.customers.DeleteCustomers(ctx, found); err != nil {
		return nil, err
	}
	for _, id := range found {
		a.hooks.Changed(store.EntityEndUser, id)
	}
	return map[string]any{"deleted_customers": found}, nil
}

// customerInfo serves GET /customer/info?end_user_id=.
func (a *API) customerInfo(ctx context.Context, r *Request) (any, error) {
	id := query(r, "end_user_id")
	if id == "" {
		id = query(r, "user_id")
	}
	if id == "" {
		return nil, badRequest("end_user_id", "end_user_id is required")
	}
	c, err := a.customers.GetCustomer(ctx, id)
	if err != nil {
		return nil, missing(err, "customer", id)
	}
	return viewCustomer(c), nil
}

// customerList serves GET /customer/list: a JSON array, as LiteLLM's
// (?blocked=true|false, ?page=&size= to page through many).
func (a *API) customerList(ctx context.Context, r *Request) (any, error) {
	var f store.CustomerFilter
	var err error
	if f.Page, f.Size, err = paging(r, store.MaxPageSize, "size", "page_size"); err != nil {
		return nil, err
	}
	if s := query(r, "blocked"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, badRequest("blocked", "blocked must be true or false, got %q", s)
		}
		f.Blocked = &b
	}
	cs, _, err := a.customers.ListCustomers(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]customerView, len(cs))
	for i := range cs {
		out[i] = viewCustomer(&cs[i])
	}
	return out, nil
}

// setCustomersBlocked serves /customer/block and /customer/unblock
// ({"user_ids": [...]}). Blocking an end user never seen before creates it
// blocked, as LiteLLM does, so one can be refused before its first
// request; unblocking an unknown one is a no-op.
func (a *API) setCustomersBlocked(ctx context.Context, r *Request, blocked bool) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	if err := onlyFields(m, "user_ids"); err != nil {
		return nil, err
	}
	ids, err := idList(m, "user_ids")
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		_, err := a.customers.UpdateCustomer(ctx, id, store.CustomerUpdate{Blocked: &blocked})
		if errors.Is(err, store.ErrNotFound) && blocked {
			now := a.now().UTC().Truncate(time.Microsecond)
			err = a.customers.CreateCustomer(ctx, &store.Customer{UserID: id, Blocked: true, CreatedAt: now, UpdatedAt: now})
			if errors.Is(err, store.ErrConflict) { // created meanwhile
				_, err = a.customers.UpdateCustomer(ctx, id, store.CustomerUpdate{Blocked: &blocked})
			}
		} else if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		if err != nil {
			return nil, err
		}
		a.hooks.Changed(store.EntityEndUser, id)
	}
	if blocked {
		return map[string]any{"blocked_users": ids}, nil
	}
	return map[string]any{"unblocked_users": ids}, nil
}

func (a *API) customerBlock(ctx context.Context, r *Request) (any, error) {
	return a.setCustomersBlocked(ctx, r, true)
}

func (a *API) customerUnblock(ctx context.Context, r *Request) (any, error) {
	return a.setCustomersBlocked(ctx, r, false)
}
