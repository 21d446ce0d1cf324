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

// userView is an internal user as LiteLLM shows it (LiteLLM_UserTable).
type userView struct {
	UserID              string         `json:"user_id"`
	UserEmail           *string        `json:"user_email"`
	UserAlias           *string        `json:"user_alias"`
	UserRole            string         `json:"user_role"`
	Teams               []string       `json:"teams"`
	Models              []string       `json:"models"`
	Spend               float64        `json:"spend"`
	MaxBudget           *float64       `json:"max_budget"`
	BudgetDuration      *string        `json:"budget_duration"`
	BudgetResetAt       *time.Time     `json:"budget_reset_at"`
	RPMLimit            *int64         `json:"rpm_limit"`
	TPMLimit            *int64         `json:"tpm_limit"`
	MaxParallelRequests *int64         `json:"max_parallel_requests"`
	Metadata            map[string]any `json:"metadata"`
	CreatedAt           time.Time      `json:"created_at"`
	UpdatedAt           time.Time      `json:"updated_at"`
}

func viewUser(u *store.User) userView {
	role := u.UserRole
	if role == "" {
		role = store.RoleInternalUser
	}
	return userView{
		UserID:              u.UserID,
		UserEmail:           strOrNil(u.UserEmail),
		UserAlias:           strOrNil(u.UserAlias),
		UserRole:            role,
		Teams:               orEmpty(u.Teams),
		Models:              orEmpty(u.Models),
		Spend:               microsToUSD(u.Spend),
		MaxBudget:           usdOrNil(u.MaxBudget),
		BudgetDuration:      strOrNil(u.BudgetDuration),
		BudgetResetAt:       utc(u.BudgetResetAt),
		RPMLimit:            u.RPMLimit,
		TPMLimit:            u.TPMLimit,
		MaxParallelRequests: u.MaxParallelRequests,
		Metadata:            orEmptyMap(u.Metadata),
		CreatedAt:           u.CreatedAt.UTC(),
		UpdatedAt:           u.UpdatedAt.UTC(),
	}
}

// userCreated answers /user/new: the user and, with auto_create_key (the
// default), the key made for it; "key" is the plaintext, shown this once.
type userCreated struct {
	userView
	Key      *string    `json:"key"`
	Token    *string    `json:"token"` // the key's hash
	KeyName  *string    `json:"key_name"`
	KeyAlias *string    `json:"key_alias"`
	Expires  *time.Time `json:"expires"`
	Warnings []string   `json:"warnings,omitempty"`
}

// ignoredUserField reports LiteLLM user fields accepted with a warning.
// /user/new also takes the key fields (its request extends the key's), so
// those LiteLLM accepts for keys are accepted here too.
func ignoredUserField(name string) bool {
	switch name {
	case "send_invite_email", "organizations", "password", "sso_user_id", "allowed_cache_controls",
		"model_max_budget", "model_rpm_limit", "model_tpm_limit", "soft_budget", "aliases", "tags",
		"blocked", "prompts", "object_permission":
		return true
	}
	return ignoredField(name)
}

// teamRef is one entry of a user's "teams": a team id or
// {"team_id", "user_role", "max_budget_in_team"}.
type teamRef struct {
	TeamID string
	Role   string
}

func teamRefs(raw json.RawMessage, name string) ([]teamRef, []string, error) {
	if isNull(raw) {
		return []teamRef{}, nil, nil
	}
	var items []json.RawMessage
	if err := decode(raw, &items, name, "a list of team ids"); err != nil {
		return nil, nil, err
	}
	var out []teamRef
	var warnings []string
	for _, it := range items {
		var ref teamRef
		if t := strings.TrimSpace(string(it)); strings.HasPrefix(t, "{") {
			var o struct {
				TeamID          string          `json:"team_id"`
				UserRole        string          `json:"user_role"`
				MaxBudgetInTeam json.RawMessage `json:"max_budget_in_team"`
			}
			if err := decode(it, &o, name, `a list of team ids or {"team_id", "user_role"}`); err != nil {
				return nil, nil, err
			}
			ref = teamRef{TeamID: strings.TrimSpace(o.TeamID), Role: o.UserRole}
			if o.MaxBudgetInTeam != nil && !slices.Contains(warnings, notImplemented("max_budget_in_team")) {
				warnings = append(warnings, notImplemented("max_budget_in_team"))
			}
		} else {
			var id string
			if err := decode(it, &id, name, `a list of team ids or {"team_id", "user_role"}`); err != nil {
				return nil, nil, err
			}
			ref.TeamID = strings.TrimSpace(id)
		}
		if ref.Role == "" {
			ref.Role = store.TeamRoleUser
		}
		if ref.TeamID == "" {
			return nil, nil, badRequest(name, "%s: a team id is empty", name)
		}
		if !store.ValidTeamRole(ref.Role) {
			return nil, nil, badRequest(name, "%s: user_role %q must be %q or %q", name, ref.Role, store.TeamRoleAdmin, store.TeamRoleUser)
		}
		if !slices.ContainsFunc(out, func(o teamRef) bool { return o.TeamID == ref.TeamID }) {
			out = append(out, ref)
		}
	}
	return orEmpty(out), warnings, nil
}

