package admin

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// seedSpend inserts a small ledger: two keys over two days and two models.
func seedSpend(t *testing.T, f *fixture) (plainA, hashA, hashB string) {
	t.Helper()
	plainA, hashA, _ = f.generate(t, `{"team_id":"t1","key_alias":"ka"}`)
	_, hashB, _ = f.generate(t, `{"team_id":"t2"}`)
	d1 := time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)
	d2 := time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)
	row := func(id string, at time.Time, key, team, model, endUser string, cost int64, status string, tags ...string) store.SpendRow {
		return store.SpendRow{RequestID: id, StartTime: at, EndTime: at.Add(time.Second), KeyHash: key, TeamID: team,
			UserID: "u-" + team, EndUser: endUser, ModelGroup: model, Deployment: model + "-2024", Provider: "openai",
			PromptTokens: 10, CompletionTokens: 5, Cost: cost, LatencyMS: 1000, TTFTMS: 200, Status: status, Tags: tags,
			Metadata: map[string]any{"k": "v"}}
	}
	alias := func(r store.SpendRow) store.SpendRow { r.KeyAlias = "ka"; return r }
	rows := []store.SpendRow{
		alias(row("r1", d1, hashA, "t1", "gpt-4o", "cust1", 100_000, store.StatusOK, "prod")),
		alias(row("r2", d2, hashA, "t1", "gpt-4o", "", 250_000, store.StatusOK)),
		alias(row("r3", d2.Add(time.Minute), hashA, "t1", "claude", "cust1", 50_000, store.StatusError, "prod")),
		row("r4", d2.Add(2*time.Minute), hashB, "t2", "gpt-4o", "cust2", 1_000_000, store.StatusOK),
	}
	if n, err := f.st.InsertSpend(context.Background(), rows); err != nil || n != len(rows) {
		t.Fatalf("InsertSpend = %d, %v", n, err)
	}
	return plainA, hashA, hashB
}

func requestIDs(rows []any) string {
	var ids []any
	for _, r := range rows {
		ids = append(ids, r.(map[string]any)["request_id"])
	}
	return fmt.Sprint(ids)
}

