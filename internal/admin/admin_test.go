package admin

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/store/sqlstore"
)

var t0 = time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)

type fixture struct {
	api *API
	st  *sqlstore.Store

	mu          sync.Mutex
	invalidated []string
	changed     []string // kind:id of every Changed hook call
	spendSet    []string // kind:id of every SpendSet hook call
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	driver, dsn, d, err := sqlstore.DriverFor(filepath.Join(t.TempDir(), "admin.db"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := sqlstore.Open(db, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st}
	f.api = New(Stores{Keys: st, Teams: st, Users: st, Customers: st, Spend: st}, func() time.Time { return t0 }, Hooks{
		Changed: func(kind, id string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if kind == store.EntityKey {
				f.invalidated = append(f.invalidated, id)
			}
			f.changed = append(f.changed, kind+":"+id)
		},
		SpendSet: func(kind, id, _ string, _ *time.Time) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.spendSet = append(f.spendSet, kind+":"+id)
		},
	})
	return f
}

func (f *fixture) wasInvalidated(h string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.invalidated, h)
}

var admin = Caller{Admin: true}

// call runs one request and decodes the JSON answer.
func (f *fixture) call(t *testing.T, c Caller, method, path, body string, query map[string]string) (int, map[string]any) {
	t.Helper()
	resp, ok := f.api.Handle(context.Background(), &Request{
		Method: method, Path: path, Body: []byte(body), Caller: c,
		Query: func(name string) string { return query[name] },
	})
	if !ok {
		t.Fatalf("%s %s: route not handled", method, path)
	}
	var m map[string]any
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, resp.Body, err)
	}
	return resp.Status, m
}

// ok200 is call that must succeed.
func (f *fixture) ok200(t *testing.T, c Caller, method, path, body string, query map[string]string) map[string]any {
	t.Helper()
	st, m := f.call(t, c, method, path, body, query)
	if st != 200 {
		t.Fatalf("%s %s %s: status %d, body %v", method, path, body, st, m)
	}
	return m
}

func (f *fixture) generate(t *testing.T, body string) (plaintext, hash string, m map[string]any) {
	t.Helper()
	m = f.ok200(t, admin, "POST", "/key/generate", body, nil)
	plaintext, _ = m["key"].(string)
	hash, _ = m["token"].(string)
	if plaintext == "" || hash != auth.HashKey(plaintext) || m["token_id"] != hash {
		t.Fatalf("generate: key %q token %q token_id %v", plaintext, hash, m["token_id"])
	}
	return plaintext, hash, m
}

// errorOf checks an error envelope and returns it.
func errorOf(t *testing.T, status int, m map[string]any, wantStatus int, wantType string) map[string]any {
	t.Helper()
	e, _ := m["error"].(map[string]any)
	if status != wantStatus || e == nil || e["type"] != wantType || e["code"] != fmt.Sprint(wantStatus) {
		t.Fatalf("got %d %v, want %d %s", status, m, wantStatus, wantType)
	}
	return e
}

