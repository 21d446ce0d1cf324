package store

import "time"

// Spend row statuses.
const (
	StatusOK        = "ok"
	StatusError     = "error"
	StatusTruncated = "truncated"
	StatusCancelled = "cancelled"
)

// SpendRow is one request in the ledger, keyed by RequestID.
type SpendRow struct {
	RequestID string
	StartTime time.Time
	EndTime   time.Time

	KeyHash    string
	KeyAlias   string
	TeamID     string
	UserID     string
	EndUser    string
	ModelGroup string
	Deployment string
	Provider   string

	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	Cost             int64 // micro-USD
	LatencyMS        int64
	TTFTMS           int64
	Status           string // StatusOK, StatusError, StatusTruncated, StatusCancelled

	Tags     []string
	Metadata map[string]any
}

// Entity types of the daily aggregates, also the ReportFilter.GroupBy values.
const (
	EntityKey     = "key"
	EntityTeam    = "team"
	EntityUser    = "user"
	EntityEndUser = "end_user"
	EntityModel   = "model"
	EntityTag     = "tag"
)

// SpendFilter selects ledger rows; empty fields match everything. From is
// inclusive and To exclusive, both on StartTime; zero means unbounded.
type SpendFilter struct {
	RequestID string
	KeyHash   string
	TeamID    string
	UserID    string
	EndUser   string
	Model     string // model group
	Tag       string
	From      time.Time
	To        time.Time
	Page      int
	Size      int
}

// ReportFilter selects daily aggregates. Days are UTC dates; the report
// covers the dates of From through To inclusive (zero = unbounded), which
// is how LiteLLM's start_date/end_date behave.
type ReportFilter struct {
	GroupBy string // one of the Entity* constants
	From    time.Time
	To      time.Time
}

// ReportRow is one entity's totals for one UTC day. A request counts as
// failed when its status is anything but StatusOK.
type ReportRow struct {
	Day              time.Time // UTC midnight
	GroupID          string
	Spend            int64
	PromptTokens     int64
	CompletionTokens int64
	Requests         int64
	FailedRequests   int64
}
