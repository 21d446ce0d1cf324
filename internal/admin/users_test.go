package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/store"
)

func TestUserNewAutoCreatesKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.ok200(t, admin, "POST", "/team/new", `{"team_id":"t1"}`, nil)

	m := f.ok200(t, admin, "POST", "/user/new", `{"user_id":"u1","user_email":"u1@example.com","user_alias":"U",
		"user_role":"internal_user_viewer","teams":["t1"],"models":["gpt-4o"],"max_budget":5,"budget_duration":"1d",
		"rpm_limit":10,"tpm_limit":100,"max_parallel_requests":2,"metadata":{"a":1},"key_alias":"u1-key","duration":"1h"}`, nil)
	plain, _ := m["key"].(string)
	hash := auth.HashKey(plain)
	if !strings.HasPrefix(plain, "sk-") || m["token"] != hash || m["key_alias"] != "u1-key" ||
		m["expires"] != t0.Add(time.Hour).Format(time.RFC3339) {
		t.Fatalf("user/new key fields: %v", m)
	}
	wantReset, _ := store.NextReset(t0, "1d")
	for field, want := range map[string]any{
		"user_id": "u1", "user_email": "u1@example.com", "user_alias": "U", "user_role": "internal_user_viewer",
		"max_budget": 5.0, "budget_duration": "1d", "budget_reset_at": wantReset.Format(time.RFC3339),
		"rpm_limit": 10.0, "tpm_limit": 100.0, "max_parallel_requests": 2.0, "spend": 0.0,
	} {
		if m[field] != want {
			t.Errorf("user/new %s = %v, want %v", field, m[field], want)
		}
	}
	// The key works: it is in the store, owned by the user.
	k, err := f.st.GetKey(ctx, hash)
	if err != nil || k.UserID != "u1" || k.KeyAlias != "u1-key" || k.KeyName != auth.MaskKey(plain) {
		t.Fatalf("stored key = %+v, %v", k, err)
	}
	// The user joined the team.
	if tm, _ := f.st.GetTeam(ctx, "t1"); len(tm.Members) != 1 || tm.Members[0] != (store.TeamMember{UserID: "u1", Role: "user"}) {
		t.Errorf("team members = %v", tm.Members)
	}
	// And the key can read its user.
	info := f.ok200(t, Caller{KeyHash: hash}, "GET", "/user/info", "", nil)
	ui, _ := info["user_info"].(map[string]any)
	keys, _ := info["keys"].([]any)
	teams, _ := info["teams"].([]any)
	if info["user_id"] != "u1" || ui["user_email"] != "u1@example.com" || len(keys) != 1 ||
		keys[0].(map[string]any)["token"] != hash || len(teams) != 1 || teams[0].(map[string]any)["team_id"] != "t1" {
		t.Errorf("user/info = %v", info)
	}

	// Generated id, no key.
	m = f.ok200(t, admin, "POST", "/user/new", `{"auto_create_key":false}`, nil)
	if id, _ := m["user_id"].(string); len(id) != 36 || m["key"] != nil || m["user_role"] != "internal_user" {
		t.Errorf("user/new without key = %v", m)
	}
	if _, n, _ := f.st.ListKeys(ctx, store.KeyFilter{}); n != 1 {
		t.Errorf("%d keys, want 1", n)
	}

	for _, tc := range []struct{ name, body, param string }{
		{"duplicate id", `{"user_id":"u1"}`, "user_id"},
		{"bad role", `{"user_role":"god"}`, "user_role"},
		{"unknown team", `{"teams":["nope"]}`, "teams"},
		{"taken key alias", `{"key_alias":"u1-key"}`, "key_alias"},
		{"bad key duration", `{"duration":"forever"}`, "duration"},
		{"unknown field", `{"frobnicate":1}`, "frobnicate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, e := f.call(t, admin, "POST", "/user/new", tc.body, nil)
			if p := errorOf(t, st, e, 400, "bad_request_error")["param"]; p != tc.param {
				t.Errorf("param = %v, want %s (%v)", p, tc.param, e)
			}
		})
	}
	if _, n, _ := f.st.ListUsers(ctx, store.UserFilter{}); n != 2 {
		t.Errorf("%d users after failed creates, want 2", n)
	}
}