func TestGenerateAndInfo(t *testing.T) {
	f := newFixture(t)
	plain, hash, g := f.generate(t, `{"key_alias":"alpha","duration":"30d","models":["gpt-4o"],
		"max_budget":10.5,"soft_budget":8,"budget_duration":"1d","rpm_limit":60,"tpm_limit":1000,
		"max_parallel_requests":4,"model_max_budget":{"gpt-4o":{"max_budget":2.25,"budget_duration":"1h"}},
		"model_rpm_limit":{"gpt-4o":5},"model_tpm_limit":{"gpt-4o":50},"metadata":{"team":"x"},"tags":["a"],
		"team_id":"t1","user_id":"u1","aliases":{"fast":"gpt-4o"},"spend":0.25,"blocked":false}`)
	if !strings.HasPrefix(plain, "sk-") || g["key_name"] != auth.MaskKey(plain) {
		t.Errorf("key %q key_name %v", plain, g["key_name"])
	}
	wantExp := t0.AddDate(0, 0, 30).Format(time.RFC3339)
	wantReset, _ := store.NextReset(t0, "1d")
	for field, want := range map[string]any{
		"key_alias": "alpha", "expires": wantExp, "max_budget": 10.5, "soft_budget": 8.0,
		"budget_duration": "1d", "budget_reset_at": wantReset.Format(time.RFC3339),
		"rpm_limit": 60.0, "tpm_limit": 1000.0, "max_parallel_requests": 4.0, "team_id": "t1",
		"user_id": "u1", "spend": 0.25, "blocked": false, "created_at": t0.Format(time.RFC3339),
	} {
		if g[field] != want {
			t.Errorf("generate %s = %v, want %v", field, g[field], want)
		}
	}
	if mb := fmt.Sprint(g["model_max_budget"]); mb != "map[gpt-4o:map[budget_duration:1h max_budget:2.25]]" {
		t.Errorf("model_max_budget = %s", mb)
	}

	// The same view from every way of asking.
	other, otherHash, _ := f.generate(t, `{}`)
	self := Caller{KeyHash: hash}
	for _, tc := range []struct {
		name   string
		caller Caller
		key    string
		status int
	}{
		{"admin by plaintext", admin, plain, 200},
		{"admin by hash", admin, hash, 200},
		{"admin by upper-case hash", admin, strings.ToUpper(hash), 200},
		{"self implicit", self, "", 200},
		{"self by plaintext", self, plain, 200},
		{"self by hash", self, hash, 200},
		{"other key by plaintext", self, other, 403},
		{"other key by hash", self, otherHash, 403},
		{"missing key", self, "sk-nonexistent-key-xxxxxxxxx", 403},
		{"no caller key", Caller{}, "", 403},
		{"admin without key", admin, "", 400},
		{"admin unknown key", admin, strings.Repeat("0", 64), 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, m := f.call(t, tc.caller, "GET", "/key/info", "", map[string]string{"key": tc.key})
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, m)
			}
			if st == 403 {
				errorOf(t, st, m, 403, "auth_error")
				if b, _ := json.Marshal(m); strings.Contains(string(b), otherHash) {
					t.Errorf("403 leaks the other key's hash: %s", b)
				}
				return
			}
			if st != 200 {
				return
			}
			info, _ := m["info"].(map[string]any)
			if m["key"] != hash || info["token"] != hash || info["key_alias"] != "alpha" ||
				info["remaining_budget"] != 10.25 || info["spend"] != 0.25 || info["expires"] != wantExp {
				t.Errorf("info = %v", m)
			}
			if b, _ := json.Marshal(m); strings.Contains(string(b), plain) {
				t.Errorf("info shows the plaintext: %s", b)
			}
		})
	}
}

func TestAdminOnlyRoutes(t *testing.T) {
	f := newFixture(t)
	_, hash, _ := f.generate(t, `{}`)
	self := Caller{KeyHash: hash}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/key/generate", `{}`},
		{"POST", "/key/update", `{"key":"` + hash + `","max_budget":100}`},
		{"POST", "/key/delete", `{"keys":["` + hash + `"]}`},
		{"GET", "/key/list", ``},
		{"POST", "/key/regenerate", `{"key":"` + hash + `"}`},
		{"POST", "/key/" + hash + "/regenerate", ``},
		{"POST", "/key/block", `{"key":"` + hash + `"}`},
		{"POST", "/key/unblock", `{"key":"` + hash + `"}`},
	} {
		st, m := f.call(t, self, r.method, r.path, r.body, nil)
		errorOf(t, st, m, 403, "auth_error")
	}
	if k, err := f.st.GetKey(context.Background(), hash); err != nil || k.MaxBudget != nil || k.Blocked {
		t.Errorf("a forbidden call changed the key: %+v %v", k, err)
	}

	if _, ok := f.api.Handle(context.Background(), &Request{Method: "GET", Path: "/v1/models", Caller: admin}); ok {
		t.Error("foreign route handled")
	}
	st, m := f.call(t, admin, "GET", "/key/generate", "", nil)
	errorOf(t, st, m, 405, "method_not_allowed")
}

// Resetting a key's spend tells the gateway, whose budget counter for the
// key must then restart from the new value; other updates do not.
func TestSpendSetHook(t *testing.T) {
	f := newFixture(t)
	_, hash, _ := f.generate(t, `{"max_budget":10,"budget_duration":"1d"}`)
	f.ok200(t, admin, "POST", "/key/update", `{"key":"`+hash+`","max_budget":20}`, nil)
	f.ok200(t, admin, "POST", "/key/update", `{"key":"`+hash+`","spend":0}`, nil)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.spendSet) != 1 || f.spendSet[0] != "key:"+hash {
		t.Errorf("SpendSet calls: %v", f.spendSet)
	}
	if len(f.changed) != 2 {
		t.Errorf("Changed calls: %v", f.changed)
	}
}

