package store

import "time"

// Team roles.
const (
	TeamRoleAdmin = "admin"
	TeamRoleUser  = "user"
)

// TeamMember is one user's membership of a team.
type TeamMember struct {
	UserID string `json:"user_id"`
	Role   string `json:"role"` // TeamRoleAdmin or TeamRoleUser
}

// Team groups keys and users under shared models, budgets and limits.
type Team struct {
	TeamID    string
	TeamAlias string
	Models    []string

	MaxBudget      *int64
	SoftBudget     *int64
	BudgetDuration string
	BudgetResetAt  *time.Time
	Spend          int64

	RPMLimit            *int64
	TPMLimit            *int64
	MaxParallelRequests *int64

	Blocked  bool
	Metadata map[string]any
	Members  []TeamMember // sorted by UserID when read

	CreatedAt time.Time
	UpdatedAt time.Time
}

// TeamUpdate lists the fields to change; nil fields are left alone.
// Members change only through AddMembers/RemoveMembers.
type TeamUpdate struct {
	TeamAlias *string
	Models    *[]string

	MaxBudget      *Null[int64]
	SoftBudget     *Null[int64]
	BudgetDuration *string
	BudgetResetAt  *Null[time.Time]
	Spend          *int64

	RPMLimit            *Null[int64]
	TPMLimit            *Null[int64]
	MaxParallelRequests *Null[int64]

	Blocked  *bool
	Metadata *map[string]any
}

// TeamFilter selects teams for ListTeams; empty fields match everything.
type TeamFilter struct {
	TeamAlias string
	MemberID  string // teams that have this user as a member
	Page      int
	Size      int
}

// ValidTeamRole reports whether r is a team role.
func ValidTeamRole(r string) bool { return r == TeamRoleAdmin || r == TeamRoleUser }
