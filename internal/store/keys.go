package store

import "time"

// ModelBudget is a per-model budget on a key (LiteLLM's model_max_budget).
type ModelBudget struct {
	MaxBudget      int64  `json:"max_budget"`
	BudgetDuration string `json:"budget_duration,omitempty"`
}

// Key is a virtual key. The plaintext key is never stored: TokenHash is the
// hex SHA-256 of it and KeyName a masked form for display ("sk-...abcd").
type Key struct {
	TokenHash string
	KeyName   string
	KeyAlias  string // "" = none; unique when set
	TeamID    string // "" = none
	UserID    string // "" = none

	Models  []string          // nil or empty = every model the team/user allows
	Aliases map[string]string // requested model name -> model group

	MaxBudget      *int64 // micro-USD; nil = unlimited
	SoftBudget     *int64 // micro-USD; alert only
	BudgetDuration string // "" = never resets; see NextReset
	BudgetResetAt  *time.Time
	Spend          int64 // micro-USD since the last reset

	RPMLimit            *int64
	TPMLimit            *int64
	MaxParallelRequests *int64
	ModelMaxBudget      map[string]ModelBudget
	ModelRPMLimit       map[string]int64
	ModelTPMLimit       map[string]int64

	ExpiresAt *time.Time // nil = never
	Blocked   bool
	Metadata  map[string]any
	Tags      []string

	CreatedAt time.Time
	UpdatedAt time.Time
	CreatedBy string
}

// KeyUpdate lists the fields to change; nil fields are left alone. All set
// fields change in one statement, so concurrent updates of different fields
// never undo each other.
type KeyUpdate struct {
	KeyAlias *string
	TeamID   *string
	UserID   *string
	Models   *[]string
	Aliases  *map[string]string

	MaxBudget      *Null[int64]
	SoftBudget     *Null[int64]
	BudgetDuration *string // also recomputes BudgetResetAt unless that is set too
	BudgetResetAt  *Null[time.Time]
	Spend          *int64 // reset_spend

	RPMLimit            *Null[int64]
	TPMLimit            *Null[int64]
	MaxParallelRequests *Null[int64]
	ModelMaxBudget      *map[string]ModelBudget
	ModelRPMLimit       *map[string]int64
	ModelTPMLimit       *map[string]int64

	ExpiresAt *Null[time.Time]
	Blocked   *bool
	Metadata  *map[string]any
	Tags      *[]string
}

// KeyFilter selects keys for ListKeys; empty fields match everything.
// Page is 1-based; Size defaults to DefaultPageSize, capped at MaxPageSize.
type KeyFilter struct {
	TeamID   string
	UserID   string
	KeyAlias string
	Page     int
	Size     int
}
