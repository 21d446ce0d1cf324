package store

import "time"

// Customer is an end user of a key holder's application, identified by the
// request's "user" field. InsertSpend creates one on first sight so spend
// is tracked even for customers nobody registered.
type Customer struct {
	UserID  string
	Alias   string
	Blocked bool

	MaxBudget      *int64
	BudgetDuration string
	BudgetResetAt  *time.Time
	Spend          int64

	RPMLimit *int64
	TPMLimit *int64

	AllowedModelRegion string // "", "eu" or "us"
	DefaultModel       string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// CustomerUpdate lists the fields to change; nil fields are left alone.
type CustomerUpdate struct {
	Alias   *string
	Blocked *bool // block / unblock

	MaxBudget      *Null[int64]
	BudgetDuration *string
	BudgetResetAt  *Null[time.Time]
	Spend          *int64

	RPMLimit *Null[int64]
	TPMLimit *Null[int64]

	AllowedModelRegion *string
	DefaultModel       *string
}

// CustomerFilter selects customers for ListCustomers.
type CustomerFilter struct {
	Blocked *bool // nil = both
	Page    int
	Size    int
}