func TestMoneyExact(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"0.1", 100_000}, {"0.2", 200_000}, {"0.3", 300_000},
		{"0.30000000000000004", 300_000}, // 0.1+0.2 in float64
		{"1e-6", 1}, {"0.0000005", 1}, {"0.00000049", 0}, {"0.0000015", 2},
		{"123456.789012", 123_456_789_012}, {"1.1e2", 110_000_000}, {"-0", 0},
		{"8999999999999.999999", 8_999_999_999_999_999_999}, {"1e-999999999", 0},
	} {
		got, err := usdToMicros(json.Number(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("usdToMicros(%s) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"-0.000001", "-1", "1e400", "9000000000001"} {
		if got, err := usdToMicros(json.Number(in)); err == nil {
			t.Errorf("usdToMicros(%s) = %d, want an error", in, got)
		}
	}

	// And through the API into the store and back out.
	f := newFixture(t)
	_, hash, g := f.generate(t, `{"max_budget":0.3,"soft_budget":0.30000000000000004,"spend":0.1,
		"model_max_budget":{"m":{"max_budget":0.7}}}`)
	k, err := f.st.GetKey(context.Background(), hash)
	if err != nil {
		t.Fatal(err)
	}
	if *k.MaxBudget != 300_000 || *k.SoftBudget != 300_000 || k.Spend != 100_000 || k.ModelMaxBudget["m"].MaxBudget != 700_000 {
		t.Errorf("stored %d %d %d %v", *k.MaxBudget, *k.SoftBudget, k.Spend, k.ModelMaxBudget)
	}
	if g["max_budget"] != 0.3 || g["spend"] != 0.1 {
		t.Errorf("echoed max_budget %v spend %v", g["max_budget"], g["spend"])
	}
	m := f.ok200(t, admin, "GET", "/key/info", "", map[string]string{"key": hash})
	if rem := m["info"].(map[string]any)["remaining_budget"]; rem != 0.2 {
		t.Errorf("remaining_budget = %v, want exactly 0.2", rem)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	_, hash, _ := f.generate(t, `{"key_alias":"taken"}`)
	for _, tc := range []struct {
		name, path, body, param string
	}{
		{"not json", "/key/generate", `{`, ""},
		{"not an object", "/key/generate", `[1]`, ""},
		{"unknown field", "/key/generate", `{"max_budget":1,"frobnicate":true}`, "frobnicate"},
		{"negative money", "/key/generate", `{"max_budget":-0.01}`, "max_budget"},
		{"money as string", "/key/generate", `{"max_budget":"10"}`, "max_budget"},
		{"model budget as string", "/key/generate", `{"model_max_budget":{"m":{"max_budget":"1"}}}`, "model_max_budget"},
		{"model budget missing", "/key/generate", `{"model_max_budget":{"m":{"budget_duration":"1d"}}}`, "model_max_budget"},
		{"money overflow", "/key/generate", `{"spend":1e300}`, "spend"},
		{"negative model budget", "/key/generate", `{"model_max_budget":{"m":{"max_budget":-1}}}`, "model_max_budget"},
		{"model budget unknown field", "/key/generate", `{"model_max_budget":{"m":{"max_budget":1,"x":2}}}`, "model_max_budget"},
		{"bad duration", "/key/generate", `{"duration":"30x"}`, "duration"},
		{"zero duration", "/key/generate", `{"duration":"0d"}`, "duration"},
		{"bad budget_duration", "/key/generate", `{"budget_duration":"daily"}`, "budget_duration"},
		{"negative rpm", "/key/generate", `{"rpm_limit":-1}`, "rpm_limit"},
		{"fractional tpm", "/key/generate", `{"tpm_limit":1.5}`, "tpm_limit"},
		{"models not a list", "/key/generate", `{"models":"gpt-4o"}`, "models"},
		{"metadata not an object", "/key/generate", `{"metadata":[1]}`, "metadata"},
		{"blocked not bool", "/key/generate", `{"blocked":"yes"}`, "blocked"},
		{"custom key without prefix", "/key/generate", `{"key":"abcdefghijklmnopqrstuvwxyz"}`, "key"},
		{"custom key too short", "/key/generate", `{"key":"sk-short"}`, "key"},
		{"custom key with space", "/key/generate", `{"key":"sk-abcdefgh ijklmnopqrs"}`, "key"},
		{"duplicate alias", "/key/generate", `{"key_alias":"taken"}`, "key_alias"},
		{"update without key", "/key/update", `{"max_budget":1}`, "key"},
		{"update unknown field", "/key/update", `{"key":"` + hash + `","nope":1}`, "nope"},
		{"delete nothing", "/key/delete", `{}`, "keys"},
		{"delete unknown field", "/key/delete", `{"keys":[],"all":true}`, "all"},
		{"block unknown field", "/key/block", `{"key":"` + hash + `","why":"x"}`, "why"},
		{"regenerate without key", "/key/regenerate", `{}`, "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, m := f.call(t, admin, "POST", tc.path, tc.body, nil)
			e := errorOf(t, st, m, 400, "bad_request_error")
			param, _ := e["param"].(string)
			if param != tc.param {
				t.Errorf("param = %v, want %q (%v)", e["param"], tc.param, e["message"])
			}
			if tc.param != "" && !strings.Contains(e["message"].(string), tc.param) {
				t.Errorf("message %q does not name %s", e["message"], tc.param)
			}
		})
	}
	if _, n, _ := f.st.ListKeys(context.Background(), store.KeyFilter{}); n != 1 {
		t.Errorf("%d keys after failed generates, want 1", n)
	}
}

func TestIgnoredFieldsWarn(t *testing.T) {
	f := newFixture(t)
	_, hash, g := f.generate(t, `{"guardrails":["pii"],"organization_id":"o1","max_budget":1}`)
	w := fmt.Sprint(g["warnings"])
	if !strings.Contains(w, "guardrails") || !strings.Contains(w, "organization_id") {
		t.Errorf("warnings = %v", g["warnings"])
	}
	m := f.ok200(t, admin, "POST", "/key/update", `{"key":"`+hash+`","temp_budget_increase":5}`, nil)
	if !strings.Contains(fmt.Sprint(m["warnings"]), "temp_budget_increase") {
		t.Errorf("update warnings = %v", m["warnings"])
	}
	_, _, g = f.generate(t, `{}`)
	if _, ok := g["warnings"]; ok {
		t.Errorf("warnings without ignored fields: %v", g["warnings"])
	}
}

func TestUpdate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	plain, hash, _ := f.generate(t, `{"key_alias":"a","max_budget":5,"rpm_limit":10,"budget_duration":"1h","models":["x"]}`)
	f.generate(t, `{"key_alias":"b"}`)

	m := f.ok200(t, admin, "POST", "/key/update", `{"key":"`+plain+`","rpm_limit":20}`, nil)
	if m["rpm_limit"] != 20.0 || m["max_budget"] != 5.0 || m["key_alias"] != "a" || m["key"] != hash {
		t.Errorf("after rpm update: %v", m)
	}
	if !f.wasInvalidated(hash) {
		t.Error("update did not invalidate the key")
	}

	m = f.ok200(t, admin, "POST", "/key/update", `{"key":"`+hash+`","max_budget":null,"budget_duration":null,"models":[]}`, nil)
	k, err := f.st.GetKey(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	if k.MaxBudget != nil || k.BudgetDuration != "" || k.BudgetResetAt != nil || len(k.Models) != 0 || *k.RPMLimit != 20 {
		t.Errorf("after clearing: %+v", k)
	}
	if m["max_budget"] != nil || m["budget_reset_at"] != nil {
		t.Errorf("response after clearing: %v", m)
	}
	info := f.ok200(t, admin, "GET", "/key/info", "", map[string]string{"key": hash})["info"].(map[string]any)
	if v, ok := info["remaining_budget"]; !ok || v != nil {
		t.Errorf("remaining_budget = %v (present %v), want null", v, ok)
	}

	m = f.ok200(t, admin, "POST", "/key/update", `{"key":"`+hash+`","budget_duration":"30d","duration":"1h"}`, nil)
	wantReset, _ := store.NextReset(t0, "30d")
	if m["budget_reset_at"] != wantReset.Format(time.RFC3339) || m["expires"] != t0.Add(time.Hour).Format(time.RFC3339) {
		t.Errorf("budget_reset_at %v expires %v", m["budget_reset_at"], m["expires"])
	}
	m = f.ok200(t, admin, "POST", "/key/update", `{"key":"`+hash+`","duration":null}`, nil)
	if m["expires"] != nil {
		t.Errorf("duration null left expires %v", m["expires"])
	}

	st, e := f.call(t, admin, "POST", "/key/update", `{"key":"`+hash+`","key_alias":"b"}`, nil)
	if errorOf(t, st, e, 400, "bad_request_error")["param"] != "key_alias" {
		t.Errorf("alias conflict: %v", e)
	}
	st, e = f.call(t, admin, "POST", "/key/update", `{"key":"sk-not-a-real-key-at-all","rpm_limit":1}`, nil)
	errorOf(t, st, e, 404, "not_found_error")
}

func TestDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p1, h1, _ := f.generate(t, `{}`)
	_, h2, _ := f.generate(t, `{}`)
	_, h3, _ := f.generate(t, `{"key_alias":"gone"}`)
	_, h4, _ := f.generate(t, `{"key_alias":"kept"}`)

	for _, tc := range []struct {
		name, body string
		want       []any
		hashes     []string
	}{
		{"by plaintext and hash", `{"keys":["` + p1 + `","` + h2 + `","sk-missing-key-0000000000"]}`, []any{p1, h2}, []string{h1, h2}},
		{"by alias", `{"key_aliases":["","gone","nobody"]}`, []any{"gone"}, []string{h3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := f.ok200(t, admin, "POST", "/key/delete", tc.body, nil)
			if !slices.Equal(m["deleted_keys"].([]any), tc.want) {
				t.Errorf("deleted_keys = %v, want %v", m["deleted_keys"], tc.want)
			}
			for _, h := range tc.hashes {
				if _, err := f.st.GetKey(ctx, h); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("key %s still there: %v", h, err)
				}
				if !f.wasInvalidated(h) {
					t.Errorf("key %s not invalidated", h)
				}
			}
		})
	}
	st, m := f.call(t, admin, "POST", "/key/delete", `{"keys":["`+h1+`"],"key_aliases":["gone"]}`, nil)
	errorOf(t, st, m, 404, "not_found_error")
	if _, err := f.st.GetKey(ctx, h4); err != nil {
		t.Errorf("unrelated key deleted: %v", err)
	}
}

