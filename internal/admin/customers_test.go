package admin

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/store"
)

func TestCustomers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	m := f.ok200(t, admin, "POST", "/customer/new", `{"user_id":"c1","alias":"Acme","max_budget":2.5,"budget_duration":"1mo",
		"rpm_limit":10,"tpm_limit":1000,"allowed_model_region":"eu","default_model":"gpt-4o"}`, nil)
	bt, _ := m["litellm_budget_table"].(map[string]any)
	if m["user_id"] != "c1" || m["alias"] != "Acme" || m["allowed_model_region"] != "eu" || m["default_model"] != "gpt-4o" ||
		m["blocked"] != false || bt["max_budget"] != 2.5 || bt["rpm_limit"] != 10.0 || bt["budget_duration"] != "1mo" {
		t.Errorf("customer/new = %v", m)
	}
	m = f.ok200(t, admin, "POST", "/end_user/new", `{"user_id":"c2"}`, nil)
	if v, ok := m["litellm_budget_table"]; !ok || v != nil {
		t.Errorf("customer without budget: %v", m)
	}
	st, e := f.call(t, admin, "POST", "/customer/new", `{"user_id":"c1"}`, nil)
	errorOf(t, st, e, 400, "bad_request_error")
	for _, body := range []string{`{}`, `{"user_id":"c3","allowed_model_region":"mars"}`, `{"user_id":"c3","max_budget":"1"}`} {
		st, e := f.call(t, admin, "POST", "/customer/new", body, nil)
		errorOf(t, st, e, 400, "bad_request_error")
	}

	m = f.ok200(t, admin, "POST", "/customer/update", `{"user_id":"c1","max_budget":null,"alias":"Acme Inc"}`, nil)
	bt, _ = m["litellm_budget_table"].(map[string]any)
	if m["alias"] != "Acme Inc" || bt["max_budget"] != nil || bt["rpm_limit"] != 10.0 {
		t.Errorf("customer/update = %v", m)
	}
	st, e = f.call(t, admin, "POST", "/customer/update", `{"user_id":"ghost","alias":"x"}`, nil)
	errorOf(t, st, e, 404, "not_found_error")

	for _, p := range []string{"/customer/info", "/end_user/info"} {
		if m := f.ok200(t, admin, "GET", p, "", map[string]string{"end_user_id": "c1"}); m["alias"] != "Acme Inc" {
			t.Errorf("%s = %v", p, m)
		}
	}
	st, e = f.call(t, admin, "GET", "/customer/info", "", map[string]string{"end_user_id": "ghost"})
	errorOf(t, st, e, 404, "not_found_error")
	st, e = f.call(t, admin, "GET", "/customer/info", "", nil)
	errorOf(t, st, e, 400, "bad_request_error")

	// Block: known and never-seen customers; unblock.
	m = f.ok200(t, admin, "POST", "/customer/block", `{"user_ids":["c1","new-one"]}`, nil)
	if fmt.Sprint(m["blocked_users"]) != "[c1 new-one]" {
		t.Errorf("customer/block = %v", m)
	}
	for _, id := range []string{"c1", "new-one"} {
		if c, err := f.st.GetCustomer(ctx, id); err != nil || !c.Blocked {
			t.Errorf("%s after block = %+v, %v", id, c, err)
		}
	}
	if c, _ := f.st.GetCustomer(ctx, "c1"); c.Alias != "Acme Inc" || c.RPMLimit == nil {
		t.Errorf("block changed other fields: %+v", c)
	}
	if l := f.callList(t, admin, "GET", "/customer/list", map[string]string{"blocked": "true"}); len(l) != 2 {
		t.Errorf("blocked list = %v", l)
	}
	f.ok200(t, admin, "POST", "/end_user/unblock", `{"user_ids":["c1","ghost"]}`, nil)
	if c, _ := f.st.GetCustomer(ctx, "c1"); c.Blocked {
		t.Error("c1 still blocked")
	}
	if _, err := f.st.GetCustomer(ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unblock created a customer: %v", err)
	}
	if l := f.callList(t, admin, "GET", "/customer/list", nil); len(l) != 3 {
		t.Errorf("customer/list = %v", l)
	}

	m = f.ok200(t, admin, "POST", "/customer/delete", `{"user_ids":["c2","ghost"]}`, nil)
	if fmt.Sprint(m["deleted_customers"]) != "[c2]" {
		t.Errorf("customer/delete = %v", m)
	}
	st, e = f.call(t, admin, "POST", "/customer/delete", `{"user_ids":["c2"]}`, nil)
	errorOf(t, st, e, 404, "not_found_error")
}
