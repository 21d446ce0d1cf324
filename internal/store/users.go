package store

import "time"

// User roles (LiteLLM's user_role values).
const (
	RoleProxyAdmin         = "proxy_admin"
	RoleProxyAdminViewer   = "proxy_admin_viewer"
	RoleInternalUser       = "internal_user"
	RoleInternalUserViewer = "internal_user_viewer"
)

// ValidUserRole reports whether r is a user role.
func ValidUserRole(r string) bool {
	switch r {
	case RoleProxyAdmin, RoleProxyAdminViewer, RoleInternalUser, RoleInternalUserViewer:
		return true
	}
	return false
}

// User is an internal user: someone who owns keys and may belong to teams.
type User struct {
	UserID    string
	UserEmail string
	UserAlias string
	UserRole  string // "" is stored as RoleInternalUser
	Teams     []string
	Models    []string

	MaxBudget      *int64
	BudgetDuration string
	BudgetResetAt  *time.Time
	Spend          int64

	RPMLimit            *int64
	TPMLimit            *int64
	MaxParallelRequests *int64

	Metadata map[string]any

	CreatedAt time.Time
	UpdatedAt time.Time
}

// UserUpdate lists the fields to change; nil fields are left alone.
type UserUpdate struct {
	UserEmail *string
	UserAlias *string
	UserRole  *string
	Teams     *[]string
	Models    *[]string

	MaxBudget      *Null[int64]
	BudgetDuration *string
	BudgetResetAt  *Null[time.Time]
	Spend          *int64

	RPMLimit            *Null[int64]
	TPMLimit            *Null[int64]
	MaxParallelRequests *Null[int64]

	Metadata *map[string]any
}

// UserFilter selects users for ListUsers; empty fields match everything.
type UserFilter struct {
	UserRole  string
	UserEmail string
	TeamID    string // users whose Teams contains this id
	Page      int
	Size      int
}