func TestSpendLogs(t *testing.T) {
	f := newFixture(t)
	plainA, hashA, hashB := seedSpend(t, f)

	rows := f.callList(t, admin, "GET", "/spend/logs", nil)
	if got := requestIDs(rows); got != "[r4 r3 r2 r1]" {
		t.Errorf("all rows = %s", got)
	}
	r1 := rows[3].(map[string]any)
	for field, want := range map[string]any{
		"request_id": "r1", "api_key": hashA, "spend": 0.1, "total_tokens": 15.0, "prompt_tokens": 10.0,
		"completion_tokens": 5.0, "startTime": "2026-03-09T10:00:00Z", "endTime": "2026-03-09T10:00:01Z",
		"completionStartTime": "2026-03-09T10:00:00.2Z", "model": "gpt-4o-2024", "model_group": "gpt-4o",
		"user": "u-t1", "team_id": "t1", "end_user": "cust1", "status": "success", "request_duration_ms": 1000.0,
	} {
		if r1[field] != want {
			t.Errorf("r1 %s = %v, want %v", field, r1[field], want)
		}
	}
	if md := r1["metadata"].(map[string]any); md["k"] != "v" || md["user_api_key_alias"] != "ka" {
		t.Errorf("r1 metadata = %v", md)
	}
	if fmt.Sprint(r1["request_tags"]) != "[prod]" || rows[1].(map[string]any)["status"] != "failure" {
		t.Errorf("tags %v, r3 status %v", r1["request_tags"], rows[1].(map[string]any)["status"])
	}

	for _, tc := range []struct {
		name  string
		query map[string]string
		want  string
	}{
		{"by key plaintext", map[string]string{"api_key": plainA}, "[r3 r2 r1]"},
		{"by key hash", map[string]string{"api_key": hashB}, "[r4]"},
		{"by team", map[string]string{"team_id": "t2"}, "[r4]"},
		{"by user", map[string]string{"user_id": "u-t1"}, "[r3 r2 r1]"},
		{"by end user", map[string]string{"end_user": "cust1"}, "[r3 r1]"},
		{"by model", map[string]string{"model": "claude"}, "[r3]"},
		{"by tag", map[string]string{"tag": "prod"}, "[r3 r1]"},
		{"by request id", map[string]string{"request_id": "r2"}, "[r2]"},
		{"unknown request id", map[string]string{"request_id": "zz"}, "[]"},
		{"one day", map[string]string{"start_date": "2026-03-09", "end_date": "2026-03-09"}, "[r1]"},
		{"from a day", map[string]string{"start_date": "2026-03-10"}, "[r4 r3 r2]"},
		{"rfc3339 range", map[string]string{"start_date": "2026-03-10T11:00:00Z", "end_date": "2026-03-10T11:01:00Z"}, "[r3 r2]"},
		{"paged", map[string]string{"size": "2", "page": "2"}, "[r2 r1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := requestIDs(f.callList(t, admin, "GET", "/spend/logs", tc.query)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}

	// A virtual key sees only its own rows, whatever it asks for.
	self := Caller{KeyHash: hashA}
	if got := requestIDs(f.callList(t, self, "GET", "/spend/logs", nil)); got != "[r3 r2 r1]" {
		t.Errorf("key A sees %s", got)
	}
	if got := requestIDs(f.callList(t, self, "GET", "/spend/logs", map[string]string{"team_id": "t2"})); got != "[]" {
		t.Errorf("key A asking for team t2 sees %s", got)
	}
	if got := requestIDs(f.callList(t, self, "GET", "/spend/logs", map[string]string{"api_key": plainA, "model": "gpt-4o"})); got != "[r2 r1]" {
		t.Errorf("key A by own key and model sees %s", got)
	}
	st, m := f.call(t, self, "GET", "/spend/logs", "", map[string]string{"api_key": hashB})
	errorOf(t, st, m, 403, "auth_error")
	st, m = f.call(t, Caller{}, "GET", "/spend/logs", "", nil)
	errorOf(t, st, m, 403, "auth_error")

	for _, q := range []map[string]string{{"start_date": "yesterday"}, {"end_date": "2026-13-01"}, {"page": "0"}} {
		st, m := f.call(t, admin, "GET", "/spend/logs", "", q)
		errorOf(t, st, m, 400, "bad_request_error")
	}
}

func TestSpendReport(t *testing.T) {
	f := newFixture(t)
	_, hashA, hashB := seedSpend(t, f)

	report := func(q map[string]string) string {
		t.Helper()
		var b []string
		for _, d := range f.callList(t, admin, "GET", "/global/spend/report", q) {
			day := d.(map[string]any)
			for list, v := range day {
				if list == "group_by_day" {
					continue
				}
				for _, g := range v.([]any) {
					e := g.(map[string]any)
					var id any
					for _, k := range []string{"model", "api_key", "team_name", "customer", "tag", "user_id"} {
						if e[k] != nil {
							id = e[k]
						}
					}
					b = append(b, fmt.Sprintf("%s/%s/%v=%v:%v:%v:%v", day["group_by_day"], list, id, e["total_spend"],
						e["total_tokens"], e["api_requests"], e["failed_requests"]))
				}
			}
		}
		return fmt.Sprint(b)
	}

	got := report(map[string]string{"group_by": "model"})
	want := "[2026-03-09/models/gpt-4o=0.1:15:1:0 2026-03-10/models/claude=0.05:15:1:1 2026-03-10/models/gpt-4o=1.25:30:2:0]"
	if got != want {
		t.Errorf("by model:\n got %s\nwant %s", got, want)
	}
	got = report(map[string]string{"group_by": "api_key", "start_date": "2026-03-10", "end_date": "2026-03-10"})
	a, b := fmt.Sprintf("2026-03-10/api_keys/%s=0.3:30:2:1", hashA), fmt.Sprintf("2026-03-10/api_keys/%s=1:15:1:0", hashB)
	if hashA > hashB {
		a, b = b, a
	}
	if want := "[" + a + " " + b + "]"; got != want {
		t.Errorf("by key on the 10th:\n got %s\nwant %s", got, want)
	}
	if got := report(map[string]string{"start_date": "2026-03-09", "end_date": "2026-03-09"}); got != "[2026-03-09/teams/t1=0.1:15:1:0]" {
		t.Errorf("by team (default) = %s", got)
	}
	if got := report(map[string]string{"group_by": "customer", "end_date": "2026-03-09"}); got != "[2026-03-09/customers/cust1=0.1:15:1:0]" {
		t.Errorf("by customer = %s", got)
	}
	if got := report(map[string]string{"group_by": "tag"}); got != "[2026-03-09/tags/prod=0.1:15:1:0 2026-03-10/tags/prod=0.05:15:1:1]" {
		t.Errorf("by tag = %s", got)
	}
	if got := report(map[string]string{"group_by": "model", "start_date": "2027-01-01"}); got != "[]" {
		t.Errorf("empty range = %s", got)
	}
	st, m := f.call(t, admin, "GET", "/global/spend/report", "", map[string]string{"group_by": "planet"})
	if errorOf(t, st, m, 400, "bad_request_error")["param"] != "group_by" {
		t.Errorf("bad group_by: %v", m)
	}
}
