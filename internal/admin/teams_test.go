package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// callList runs a request whose answer is a JSON array.
func (f *fixture) callList(t *testing.T, c Caller, method, path string, query map[string]string) []any {
	t.Helper()
	resp, ok := f.api.Handle(context.Background(), &Request{
		Method: method, Path: path, Caller: c,
		Query: func(name string) string { return query[name] },
	})
	if !ok || resp.Status != 200 {
		t.Fatalf("%s %s: status %d, body %s", method, path, resp.Status, resp.Body)
	}
	var out []any
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		t.Fatalf("%s %s: body %s is not a JSON array: %v", method, path, resp.Body, err)
	}
	return out
}

func memberIDs(team map[string]any) string { return fmt.Sprint(team["members"], team["admins"]) }

func TestTeamLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	m := f.ok200(t, admin, "POST", "/team/new", `{"team_id":"t1","team_alias":"Prod","models":["gpt-4o"],
		"max_budget":12.5,"soft_budget":10,"budget_duration":"30d","rpm_limit":100,"tpm_limit":1000,
		"max_parallel_requests":3,"metadata":{"env":"prod"},
		"members_with_roles":[{"role":"admin","user_id":"alice"},{"user_id":"bob"}]}`, nil)
	wantReset, _ := store.NextReset(t0, "30d")
	for field, want := range map[string]any{
		"team_id": "t1", "team_alias": "Prod", "max_budget": 12.5, "soft_budget": 10.0, "budget_duration": "30d",
		"budget_reset_at": wantReset.Format(time.RFC3339), "rpm_limit": 100.0, "tpm_limit": 1000.0,
		"max_parallel_requests": 3.0, "blocked": false, "spend": 0.0, "created_at": t0.Format(time.RFC3339),
	} {
		if m[field] != want {
			t.Errorf("team/new %s = %v, want %v", field, m[field], want)
		}
	}
	if got := memberIDs(m); got != "[alice bob] [alice]" {
		t.Errorf("members = %s", got)
	}
	// The members became users that list the team.
	if u, err := f.st.GetUser(ctx, "alice"); err != nil || !slices.Equal(u.Teams, []string{"t1"}) {
		t.Errorf("alice = %+v, %v", u, err)
	}

	// A generated id.
	m = f.ok200(t, admin, "POST", "/team/new", `{"team_alias":"Other","guardrails":["x"]}`, nil)
	other, _ := m["team_id"].(string)
	if len(other) != 36 || m["warnings"] == nil {
		t.Errorf("generated team: %v", m)
	}
	st, e := f.call(t, admin, "POST", "/team/new", `{"team_id":"t1"}`, nil)
	if errorOf(t, st, e, 400, "bad_request_error")["param"] != "team_id" {
		t.Errorf("duplicate team: %v", e)
	}

	// Update: fields present change, null clears a limit.
	m = f.ok200(t, admin, "POST", "/team/update", `{"team_id":"t1","rpm_limit":null,"max_budget":20,"blocked":true}`, nil)
	data, _ := m["data"].(map[string]any)
	if m["team_id"] != "t1" || data["rpm_limit"] != nil || data["max_budget"] != 20.0 || data["blocked"] != true || data["tpm_limit"] != 1000.0 {
		t.Errorf("team/update = %v", m)
	}
	// The gateway hears of the change: its caches drop the team.
	f.mu.Lock()
	if fmt.Sprint(f.changed) != "[team:t1]" {
		t.Errorf("Changed hook calls: %v", f.changed)
	}
	f.mu.Unlock()
	st, e = f.call(t, admin, "POST", "/team/update", `{"team_id":"nope","rpm_limit":1}`, nil)
	errorOf(t, st, e, 404, "not_found_error")
	st, e = f.call(t, admin, "POST", "/team/update", `{"team_id":"t1","members_with_roles":[]}`, nil)
	errorOf(t, st, e, 400, "bad_request_error")

	// Members.
	m = f.ok200(t, admin, "POST", "/team/member_add", `{"team_id":"t1","member":{"role":"user","user_id":"carol"}}`, nil)
	if got := memberIDs(m); got != "[alice bob carol] [alice]" {
		t.Errorf("after member_add = %s", got)
	}
	m = f.ok200(t, admin, "POST", "/team/member_add", `{"team_id":"t1","member":[{"role":"admin","user_id":"bob"}]}`, nil)
	if got := memberIDs(m); got != "[alice bob carol] [alice bob]" {
		t.Errorf("after role change = %s", got)
	}
	m = f.ok200(t, admin, "POST", "/team/member_delete", `{"team_id":"t1","user_id":"carol"}`, nil)
	if got := memberIDs(m); got != "[alice bob] [alice bob]" {
		t.Errorf("after member_delete = %s", got)
	}
	if u, err := f.st.GetUser(ctx, "carol"); err != nil || len(u.Teams) != 0 {
		t.Errorf("carol after leaving = %+v, %v", u, err)
	}
	st, e = f.call(t, admin, "POST", "/team/member_delete", `{"team_id":"t1","user_id":"carol"}`, nil)
	errorOf(t, st, e, 404, "not_found_error")
	st, e = f.call(t, admin, "POST", "/team/member_add", `{"team_id":"t1","member":{"role":"owner","user_id":"x"}}`, nil)
	if errorOf(t, st, e, 400, "bad_request_error")["param"] != "member" {
		t.Errorf("bad role: %v", e)
	}
	st, e = f.call(t, admin, "POST", "/team/member_add", `{"team_id":"nope","member":{"user_id":"x"}}`, nil)
	errorOf(t, st, e, 404, "not_found_error")

	// List.
	if l := f.callList(t, admin, "GET", "/team/list", nil); len(l) != 2 {
		t.Errorf("team/list = %v", l)
	}
	if l := f.callList(t, admin, "GET", "/team/list", map[string]string{"user_id": "bob"}); len(l) != 1 || l[0].(map[string]any)["team_id"] != "t1" {
		t.Errorf("team/list?user_id=bob = %v", l)
	}

	// Delete takes the team's keys with it.
	_, teamKey, _ := f.generate(t, `{"team_id":"t1"}`)
	_, otherKey, _ := f.generate(t, `{"team_id":"`+other+`"}`)
	m = f.ok200(t, admin, "POST", "/team/delete", `{"team_ids":["t1","ghost"]}`, nil)
	if fmt.Sprint(m["deleted_teams"]) != "[t1]" || m["deleted_keys"] != 1.0 {
		t.Errorf("team/delete = %v", m)
	}
	if _, err := f.st.GetTeam(ctx, "t1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("team still there: %v", err)
	}
	if _, err := f.st.GetKey(ctx, teamKey); !errors.Is(err, store.ErrNotFound) || !f.wasInvalidated(teamKey) {
		t.Errorf("team key not deleted and invalidated: %v", err)
	}
	if _, err := f.st.GetKey(ctx, otherKey); err != nil {
		t.Errorf("other team's key deleted: %v", err)
	}
	if u, err := f.st.GetUser(ctx, "alice"); err != nil || len(u.Teams) != 0 {
		t.Errorf("alice after team delete = %+v, %v", u, err)
	}
	st, e = f.call(t, admin, "POST", "/team/delete", `{"team_ids":["t1"]}`, nil)
	errorOf(t, st, e, 404, "not_found_error")
	st, e = f.call(t, admin, "POST", "/team/delete", `{"team_ids":[]}`, nil)
	errorOf(t, st, e, 400, "bad_request_error")
}

