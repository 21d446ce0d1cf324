package admin

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// teamView is a team as LiteLLM shows it (LiteLLM_TeamTable): members both
// with their roles and as the legacy admins/members id lists.
type teamView struct {
	TeamID              string             `json:"team_id"`
	TeamAlias           *string            `json:"team_alias"`
	Models              []string           `json:"models"`
	Spend               float64            `json:"spend"`
	MaxBudget           *float64           `json:"max_budget"`
	SoftBudget          *float64           `json:"soft_budget"`
	BudgetDuration      *string            `json:"budget_duration"`
	BudgetResetAt       *time.Time         `json:"budget_reset_at"`
	RPMLimit            *int64             `json:"rpm_limit"`
	TPMLimit            *int64             `json:"tpm_limit"`
	MaxParallelRequests *int64             `json:"max_parallel_requests"`
	Blocked             bool               `json:"blocked"`
	Metadata            map[string]any     `json:"metadata"`
	MembersWithRoles    []store.TeamMember `json:"members_with_roles"`
	Admins              []string           `json:"admins"`
	Members             []string           `json:"members"`
	CreatedAt           time.Time          `json:"created_at"`
	UpdatedAt           time.Time          `json:"updated_at"`
}

func viewTeam(t *store.Team) teamView {
	v := teamView{
		TeamID:              t.TeamID,
		TeamAlias:           strOrNil(t.TeamAlias),
		Models:              orEmpty(t.Models),
		Spend:               microsToUSD(t.Spend),
		MaxBudget:           usdOrNil(t.MaxBudget),
		SoftBudget:          usdOrNil(t.SoftBudget),
		BudgetDuration:      strOrNil(t.BudgetDuration),
		BudgetResetAt:       utc(t.BudgetResetAt),
		RPMLimit:            t.RPMLimit,
		TPMLimit:            t.TPMLimit,
		MaxParallelRequests: t.MaxParallelRequests,
		Blocked:             t.Blocked,
		Metadata:            orEmptyMap(t.Metadata),
		MembersWithRoles:    orEmpty(t.Members),
		Admins:              []string{},
		Members:             []string{},
		CreatedAt:           t.CreatedAt.UTC(),
		UpdatedAt:           t.UpdatedAt.UTC(),
	}
	for _, m := range t.Members {
		if m.Role == store.TeamRoleAdmin {
			v.Admins = append(v.Admins, m.UserID)
		}
		v.Members = append(v.Members, m.UserID)
	}
	return v
}

// ignoredTeamField reports LiteLLM team fields accepted with a warning.
func ignoredTeamField(name string) bool {
	switch name {
	case "organization_id", "team_member_permissions", "router_settings", "model_aliases", "tags",
		"guardrails", "policies", "prompts", "object_permission", "allowed_passthrough_routes",
		"secret_manager_settings", "model_rpm_limit", "model_tpm_limit", "rpm_limit_type", "tpm_limit_type",
		"team_member_budget", "team_member_budget_duration", "team_member_rpm_limit", "team_member_tpm_limit",
		"team_member_key_duration", "allowed_vector_store_indexes", "access_group_ids", "model_max_budget",
		"budget_id", "project_id", "allowed_routes":
		return true
	}
	return strings.HasPrefix(name, "enforced_")
}

// teamFields decodes the settable team fields of m, skipping the route's
// own fields. Null clears as for keys.
func (a *API) teamFields(m object, own ...string) (store.TeamUpdate, []string, error) {
	var u store.TeamUpdate
	var warnings []string
	for _, name := range m.names() {
		raw := m[name]
		var err error
		switch {
		case slices.Contains(own, name):
		case ignoredTeamField(name):
			warnings = append(warnings, notImplemented(name))
		case name == "team_alias":
			u.TeamAlias, err = optString(raw, name)
		case name == "models":
			u.Models, err = stringList(raw, name)
		case name == "max_budget":
			u.MaxBudget, err = nullMoney(raw, name)
		case name == "soft_budget":
			u.SoftBudget, err = nullMoney(raw, name)
		case name == "budget_duration":
			u.BudgetDuration, err = budgetDuration(raw, name)
		case name == "rpm_limit":
			u.RPMLimit, err = nullLimit(raw, name)
		case name == "tpm_limit":
			u.TPMLimit, err = nullLimit(raw, name)
		case name == "max_parallel_requests":
			u.MaxParallelRequests, err = nullLimit(raw, name)
		case name == "blocked":
			u.Blocked, err = optBool(raw, name)
		case name == "metadata":
			u.Metadata, err = metadata(raw, name)
		default:
			err = badRequest(name, "unknown field %q", name)
		}
		if err != nil {
			return store.TeamUpdate{}, nil, err
		}
	}
	var err error
	if u.BudgetResetAt, err = a.budgetReset(u.BudgetDuration); err != nil {
		return store.TeamUpdate{}, nil, err
	}
	return u, warnings, nil
}