// userFields decodes the settable user fields of m, skipping own.
func (a *API) userFields(m object, own ...string) (store.UserUpdate, []teamRef, []string, error) {
	var u store.UserUpdate
	var refs []teamRef
	var warnings []string
	for _, name := range m.names() {
		raw := m[name]
		var err error
		switch {
		case slices.Contains(own, name):
		case ignoredUserField(name):
			warnings = append(warnings, notImplemented(name))
		case name == "user_email":
			u.UserEmail, err = optString(raw, name)
		case name == "user_alias":
			u.UserAlias, err = optString(raw, name)
		case name == "user_role":
			u.UserRole, err = optString(raw, name)
			if err == nil && *u.UserRole == "" {
				*u.UserRole = store.RoleInternalUser
			}
			if err == nil && !store.ValidUserRole(*u.UserRole) {
				err = badRequest(name, "user_role %q must be one of %s, %s, %s, %s", *u.UserRole,
					store.RoleProxyAdmin, store.RoleProxyAdminViewer, store.RoleInternalUser, store.RoleInternalUserViewer)
			}
		case name == "teams":
			var w []string
			refs, w, err = teamRefs(raw, name)
			warnings = append(warnings, w...)
		case name == "models":
			u.Models, err = stringList(raw, name)
		case name == "max_budget":
			u.MaxBudget, err = nullMoney(raw, name)
		case name == "budget_duration":
			u.BudgetDuration, err = budgetDuration(raw, name)
		case name == "spend":
			if !isNull(raw) {
				var v int64
				v, err = money(raw, name)
				u.Spend = &v
			}
		case name == "rpm_limit":
			u.RPMLimit, err = nullLimit(raw, name)
		case name == "tpm_limit":
			u.TPMLimit, err = nullLimit(raw, name)
		case name == "max_parallel_requests":
			u.MaxParallelRequests, err = nullLimit(raw, name)
		case name == "metadata":
			u.Metadata, err = metadata(raw, name)
		default:
			err = badRequest(name, "unknown field %q", name)
		}
		if err != nil {
			return store.UserUpdate{}, nil, nil, err
		}
	}
	var err error
	if u.BudgetResetAt, err = a.budgetReset(u.BudgetDuration); err != nil {
		return store.UserUpdate{}, nil, nil, err
	}
	if refs != nil {
		ids := make([]string, len(refs))
		for i, ref := range refs {
			ids[i] = ref.TeamID
		}
		u.Teams = &ids
	}
	return u, refs, warnings, nil
}

func applyUser(u *store.User, up store.UserUpdate) {
	set(&u.UserEmail, up.UserEmail)
	set(&u.UserAlias, up.UserAlias)
	set(&u.UserRole, up.UserRole)
	set(&u.BudgetDuration, up.BudgetDuration)
	set(&u.Teams, up.Teams)
	set(&u.Models, up.Models)
	setNull(&u.MaxBudget, up.MaxBudget)
	setNull(&u.BudgetResetAt, up.BudgetResetAt)
	set(&u.Spend, up.Spend)
	setNull(&u.RPMLimit, up.RPMLimit)
	setNull(&u.TPMLimit, up.TPMLimit)
	setNull(&u.MaxParallelRequests, up.MaxParallelRequests)
	set(&u.Metadata, up.Metadata)
}