func TestList(t *testing.T) {
	f := newFixture(t)
	var team1 []string
	for i := range 5 {
		_, h, _ := f.generate(t, fmt.Sprintf(`{"team_id":"t1","key_alias":"k%d"}`, i))
		team1 = append(team1, h)
	}
	f.generate(t, `{"team_id":"t2"}`)
	f.generate(t, `{"team_id":"t2","user_id":"u9"}`)

	for _, tc := range []struct {
		name  string
		query map[string]string
		keys  int
		total float64
		pages float64
	}{
		{"all", nil, 7, 7, 1},
		{"team page 1", map[string]string{"team_id": "t1", "size": "2"}, 2, 5, 3},
		{"team page 3", map[string]string{"team_id": "t1", "size": "2", "page": "3"}, 1, 5, 3},
		{"past the end", map[string]string{"team_id": "t1", "size": "2", "page": "9"}, 0, 5, 3},
		{"user", map[string]string{"user_id": "u9"}, 1, 1, 1},
		{"alias", map[string]string{"key_alias": "k3"}, 1, 1, 1},
		{"none", map[string]string{"team_id": "nope"}, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := f.ok200(t, admin, "GET", "/key/list", "", tc.query)
			if len(m["keys"].([]any)) != tc.keys || m["total_count"] != tc.total || m["total_pages"] != tc.pages {
				t.Errorf("got %d keys, total %v, pages %v", len(m["keys"].([]any)), m["total_count"], m["total_pages"])
			}
		})
	}
	// The clock stands still, so keys created together are ordered by hash.
	slices.Sort(team1)
	m := f.ok200(t, admin, "GET", "/key/list", "", map[string]string{"team_id": "t1", "size": "2", "page": "2"})
	if got := m["keys"].([]any); got[0] != team1[2] || got[1] != team1[3] || m["current_page"] != 2.0 {
		t.Errorf("page 2 = %v", m)
	}
	m = f.ok200(t, admin, "GET", "/key/list", "", map[string]string{"key_alias": "k0", "return_full_object": "true"})
	if obj, _ := m["keys"].([]any)[0].(map[string]any); obj["key_alias"] != "k0" || obj["team_id"] != "t1" || !slices.Contains(team1, obj["token"].(string)) {
		t.Errorf("full object = %v", m["keys"])
	}
	for _, q := range []map[string]string{{"page": "0"}, {"size": "x"}, {"return_full_object": "maybe"}} {
		st, m := f.call(t, admin, "GET", "/key/list", "", q)
		errorOf(t, st, m, 400, "bad_request_error")
	}
}