func applyTeam(t *store.Team, u store.TeamUpdate) {
	set(&t.TeamAlias, u.TeamAlias)
	set(&t.Models, u.Models)
	setNull(&t.MaxBudget, u.MaxBudget)
	setNull(&t.SoftBudget, u.SoftBudget)
	set(&t.BudgetDuration, u.BudgetDuration)
	setNull(&t.BudgetResetAt, u.BudgetResetAt)
	setNull(&t.RPMLimit, u.RPMLimit)
	setNull(&t.TPMLimit, u.TPMLimit)
	setNull(&t.MaxParallelRequests, u.MaxParallelRequests)
	set(&t.Blocked, u.Blocked)
	set(&t.Metadata, u.Metadata)
}

// memberIn is a member as requests name one: by user_id, or by user_email
// for a user that exists or is created with a generated id.
type memberIn struct {
	Role      string `json:"role"`
	UserID    string `json:"user_id"`
	UserEmail string `json:"user_email"`
}

// members decodes one member object or a list of them.
func members(raw json.RawMessage, name string) ([]memberIn, error) {
	var list []memberIn
	if t := strings.TrimSpace(string(raw)); strings.HasPrefix(t, "[") {
		if err := decode(raw, &list, name, `a list of {"role", "user_id"}`); err != nil {
			return nil, err
		}
	} else {
		var one memberIn
		if err := decode(raw, &one, name, `{"role", "user_id"} or a list of them`); err != nil {
			return nil, err
		}
		list = []memberIn{one}
	}
	for i, mb := range list {
		if mb.Role == "" {
			list[i].Role = store.TeamRoleUser
		} else if !store.ValidTeamRole(mb.Role) {
			return nil, badRequest(name, "%s: role %q must be %q or %q", name, mb.Role, store.TeamRoleAdmin, store.TeamRoleUser)
		}
		if strings.TrimSpace(mb.UserID) == "" && strings.TrimSpace(mb.UserEmail) == "" {
			return nil, badRequest(name, "%s: every member needs a user_id or a user_email", name)
		}
	}
	return list, nil
}

// resolveMembers turns requested members into store members, finding a
// user by email (or creating one, as LiteLLM does) when no id is given.
func (a *API) resolveMembers(ctx context.Context, in []memberIn) ([]store.TeamMember, error) {
	out := make([]store.TeamMember, 0, len(in))
	for _, mb := range in {
		id := strings.TrimSpace(mb.UserID)
		if id == "" {
			us, _, err := a.users.ListUsers(ctx, store.UserFilter{UserEmail: strings.TrimSpace(mb.UserEmail), Size: 1})
			if err != nil {
				return nil, err
			}
			if len(us) > 0 {
				id = us[0].UserID
			} else {
				u := &store.User{UserID: newID(), UserEmail: strings.TrimSpace(mb.UserEmail)}
				if err := a.users.CreateUser(ctx, u); err != nil {
					return nil, err
				}
				id = u.UserID
			}
		}
		out = append(out, store.TeamMember{UserID: id, Role: mb.Role})
	}
	return out, nil
}

// setUserTeam adds teamID to (join) or removes it from a user's teams, so
// /user/info agrees with the team's member list. A user that does not
// exist is created on joining, as LiteLLM does; leaving is a no-op for it.
func (a *API) setUserTeam(ctx context.Context, userID, teamID string, join bool) error {
	u, err := a.users.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		if !join {
			return nil
		}
		err = a.users.CreateUser(ctx, &store.User{UserID: userID, Teams: []string{teamID}})
		if errors.Is(err, store.ErrConflict) { // created meanwhile
			return a.setUserTeam(ctx, userID, teamID, join)
		}
		return err
	}
	if err != nil {
		return err
	}
	if slices.Contains(u.Teams, teamID) == join {
		return nil
	}
	teams := slices.DeleteFunc(slices.Clone(u.Teams), func(t string) bool { return t == teamID })
	if join {
		teams = append(teams, teamID)
	}
	_, err = a.users.UpdateUser(ctx, userID, store.UserUpdate{Teams: &teams})
	return err
}