func TestUserUpdateDeleteListInfo(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.ok200(t, admin, "POST", "/team/new", `{"team_id":"t1"}`, nil)
	f.ok200(t, admin, "POST", "/team/new", `{"team_id":"t2"}`, nil)
	f.ok200(t, admin, "POST", "/user/new", `{"user_id":"u1","user_email":"a@x","teams":["t1"],"max_budget":3,"rpm_limit":5}`, nil)
	f.ok200(t, admin, "POST", "/user/new", `{"user_id":"u2","user_role":"proxy_admin","auto_create_key":false}`, nil)
	_, otherKey, _ := f.generate(t, `{"user_id":"u2"}`)

	m := f.ok200(t, admin, "POST", "/user/update", `{"user_id":"u1","max_budget":null,"user_alias":"Ann","teams":["t2"]}`, nil)
	d, _ := m["data"].(map[string]any)
	if m["user_id"] != "u1" || d["max_budget"] != nil || d["user_alias"] != "Ann" || d["rpm_limit"] != 5.0 || fmt.Sprint(d["teams"]) != "[t2]" {
		t.Errorf("user/update = %v", m)
	}
	if t1, _ := f.st.GetTeam(ctx, "t1"); len(t1.Members) != 0 {
		t.Errorf("t1 members after moving = %v", t1.Members)
	}
	if t2, _ := f.st.GetTeam(ctx, "t2"); len(t2.Members) != 1 || t2.Members[0].UserID != "u1" {
		t.Errorf("t2 members after moving = %v", t2.Members)
	}
	m = f.ok200(t, admin, "POST", "/user/update", `{"user_email":"a@x","tpm_limit":9}`, nil)
	if d := m["data"].(map[string]any); d["tpm_limit"] != 9.0 || d["user_email"] != "a@x" {
		t.Errorf("update by email = %v", m)
	}
	st, e := f.call(t, admin, "POST", "/user/update", `{"user_id":"ghost","rpm_limit":1}`, nil)
	errorOf(t, st, e, 404, "not_found_error")

	// Info access.
	st, e = f.call(t, Caller{KeyHash: otherKey}, "GET", "/user/info", "", map[string]string{"user_id": "u1"})
	errorOf(t, st, e, 403, "auth_error")
	st, e = f.call(t, admin, "GET", "/user/info", "", map[string]string{"user_id": "ghost"})
	errorOf(t, st, e, 404, "not_found_error")

	// List.
	for _, tc := range []struct {
		name  string
		query map[string]string
		want  string
		total float64
	}{
		{"all", nil, "[u1 u2]", 2},
		{"role", map[string]string{"role": "proxy_admin"}, "[u2]", 1},
		{"team", map[string]string{"team": "t2"}, "[u1]", 1},
		{"ids", map[string]string{"user_ids": "u2,ghost"}, "[u2]", 1},
		{"page", map[string]string{"page": "2", "page_size": "1"}, "[u2]", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := f.ok200(t, admin, "GET", "/user/list", "", tc.query)
			var ids []string
			for _, u := range m["users"].([]any) {
				ids = append(ids, u.(map[string]any)["user_id"].(string))
			}
			slices.Sort(ids)
			if fmt.Sprint(ids) != tc.want || m["total"] != tc.total {
				t.Errorf("users %v total %v, want %s %v", ids, m["total"], tc.want, tc.total)
			}
		})
	}

	// Delete takes the user's keys and memberships.
	m = f.ok200(t, admin, "POST", "/user/delete", `{"user_ids":["u2","ghost"]}`, nil)
	if fmt.Sprint(m["deleted_users"]) != "[u2]" || m["deleted_keys"] != 1.0 {
		t.Errorf("user/delete = %v", m)
	}
	if _, err := f.st.GetKey(ctx, otherKey); !errors.Is(err, store.ErrNotFound) || !f.wasInvalidated(otherKey) {
		t.Errorf("u2's key survived: %v", err)
	}
	f.ok200(t, admin, "POST", "/user/delete", `{"user_ids":["u1"]}`, nil)
	if t2, _ := f.st.GetTeam(ctx, "t2"); len(t2.Members) != 0 {
		t.Errorf("t2 members after deleting u1 = %v", t2.Members)
	}
	st, e = f.call(t, admin, "POST", "/user/delete", `{"user_ids":["u1"]}`, nil)
	errorOf(t, st, e, 404, "not_found_error")
}