func TestTeamInfoAccess(t *testing.T) {
	f := newFixture(t)
	f.ok200(t, admin, "POST", "/team/new", `{"team_id":"t1","team_alias":"One"}`, nil)
	f.ok200(t, admin, "POST", "/team/new", `{"team_id":"t2"}`, nil)
	_, member, _ := f.generate(t, `{"team_id":"t1"}`)
	_, foreign, _ := f.generate(t, `{"team_id":"t2"}`)
	_, loose, _ := f.generate(t, `{}`)

	for _, tc := range []struct {
		name   string
		caller Caller
		team   string
		status int
	}{
		{"admin", admin, "t1", 200},
		{"member key", Caller{KeyHash: member}, "t1", 200},
		{"member key, team implicit", Caller{KeyHash: member}, "", 200},
		{"foreign key", Caller{KeyHash: foreign}, "t1", 403},
		{"key without team", Caller{KeyHash: loose}, "t1", 403},
		{"unknown key", Caller{KeyHash: "00"}, "t1", 403},
		{"no key", Caller{}, "t1", 403},
		{"admin without team_id", admin, "", 400},
		{"admin unknown team", admin, "nope", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, m := f.call(t, tc.caller, "GET", "/team/info", "", map[string]string{"team_id": tc.team})
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, m)
			}
			if st == 403 {
				errorOf(t, st, m, 403, "auth_error")
			}
			if st != 200 {
				return
			}
			info, _ := m["team_info"].(map[string]any)
			keys, _ := m["keys"].([]any)
			if m["team_id"] != "t1" || info["team_alias"] != "One" || len(keys) != 1 || keys[0].(map[string]any)["token"] != member {
				t.Errorf("team/info = %v", m)
			}
		})
	}
}

func TestManagementAdminOnly(t *testing.T) {
	f := newFixture(t)
	f.ok200(t, admin, "POST", "/team/new", `{"team_id":"t1"}`, nil)
	f.ok200(t, admin, "POST", "/customer/new", `{"user_id":"c1"}`, nil)
	_, hash, _ := f.generate(t, `{"team_id":"t1","user_id":"u1"}`)
	self := Caller{KeyHash: hash}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/team/new", `{}`},
		{"POST", "/team/update", `{"team_id":"t1","max_budget":1}`},
		{"POST", "/team/delete", `{"team_ids":["t1"]}`},
		{"GET", "/team/list", ``},
		{"POST", "/team/member_add", `{"team_id":"t1","member":{"user_id":"x"}}`},
		{"POST", "/team/member_delete", `{"team_id":"t1","user_id":"x"}`},
		{"POST", "/user/new", `{}`},
		{"POST", "/user/update", `{"user_id":"u1"}`},
		{"POST", "/user/delete", `{"user_ids":["u1"]}`},
		{"GET", "/user/list", ``},
		{"POST", "/customer/new", `{"user_id":"c2"}`},
		{"POST", "/customer/update", `{"user_id":"c1","max_budget":1}`},
		{"POST", "/customer/delete", `{"user_ids":["c1"]}`},
		{"GET", "/customer/info", ``},
		{"GET", "/customer/list", ``},
		{"POST", "/customer/block", `{"user_ids":["c1"]}`},
		{"POST", "/end_user/unblock", `{"user_ids":["c1"]}`},
		{"GET", "/global/spend/report", ``},
	} {
		st, m := f.call(t, self, r.method, r.path, r.body, nil)
		if st != 403 {
			t.Errorf("%s %s as a key: %d %v", r.method, r.path, st, m)
		}
	}
	if tm, _ := f.st.GetTeam(context.Background(), "t1"); tm.MaxBudget != nil || len(tm.Members) != 0 {
		t.Errorf("a forbidden call changed the team: %+v", tm)
	}
	if c, _ := f.st.GetCustomer(context.Background(), "c1"); c.Blocked || c.MaxBudget != nil {
		t.Errorf("a forbidden call changed the customer: %+v", c)
	}
}