// teamNew serves POST /team/new.
func (a *API) teamNew(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	u, warnings, err := a.teamFields(m, "team_id", "members_with_roles")
	if err != nil {
		return nil, err
	}
	id := newID()
	if raw, ok := m["team_id"]; ok && !isNull(raw) {
		if id, err = requiredID(m, "team_id"); err != nil {
			return nil, err
		}
	}
	var in []memberIn
	if raw, ok := m["members_with_roles"]; ok && !isNull(raw) {
		if strings.TrimSpace(string(raw)) != "[]" {
			if in, err = members(raw, "members_with_roles"); err != nil {
				return nil, err
			}
		}
	}
	if _, err := a.teams.GetTeam(ctx, id); err == nil {
		return nil, badRequest("team_id", "team_id %q already exists", id)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	ms, err := a.resolveMembers(ctx, in)
	if err != nil {
		return nil, err
	}
	now := a.now().UTC().Truncate(time.Microsecond)
	t := &store.Team{TeamID: id, Members: ms, CreatedAt: now, UpdatedAt: now}
	applyTeam(t, u)
	if err := a.teams.CreateTeam(ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, badRequest("team_id", "team_id %q already exists", id)
		}
		return nil, err
	}
	for _, mb := range ms {
		if err := a.setUserTeam(ctx, mb.UserID, id, true); err != nil {
			return nil, err
		}
	}
	return teamOut{viewTeam(t), warnings}, nil
}

// teamOut answers team/new and member_add: the team plus warnings for
// accepted LiteLLM fields that had no effect.
type teamOut struct {
	teamView
	Warnings []string `json:"warnings,omitempty"`
}

// teamUpdate serves POST /team/update: only the fields present change.
func (a *API) teamUpdate(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	id, err := requiredID(m, "team_id")
	if err != nil {
		return nil, err
	}
	u, warnings, err := a.teamFields(m, "team_id")
	if err != nil {
		return nil, err
	}
	t, err := a.teams.UpdateTeam(ctx, id, u)
	if err != nil {
		return nil, missing(err, "team", id)
	}
	a.hooks.Changed(store.EntityTeam, id)
	if u.Spend != nil {
		a.hooks.SpendSet(store.EntityTeam, id, t.BudgetDuration, t.BudgetResetAt)
	}
	out := map[string]any{"team_id": id, "data": viewTeam(t)}
	if len(warnings) > 0 {
		out["warnings"] = warnings
	}
	return out, nil
}

// teamDelete serves POST /team/delete ({"team_ids": [...]}). As in
// LiteLLM, the teams' keys are deleted with them; the members' users stay
// but leave the team. It answers the ids that existed, 404 when none did.
func (a *API) teamDelete(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	if err := onlyFields(m, "team_ids"); err != nil {
		return nil, err
	}
	ids, err := idList(m, "team_ids")
	if err != nil {
		return nil, err
	}
	var found []string
	var teams []*store.Team
	for _, id := range ids {
		t, err := a.teams.GetTeam(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		found, teams = append(found, id), append(teams, t)
	}
	if len(found) == 0 {
		return nil, notFound("none of the teams to delete exist")
	}
	if _, err := a.teams.DeleteTeams(ctx, found); err != nil {
		return nil, err
	}
	for _, id := range found {
		a.hooks.Changed(store.EntityTeam, id)
	}
	keys := 0
	for _, t := range teams {
		n, err := a.deleteKeysOf(ctx, store.KeyFilter{TeamID: t.TeamID})
		if err != nil {
			return nil, err
		}
		keys += n
		for _, mb := range t.Members {
			if err := a.setUserTeam(ctx, mb.UserID, t.TeamID, false); err != nil {
				return nil, err
			}
		}
	}
	return map[string]any{"deleted_teams": found, "deleted_keys": keys}, nil
}

// teamInfo serves GET /team/info?team_id=. The admin may read any team, a
// virtual key only its own team (team_id may then be omitted).
func (a *API) teamInfo(ctx context.Context, r *Request) (any, error) {
	id, err := a.ownerID(ctx, r, "team_id", "the team", func(k *store.Key) string { return k.TeamID },
		"a virtual key may only read the info of its own team")
	if err != nil {
		return nil, err
	}
	t, err := a.teams.GetTeam(ctx, id)
	if err != nil {
		return nil, missing(err, "team", id)
	}
	keys, err := a.keyViews(ctx, store.KeyFilter{TeamID: id})
	if err != nil {
		return nil, err
	}
	return map[string]any{"team_id": id, "team_info": viewTeam(t), "keys": keys}, nil
}

// teamList serves GET /team/list (optionally ?user_id= for the teams a
// user is a member of, ?team_alias=, ?page=&size=): a JSON array, as
// LiteLLM's v1 list is.
func (a *API) teamList(ctx context.Context, r *Request) (any, error) {
	f := store.TeamFilter{MemberID: query(r, "user_id"), TeamAlias: query(r, "team_alias")}
	var err error
	if f.Page, f.Size, err = paging(r, store.MaxPageSize, "size", "page_size"); err != nil {
		return nil, err
	}
	ts, _, err := a.teams.ListTeams(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]teamView, len(ts))
	for i := range ts {
		out[i] = viewTeam(&ts[i])
	}
	return out, nil
}