func TestRegenerate(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  func(plain, hash string) (path, body string)
	}{
		{"body", func(p, _ string) (string, string) { return "/key/regenerate", `{"key":"` + p + `"}` }},
		{"path plaintext", func(p, _ string) (string, string) { return "/key/" + p + "/regenerate", `` }},
		{"path hash", func(_, h string) (string, string) { return "/key/" + h + "/regenerate", `{"grace_period":"1h"}` }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			plain, hash, _ := f.generate(t, `{"key_alias":"rot","max_budget":3,"rpm_limit":7,"spend":1.5,"metadata":{"a":"b"}}`)
			path, body := tc.req(plain, hash)
			m := f.ok200(t, admin, "POST", path, body, nil)
			newPlain, _ := m["key"].(string)
			newHash := auth.HashKey(newPlain)
			if newPlain == plain || !strings.HasPrefix(newPlain, "sk-") || m["token"] != newHash || m["token_id"] != newHash {
				t.Fatalf("regenerate answered %v", m)
			}
			if _, err := f.st.GetKey(ctx, hash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("old key still valid: %v", err)
			}
			k, err := f.st.GetKey(ctx, newHash)
			if err != nil {
				t.Fatal(err)
			}
			if k.KeyAlias != "rot" || *k.MaxBudget != 3_000_000 || *k.RPMLimit != 7 || k.Spend != 1_500_000 ||
				k.Metadata["a"] != "b" || k.KeyName != auth.MaskKey(newPlain) {
				t.Errorf("settings lost: %+v", k)
			}
			if !f.wasInvalidated(hash) {
				t.Error("old hash not invalidated")
			}
			st, e := f.call(t, admin, "POST", "/key/regenerate", `{"key":"`+hash+`"}`, nil)
			errorOf(t, st, e, 404, "not_found_error")
		})
	}

	f := newFixture(t)
	_, hash, _ := f.generate(t, `{"max_budget":1}`)
	custom := "sk-my-own-rotated-key-0123456789"
	m := f.ok200(t, admin, "POST", "/key/regenerate", `{"key":"`+hash+`","new_key":"`+custom+`","max_budget":2}`, nil)
	if m["key"] != custom || m["token"] != auth.HashKey(custom) || m["max_budget"] != 2.0 {
		t.Errorf("regenerate with new_key and update: %v", m)
	}
}