// checkTeams answers 400 naming the first team in refs that does not exist.
func (a *API) checkTeams(ctx context.Context, refs []teamRef) error {
	for _, ref := range refs {
		if _, err := a.teams.GetTeam(ctx, ref.TeamID); errors.Is(err, store.ErrNotFound) {
			return badRequest("teams", "team %q does not exist", ref.TeamID)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// userNew serves POST /user/new. Unless auto_create_key is false, a key
// owned by the user is created as /key/generate would (key_alias and
// duration apply to it) and returned once in "key".
func (a *API) userNew(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	keyOwn := []string{"key_alias", "duration"}
	up, refs, warnings, err := a.userFields(m, append([]string{"user_id", "auto_create_key"}, keyOwn...)...)
	if err != nil {
		return nil, err
	}
	autoKey := true
	if raw, ok := m["auto_create_key"]; ok {
		if b, err := optBool(raw, "auto_create_key"); err != nil {
			return nil, err
		} else if b != nil {
			autoKey = *b
		}
	}
	// The key settings go through the key decoder, so they are checked
	// before anything is written.
	keyBody := object{}
	for _, name := range keyOwn {
		if raw, ok := m[name]; ok && autoKey {
			keyBody[name] = raw
		}
	}
	ku, _, err := a.keyFields(keyBody)
	if err != nil {
		return nil, err
	}
	id := newID()
	if raw, ok := m["user_id"]; ok && !isNull(raw) {
		if id, err = requiredID(m, "user_id"); err != nil {
			return nil, err
		}
	}
	if err := a.checkTeams(ctx, refs); err != nil {
		return nil, err
	}
	if ku.KeyAlias != nil && *ku.KeyAlias != "" {
		if _, n, err := a.keys.ListKeys(ctx, store.KeyFilter{KeyAlias: *ku.KeyAlias, Size: 1}); err != nil {
			return nil, err
		} else if n > 0 {
			return nil, badRequest("key_alias", "key_alias %q is already used by another key", *ku.KeyAlias)
		}
	}
	now := a.now().UTC().Truncate(time.Microsecond)
	u := &store.User{UserID: id, UserRole: store.RoleInternalUser, CreatedAt: now, UpdatedAt: now}
	applyUser(u, up)
	if err := a.users.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, badRequest("user_id", "user_id %q already exists", id)
		}
		return nil, err
	}
	for _, ref := range refs {
		if _, err := a.teams.AddMembers(ctx, ref.TeamID, []store.TeamMember{{UserID: id, Role: ref.Role}}); err != nil {
			return nil, missing(err, "team", ref.TeamID)
		}
	}
	out := userCreated{userView: viewUser(u), Warnings: warnings}
	if autoKey {
		ku.UserID = &id
		k, plaintext, err := a.createKey(ctx, "", ku)
		if err != nil {
			return nil, err
		}
		out.Key, out.Token, out.KeyName = &plaintext, &k.TokenHash, &k.KeyName
		out.KeyAlias, out.Expires = strOrNil(k.KeyAlias), utc(k.ExpiresAt)
	}
	return out, nil
}

// userID reads the user a request addresses: user_id, or user_email for
// an existing user.
func (a *API) userID(ctx context.Context, m object) (string, error) {
	if _, ok := m["user_id"]; ok {
		return requiredID(m, "user_id")
	}
	if _, ok := m["user_email"]; !ok {
		return "", badRequest("user_id", "user_id or user_email is required")
	}
	email, err := requiredID(m, "user_email")
	if err != nil {
		return "", err
	}
	us, _, err := a.users.ListUsers(ctx, store.UserFilter{UserEmail: email, Size: 1})
	if err != nil {
		return "", err
	}
	if len(us) == 0 {
		return "", notFound("no user with user_email " + email)
	}
	return us[0].UserID, nil
}

// userUpdate serves POST /user/update: only the fields present change. A
// new "teams" list also moves the user's team memberships.
func (a *API) userUpdate(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	id, err := a.userID(ctx, m)
	if err != nil {
		return nil, err
	}
	own := []string{"user_id"}
	if _, ok := m["user_id"]; !ok {
		own = append(own, "user_email") // it named the user, it is not a change
	}
	up, refs, warnings, err := a.userFields(m, own...)
	if err != nil {
		return nil, err
	}
	old, err := a.users.GetUser(ctx, id)
	if err != nil {
		return nil, missing(err, "user", id)
	}
	if err := a.checkTeams(ctx, refs); err != nil {
		return nil, err
	}
	u, err := a.users.UpdateUser(ctx, id, up)
	if err != nil {
		return nil, missing(err, "user", id)
	}
	a.hooks.Changed(store.EntityUser, id)
	if up.Spend != nil {
		a.hooks.SpendSet(store.EntityUser, id, u.BudgetDuration, u.BudgetResetAt)
	}
	if refs != nil {
		for _, ref := range refs {
			if _, err := a.teams.AddMembers(ctx, ref.TeamID, []store.TeamMember{{UserID: id, Role: ref.Role}}); err != nil {
				return nil, missing(err, "team", ref.TeamID)
			}
		}
		for _, t := range old.Teams {
			if slices.Contains(*up.Teams, t) {
				continue
			}
			if _, err := a.teams.RemoveMembers(ctx, t, []string{id}); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
	}
	out := map[string]any{"user_id": id, "data": viewUser(u)}
	if len(warnings) > 0 {
		out["warnings"] = warnings
	}
	return out, nil
}

// userDelete serves POST /user/delete ({"user_ids": [...]}). As in
// LiteLLM, the users' keys go with them, and they leave their teams.
func (a *API) userDelete(ctx context.Context, r *Request) (any, error) {
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
		if _, err := a.users.GetUser(ctx, id); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		found = append(found, id)
	}
	if len(found) == 0 {
		return nil, notFound("none of the users to delete exist")
	}
	if _, err := a.users.DeleteUsers(ctx, found); err != nil {
		return nil, err
	}
	for _, id := range found {
		a.hooks.Changed(store.EntityUser, id)
	}
	keys := 0
	for _, id := range found {
		n, err := a.deleteKeysOf(ctx, store.KeyFilter{UserID: id})
		if err != nil {
			return nil, err
		}
		keys += n
	}
	return map[string]any{"deleted_users": found, "deleted_keys": keys}, nil
}

// userInfo serves GET /user/info?user_id=: the user, its keys and its
// teams. A virtual key may read only the user that owns it.
func (a *API) userInfo(ctx context.Context, r *Request) (any, error) {
	id, err := a.ownerID(ctx, r, "user_id", "the user", func(k *store.Key) string { return k.UserID },
		"a virtual key may only read the info of the user that owns it")
	if err != nil {
		return nil, err
	}
	u, err := a.users.GetUser(ctx, id)
	if err != nil {
		return nil, missing(err, "user", id)
	}
	keys, err := a.keyViews(ctx, store.KeyFilter{UserID: id})
	if err != nil {
		return nil, err
	}
	teams := []teamView{}
	for _, tid := range u.Teams {
		t, err := a.teams.GetTeam(ctx, tid)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		teams = append(teams, viewTeam(t))
	}
	return map[string]any{"user_id": id, "user_info": viewUser(u), "keys": keys, "teams": teams}, nil
}

// userList serves GET /user/list (?role=, ?user_email=, ?team= or
// ?team_id=, ?user_ids=a,b, ?page=&page_size=), paginated as LiteLLM's.
func (a *API) userList(ctx context.Context, r *Request) (any, error) {
	f := store.UserFilter{UserRole: query(r, "role"), UserEmail: query(r, "user_email"), TeamID: query(r, "team")}
	if f.UserRole == "" {
		f.UserRole = query(r, "user_role")
	}
	if f.TeamID == "" {
		f.TeamID = query(r, "team_id")
	}
	var err error
	if f.Page, f.Size, err = paging(r, 25, "page_size", "size"); err != nil {
		return nil, err
	}
	var us []store.User
	var total int
	if ids := query(r, "user_ids"); ids != "" {
		// An explicit id list: look each up (the other filters still apply).
		for id := range strings.SplitSeq(ids, ",") {
			u, err := a.users.GetUser(ctx, strings.TrimSpace(id))
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return nil, err
			}
			role := u.UserRole
			if role == "" {
				role = store.RoleInternalUser
			}
			if (f.UserRole == "" || f.UserRole == role) && (f.UserEmail == "" || f.UserEmail == u.UserEmail) &&
				(f.TeamID == "" || slices.Contains(u.Teams, f.TeamID)) {
				us = append(us, *u)
			}
		}
		total = len(us)
		lo := min((f.Page-1)*f.Size, len(us))
		us = us[lo:min(lo+f.Size, len(us))]
	} else if us, total, err = a.users.ListUsers(ctx, f); err != nil {
		return nil, err
	}
	out := make([]userView, len(us))
	for i := range us {
		out[i] = viewUser(&us[i])
	}
	return map[string]any{
		"users":       out,
		"total":       total,
		"page":        f.Page,
		"page_size":   f.Size,
		"total_pages": (total + f.Size - 1) / f.Size,
	}, nil
}