// teamMemberAdd serves POST /team/member_add ({"team_id", "member": {...}
// or [...]}). An existing member's role is changed.
func (a *API) teamMemberAdd(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	if err := onlyFields(m, "team_id", "member", "max_budget_in_team"); err != nil {
		return nil, err
	}
	id, err := requiredID(m, "team_id")
	if err != nil {
		return nil, err
	}
	raw, ok := m["member"]
	if !ok || isNull(raw) {
		return nil, badRequest("member", "member is required")
	}
	in, err := members(raw, "member")
	if err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, badRequest("member", "member must name at least one user")
	}
	if _, err := a.teams.GetTeam(ctx, id); err != nil {
		return nil, missing(err, "team", id)
	}
	ms, err := a.resolveMembers(ctx, in)
	if err != nil {
		return nil, err
	}
	t, err := a.teams.AddMembers(ctx, id, ms)
	if err != nil {
		return nil, missing(err, "team", id)
	}
	for _, mb := range ms {
		if err := a.setUserTeam(ctx, mb.UserID, id, true); err != nil {
			return nil, err
		}
	}
	var warnings []string
	if _, ok := m["max_budget_in_team"]; ok {
		warnings = append(warnings, notImplemented("max_budget_in_team"))
	}
	return teamOut{viewTeam(t), warnings}, nil
}

// teamMemberDelete serves POST /team/member_delete ({"team_id",
// "user_id"} or {"team_id", "user_email"}).
func (a *API) teamMemberDelete(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	if err := onlyFields(m, "team_id", "user_id", "user_email"); err != nil {
		return nil, err
	}
	id, err := requiredID(m, "team_id")
	if err != nil {
		return nil, err
	}
	var userID string
	if _, ok := m["user_id"]; ok {
		if userID, err = requiredID(m, "user_id"); err != nil {
			return nil, err
		}
	} else if _, ok := m["user_email"]; ok {
		email, err := requiredID(m, "user_email")
		if err != nil {
			return nil, err
		}
		us, _, err := a.users.ListUsers(ctx, store.UserFilter{UserEmail: email, Size: 1})
		if err != nil {
			return nil, err
		}
		if len(us) == 0 {
			return nil, notFound("no user with user_email " + email)
		}
		userID = us[0].UserID
	} else {
		return nil, badRequest("user_id", "user_id or user_email is required")
	}
	t, err := a.teams.GetTeam(ctx, id)
	if err != nil {
		return nil, missing(err, "team", id)
	}
	if !slices.ContainsFunc(t.Members, func(mb store.TeamMember) bool { return mb.UserID == userID }) {
		return nil, notFound("user " + userID + " is not a member of team " + id)
	}
	if t, err = a.teams.RemoveMembers(ctx, id, []string{userID}); err != nil {
		return nil, missing(err, "team", id)
	}
	if err := a.setUserTeam(ctx, userID, id, false); err != nil {
		return nil, err
	}
	return viewTeam(t), nil
}