func TestBlockUnblock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	plain, hash, _ := f.generate(t, `{}`)
	for _, tc := range []struct {
		path string
		key  string
		want bool
	}{
		{"/key/block", plain, true},
		{"/key/block", hash, true}, // idempotent
		{"/key/unblock", hash, false},
		{"/key/unblock", plain, false},
	} {
		f.mu.Lock()
		f.invalidated = nil
		f.mu.Unlock()
		m := f.ok200(t, admin, "POST", tc.path, `{"key":"`+tc.key+`"}`, nil)
		k, err := f.st.GetKey(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		if m["blocked"] != tc.want || k.Blocked != tc.want || m["key"] != hash {
			t.Errorf("%s: response %v, stored %v", tc.path, m["blocked"], k.Blocked)
		}
		if !f.wasInvalidated(hash) {
			t.Errorf("%s did not invalidate", tc.path)
		}
	}
	st, m := f.call(t, admin, "POST", "/key/block", `{"key":"sk-unknown-key-00000000000"}`, nil)
	errorOf(t, st, m, 404, "not_found_error")
}

// TestPlaintextNeverStored reads every column of every key row and checks
// no plaintext key (nor its secret part) is anywhere in it.
func TestPlaintextNeverStored(t *testing.T) {
	f := newFixture(t)
	p1, _, _ := f.generate(t, `{"key_alias":"p"}`)
	p2, _, _ := f.generate(t, `{"key":"sk-bring-your-own-key-abcdef123456"}`)
	m := f.ok200(t, admin, "POST", "/key/regenerate", `{"key":"`+p1+`"}`, nil)
	p3 := m["key"].(string)

	rows, err := f.st.DB().Query("SELECT * FROM virtual_keys")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var dump strings.Builder
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			fmt.Fprintf(&dump, "%v|", v)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
	for _, p := range []string{p1, p2, p3} {
		secret := strings.TrimPrefix(p, "sk-")
		if strings.Contains(dump.String(), secret[:len(secret)-4]) {
			t.Errorf("plaintext %s… found in the stored rows", p[:8])
		}
	}
	if !strings.Contains(dump.String(), auth.HashKey(p3)) || !strings.Contains(dump.String(), auth.HashKey(p2)) {
		t.Error("rows do not hold the hashes (is the dump reading the right table?)")
	}
}
