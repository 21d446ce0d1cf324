package admin

import (
	"context"
	"maps"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// spendLogView is one ledger row under LiteLLM_SpendLogs' field names.
type spendLogView struct {
	RequestID         string         `json:"request_id"`
	APIKey            string         `json:"api_key"` // the hash
	Spend             float64        `json:"spend"`
	TotalTokens       int64          `json:"total_tokens"`
	PromptTokens      int64          `json:"prompt_tokens"`
	CompletionTokens  int64          `json:"completion_tokens"`
	StartTime         time.Time      `json:"startTime"`
	EndTime           time.Time      `json:"endTime"`
	CompletionStart   *time.Time     `json:"completionStartTime"`
	RequestDurationMS int64          `json:"request_duration_ms"`
	Model             string         `json:"model"`
	ModelGroup        string         `json:"model_group"`
	Provider          string         `json:"custom_llm_provider"`
	User              string         `json:"user"`
	TeamID            string         `json:"team_id"`
	EndUser           string         `json:"end_user"`
	Metadata          map[string]any `json:"metadata"`
	RequestTags       []string       `json:"request_tags"`
	Status            string         `json:"status"` // "success" or "failure", as LiteLLM
	// Switchboard's finer status: ok, error, truncated or cancelled.
	SwitchboardStatus string `json:"switchboard_status"`
	CachedTokens      int64  `json:"cache_read_input_tokens"`
}

func viewSpend(s *store.SpendRow) spendLogView {
	v := spendLogView{
		RequestID:         s.RequestID,
		APIKey:            s.KeyHash,
		Spend:             microsToUSD(s.Cost),
		TotalTokens:       s.PromptTokens + s.CompletionTokens,
		PromptTokens:      s.PromptTokens,
		CompletionTokens:  s.CompletionTokens,
		StartTime:         s.StartTime.UTC(),
		EndTime:           s.EndTime.UTC(),
		RequestDurationMS: s.LatencyMS,
		Model:             s.Deployment,
		ModelGroup:        s.ModelGroup,
		Provider:          s.Provider,
		User:              s.UserID,
		TeamID:            s.TeamID,
		EndUser:           s.EndUser,
		Metadata:          orEmptyMap(s.Metadata),
		RequestTags:       orEmpty(s.Tags),
		Status:            "success",
		SwitchboardStatus: s.Status,
		CachedTokens:      s.CachedTokens,
	}
	if v.Model == "" {
		v.Model = s.ModelGroup
	}
	if s.Status != store.StatusOK {
		v.Status = "failure"
	}
	if s.TTFTMS > 0 {
		t := v.StartTime.Add(time.Duration(s.TTFTMS) * time.Millisecond)
		v.CompletionStart = &t
	}
	if s.KeyAlias != "" {
		// LiteLLM keeps the key alias in the row's metadata.
		v.Metadata = maps.Clone(v.Metadata)
		v.Metadata["user_api_key_alias"] = s.KeyAlias
	}
	return v
}

// spendLogs serves GET /spend/logs: ledger rows, newest first, as a JSON
// array. Filters: api_key (plaintext or hash), user_id, team_id, end_user,
// model (the model group), tag, request_id, start_date, end_date; page and
// size (default 1000). A virtual key sees only its own rows.
func (a *API) spendLogs(ctx context.Context, r *Request) (any, error) {
	f := store.SpendFilter{
		TeamID: query(r, "team_id"), UserID: query(r, "user_id"), EndUser: query(r, "end_user"),
		Model: query(r, "model"), Tag: query(r, "tag"),
	}
	if k := query(r, "api_key"); k != "" {
		f.KeyHash = keyID(k)
	}
	if !r.Caller.Admin {
		if r.Caller.KeyHash == "" || (f.KeyHash != "" && f.KeyHash != r.Caller.KeyHash) {
			return nil, forbidden("a virtual key may only read its own spend logs")
		}
		f.KeyHash = r.Caller.KeyHash
	}
	var err error
	if f.From, err = dateBound(r, "start_date", false); err != nil {
		return nil, err
	}
	if f.To, err = dateBound(r, "end_date", true); err != nil {
		return nil, err
	}
	if f.Page, f.Size, err = paging(r, store.MaxPageSize, "size", "page_size"); err != nil {
		return nil, err
	}
	out := []spendLogView{}
	f.RequestID = query(r, "request_id")
	rows, _, err := a.spend.ListSpend(ctx, f)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		out = append(out, viewSpend(&rows[i]))
	}
	return out, nil
}

// reportGroup maps group_by to the aggregate kind, the field naming the
// list in each day and the field naming the group in each entry. team and
// customer follow LiteLLM's report ("teams"/"team_name",
// "customers"/"customer"); the others follow the same pattern.
func reportGroup(by string) (entity, list, id string, ok bool) {
	switch by {
	case "team":
		return store.EntityTeam, "teams", "team_name", true
	case "customer", "end_user":
		return store.EntityEndUser, "customers", "customer", true
	case "api_key", "key":
		return store.EntityKey, "api_keys", "api_key", true
	case "model":
		return store.EntityModel, "models", "model", true
	case "user":
		return store.EntityUser, "users", "user_id", true
	case "tag":
		return store.EntityTag, "tags", "tag", true
	}
	return "", "", "", false
}

// spendReport serves GET /global/spend/report?start_date=&end_date=&group_by=
// (team by default): one entry per UTC day, oldest first, each listing the
// groups' totals for that day:
//
//	[{"group_by_day": "2026-03-10", "teams": [{"team_name": "t1", "total_spend": 1.5, ...}]}]
func (a *API) spendReport(ctx context.Context, r *Request) (any, error) {
	by := query(r, "group_by")
	if by == "" {
		by = "team"
	}
	entity, list, idField, ok := reportGroup(by)
	if !ok {
		return nil, badRequest("group_by", "group_by must be one of team, customer, api_key, model, user, tag; got %q", by)
	}
	f := store.ReportFilter{GroupBy: entity}
	var err error
	if f.From, err = dateBound(r, "start_date", false); err != nil {
		return nil, err
	}
	if f.To, err = dateBound(r, "end_date", true); err != nil {
		return nil, err
	}
	if !f.To.IsZero() {
		// The store's To is an inclusive date; dateBound's is exclusive.
		f.To = f.To.Add(-time.Microsecond)
	}
	rows, err := a.spend.SpendReport(ctx, f)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	var day string
	var groups []map[string]any
	flush := func() {
		if day != "" {
			out = append(out, map[string]any{"group_by_day": day, list: groups})
		}
	}
	for _, row := range rows {
		d := row.Day.UTC().Format(time.DateOnly)
		if d != day {
			flush()
			day, groups = d, nil
		}
		groups = append(groups, map[string]any{
			idField:             row.GroupID,
			"total_spend":       microsToUSD(row.Spend),
			"prompt_tokens":     row.PromptTokens,
			"completion_tokens": row.CompletionTokens,
			"total_tokens":      row.PromptTokens + row.CompletionTokens,
			"api_requests":      row.Requests,
			"failed_requests":   row.FailedRequests,
			"metadata":          []any{},
		})
	}
	flush()
	return out, nil
}
