package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// Members live in their own table (team_id, user_id) rather than in a JSON
// column: adding or removing a member is then a single-row upsert/delete,
// so concurrent member changes cannot overwrite each other.

const teamCols = "team_id, team_alias, models, max_budget, soft_budget, budget_duration, budget_reset_at, spend, " +
	"rpm_limit, tpm_limit, max_parallel_requests, blocked, metadata, created_at, updated_at"

const teamColCount = 15

func scanTeam(sc scanner) (*store.Team, error) {
	var t store.Team
	err := sc.Scan(&t.TeamID, &t.TeamAlias, jsonCol{&t.Models},
		nullIntCol{&t.MaxBudget}, nullIntCol{&t.SoftBudget}, &t.BudgetDuration, nullTsCol{&t.BudgetResetAt}, &t.Spend,
		nullIntCol{&t.RPMLimit}, nullIntCol{&t.TPMLimit}, nullIntCol{&t.MaxParallelRequests},
		&t.Blocked, jsonCol{&t.Metadata}, tsCol{&t.CreatedAt}, tsCol{&t.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func validMembers(ms []store.TeamMember) ([]store.TeamMember, error) {
	out := make([]store.TeamMember, 0, len(ms))
	for _, m := range ms {
		if m.Role == "" {
			m.Role = store.TeamRoleUser
		}
		if m.UserID == "" || !store.ValidTeamRole(m.Role) {
			return nil, fmt.Errorf("team member %q with role %q: %w", m.UserID, m.Role, store.ErrInvalid)
		}
		out = append(out, m)
	}
	return out, nil
}

// CreateTeam implements store.TeamStore; the team and its members are
// written in one transaction.
func (s *Store) CreateTeam(ctx context.Context, t *store.Team) error {
	if t == nil || t.TeamID == "" {
		return fmt.Errorf("create team: empty team id: %w", store.ErrInvalid)
	}
	members, err := validMembers(t.Members)
	if err != nil {
		return fmt.Errorf("create team %q: %w", t.TeamID, err)
	}
	if err := createStamps(&t.CreatedAt, &t.UpdatedAt, t.BudgetDuration, &t.BudgetResetAt); err != nil {
		return fmt.Errorf("create team %q: %w", t.TeamID, err)
	}
	models, err := jsonText(t.Models)
	if err != nil {
		return fmt.Errorf("create team %q: %w", t.TeamID, err)
	}
	meta, err := jsonText(t.Metadata)
	if err != nil {
		return fmt.Errorf("create team %q: %w", t.TeamID, err)
	}
	err = s.withTx(ctx, func(tx *sql.Tx) error {
		if err := insertOrConflict(ctx, tx, "team", t.TeamID, s.q.insertTeam,
			t.TeamID, t.TeamAlias, models, t.MaxBudget, t.SoftBudget, t.BudgetDuration, s.tsp(t.BudgetResetAt), t.Spend,
			t.RPMLimit, t.TPMLimit, t.MaxParallelRequests, t.Blocked, meta, s.ts(t.CreatedAt), s.ts(t.UpdatedAt)); err != nil {
			return err
		}
		return s.upsertMembers(ctx, tx, t.TeamID, members)
	})
	if err != nil {
		return err
	}
	t.Members = sortedMembers(members)
	return nil
}

func sortedMembers(ms []store.TeamMember) []store.TeamMember {
	// The last role given for a user wins, as the upserts do.
	byID := map[string]string{}
	for _, m := range ms {
		byID[m.UserID] = m.Role
	}
	out := make([]store.TeamMember, 0, len(byID))
	for id, r := range byID {
		out = append(out, store.TeamMember{UserID: id, Role: r})
	}
	slices.SortFunc(out, func(a, b store.TeamMember) int { return strings.Compare(a.UserID, b.UserID) })
	if len(out) == 0 {
		return nil
	}
	return out
}

func (s *Store) upsertMembers(ctx context.Context, tx *sql.Tx, teamID string, ms []store.TeamMember) error {
	for _, m := range ms {
		if _, err := tx.ExecContext(ctx, s.q.upsertMember, teamID, m.UserID, m.Role); err != nil {
			return fmt.Errorf("add member %q to team %q: %w", m.UserID, teamID, err)
		}
	}
	return nil
}

// getTeam reads a team and its members through q (the pool or a tx).
func (s *Store) getTeam(ctx context.Context, q queryer, teamID string) (*store.Team, error) {
	t, err := scanTeam(q.QueryRowContext(ctx, s.q.getTeam, teamID))
	if err != nil {
		return nil, notFound(err, "get team", teamID)
	}
	rows, err := q.QueryContext(ctx, s.q.teamMembers, teamID)
	if err != nil {
		return nil, fmt.Errorf("get team %q members: %w", teamID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m store.TeamMember
		if err := rows.Scan(&m.UserID, &m.Role); err != nil {
			return nil, fmt.Errorf("get team %q members: %w", teamID, err)
		}
		t.Members = append(t.Members, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get team %q members: %w", teamID, err)
	}
	return t, nil
}

// GetTeam implements store.TeamStore.
func (s *Store) GetTeam(ctx context.Context, teamID string) (*store.Team, error) {
	return s.getTeam(ctx, s.db, teamID)
}

// UpdateTeam implements store.TeamStore.
func (s *Store) UpdateTeam(ctx context.Context, teamID string, u store.TeamUpdate) (*store.Team, error) {
	at := now()
	st := s.update("teams", at)
	if u.TeamAlias != nil {
		st.val("team_alias", *u.TeamAlias)
	}
	if u.Models != nil {
		st.json("models", *u.Models)
	}
	st.nullInt("max_budget", u.MaxBudget)
	st.nullInt("soft_budget", u.SoftBudget)
	st.budget(u.BudgetDuration, u.BudgetResetAt, at)
	if u.Spend != nil {
		st.val("spend", *u.Spend)
	}
	st.nullInt("rpm_limit", u.RPMLimit)
	st.nullInt("tpm_limit", u.TPMLimit)
	st.nullInt("max_parallel_requests", u.MaxParallelRequests)
	if u.Blocked != nil {
		st.val("blocked", *u.Blocked)
	}
	if u.Metadata != nil {
		st.json("metadata", *u.Metadata)
	}
	q, args, err := st.finish("team_id", teamID, "team_id")
	if err != nil {
		return nil, fmt.Errorf("update team %q: %w", teamID, err)
	}
	var id string
	if err := s.db.QueryRowContext(ctx, q, args...).Scan(&id); err != nil {
		return nil, notFound(err, "update team", teamID)
	}
	return s.GetTeam(ctx, teamID)
}

// DeleteTeams implements store.TeamStore. Members are deleted explicitly
// as well as by the foreign key's cascade, so a SQLite connection opened
// without foreign_keys(1) leaves no orphans either.
func (s *Store) DeleteTeams(ctx context.Context, teamIDs []string) (int, error) {
	var n int
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.deleteIn(ctx, tx, "team_members", "team_id", teamIDs); err != nil {
			return err
		}
		var err error
		n, err = s.deleteIn(ctx, tx, "teams", "team_id", teamIDs)
		return err
	})
	return n, err
}

// ListTeams implements store.TeamStore.
func (s *Store) ListTeams(ctx context.Context, f store.TeamFilter) ([]store.Team, int, error) {
	var w where
	if f.TeamAlias != "" {
		w.eq("team_alias", f.TeamAlias)
	}
	if f.MemberID != "" {
		w.add(func(q *sqlb) {
			q.w("team_id IN (SELECT team_id FROM team_members WHERE user_id = ").arg(f.MemberID).w(")")
		})
	}
	var out []store.Team
	total, err := s.list(ctx, "teams", teamCols, "created_at, team_id", &w, f.Page, f.Size, func(r *sql.Rows) error {
		t, err := scanTeam(r)
		if err == nil {
			out = append(out, *t)
		}
		return err
	})
	if err != nil || len(out) == 0 {
		return out, total, err
	}
	// One query for the whole page's members instead of one per team.
	idx := make(map[string]int, len(out))
	ids := make([]string, len(out))
	for i := range out {
		idx[out[i].TeamID] = i
		ids[i] = out[i].TeamID
	}
	q := s.build().w("SELECT team_id, user_id, role FROM team_members WHERE ").in("team_id", ids).w(" ORDER BY team_id, user_id")
	rows, err := s.db.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list team members: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tid string
		var m store.TeamMember
		if err := rows.Scan(&tid, &m.UserID, &m.Role); err != nil {
			return nil, 0, fmt.Errorf("list team members: %w", err)
		}
		if i, ok := idx[tid]; ok {
			out[i].Members = append(out[i].Members, m)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list team members: %w", err)
	}
	return out, total, nil
}

// AddMembers implements store.TeamStore.
func (s *Store) AddMembers(ctx context.Context, teamID string, members []store.TeamMember) (*store.Team, error) {
	ms, err := validMembers(members)
	if err != nil {
		return nil, fmt.Errorf("add members to team %q: %w", teamID, err)
	}
	return s.changeMembers(ctx, teamID, func(tx *sql.Tx) error { return s.upsertMembers(ctx, tx, teamID, ms) })
}

// RemoveMembers implements store.TeamStore.
func (s *Store) RemoveMembers(ctx context.Context, teamID string, userIDs []string) (*store.Team, error) {
	return s.changeMembers(ctx, teamID, func(tx *sql.Tx) error {
		if len(userIDs) == 0 {
			return nil
		}
		q := s.build().w("DELETE FROM team_members WHERE team_id = ").arg(teamID).w(" AND ").in("user_id", userIDs)
		if _, err := tx.ExecContext(ctx, q.String(), q.args...); err != nil {
			return fmt.Errorf("remove members from team %q: %w", teamID, err)
		}
		return nil
	})
}

// changeMembers touches the team row first (taking its write lock and
// proving it exists), applies change, and returns the team as committed.
func (s *Store) changeMembers(ctx context.Context, teamID string, change func(*sql.Tx) error) (*store.Team, error) {
	var t *store.Team
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q.touchTeam, s.ts(now()), teamID)
		if err != nil {
			return fmt.Errorf("team %q: %w", teamID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("team %q: %w", teamID, err)
		} else if n == 0 {
			return fmt.Errorf("team %q: %w", teamID, store.ErrNotFound)
		}
		if err := change(tx); err != nil {
			return err
		}
		t, err = s.getTeam(ctx, tx, teamID)
		return err
	})
	return t, err
}
