package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/proxy"
	"github.com/switchboard-gw/switchboard/internal/router"
	"github.com/switchboard-gw/switchboard/internal/spend"
	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/store/sqlstore"
)

// ledger turns every routed request into one spend row, priced from the
// embedded table with the deployments' own cost overrides, and hands it to
// the durable writer (which batches, retries and spills; it never drops).
type ledger struct {
	w   *spend.Writer
	log *slog.Logger
}

// prices prices every deployment: the embedded price table, with the
// entries of $SWITCHBOARD_PRICE_FILE (LiteLLM's
// model_prices_and_context_window.json format) laid over it, and each
// deployment's input_cost_per_token / output_cost_per_token and
// model_info.max_output_tokens (or max_tokens) applied. Deployments the
// table does not know are left out and cost nothing.
func prices(cfg *config.Config, deps []router.Weighted, env func(string) (string, bool)) (map[string]spend.Price, error) {
	var ovs []spend.Override
	for i := range cfg.ModelList {
		m := &cfg.ModelList[i]
		p := &m.Params
		maxOut := m.Info.MaxOutputTokens
		if maxOut == nil {
			maxOut = m.Info.MaxTokens
		}
		if p.InputCostPerToken != nil || p.OutputCostPerToken != nil || p.CacheReadInputTokenCost != nil ||
			p.CacheCreationInputTokenCost != nil || p.InputCostPerSecond != nil || maxOut != nil {
			ovs = append(ovs, spend.Override{Provider: m.Provider, Model: m.UpstreamModel,
				InputCostPerToken: p.InputCostPerToken, OutputCostPerToken: p.OutputCostPerToken,
				CacheReadInputTokenCost: p.CacheReadInputTokenCost, CacheCreationInputTokenCost: p.CacheCreationInputTokenCost,
				InputCostPerSecond: p.InputCostPerSecond, MaxOutputTokens: maxOut})
		}
	}
	base := spend.Embedded()
	if path, _ := env("SWITCHBOARD_PRICE_FILE"); path != "" {
		var err error
		if base, err = spend.LoadFile(path); err != nil {
			return nil, err
		}
	}
	table, err := base.WithOverrides(ovs...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]spend.Price, len(deps))
	for _, w := range deps {
		if p, ok := table.Lookup(w.Deployment.Provider, w.Deployment.Model); ok {
			out[w.Deployment.ID] = p
		}
	}
	return out, nil
}

// spillDir is where the writer keeps rows the database could not take yet:
// $SWITCHBOARD_SPILL_DIR, else spend-spill/ beside an SQLite database file,
// else spend-spill/ in the working directory. It must be on a persistent
// volume: rows wait there until the database takes them.
func spillDir(env func(string) (string, bool), databaseURL string) string {
	if d, ok := env("SWITCHBOARD_SPILL_DIR"); ok && d != "" {
		return d
	}
	if driver, dsn, _, err := sqlstore.DriverFor(databaseURL); err == nil && driver == "sqlite" {
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "file:"), "sqlite:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		return filepath.Join(filepath.Dir(path), "spend-spill")
	}
	wd, err := os.Getwd()
	if err != nil {
		wd = "."
	}
	return filepath.Join(wd, "spend-spill")
}

var statuses = map[string]string{"ok": store.StatusOK, "error": store.StatusError, "truncated": store.StatusTruncated, "cancelled": store.StatusCancelled}

// Observe implements proxy.Observer.
func (l *ledger) Observe(o *proxy.Outcome) {
	d := o.Deployment
	if d == nil || l.w == nil {
		return // refused before any deployment was chosen: nothing was spent
	}
	row := store.SpendRow{
		RequestID:        o.RequestID,
		StartTime:        o.Start.UTC(),
		EndTime:          o.Start.Add(o.Duration).UTC(),
		EndUser:          o.EndUser,
		ModelGroup:       o.Model,
		Deployment:       d.ID,
		Provider:         d.Provider,
		PromptTokens:     o.Usage.PromptTokens,
		CompletionTokens: o.Usage.CompletionTokens,
		CachedTokens:     o.Usage.CachedTokens,
		LatencyMS:        o.Duration.Milliseconds(),
		TTFTMS:           o.FirstByte.Milliseconds(),
		Status:           statuses[o.Result],
	}
	row.Cost = o.Cost
	if p := o.Principal; p != nil && p.Key != nil {
		row.KeyHash, row.KeyAlias, row.TeamID, row.UserID = p.Key.TokenHash, p.Key.KeyAlias, p.Key.TeamID, p.Key.UserID
	}
	if len(o.Tags) > 0 {
		row.Tags = append([]string(nil), o.Tags...) // o.Tags points into pooled memory
	}
	l.w.Record(row)
}

// observers fans an outcome out to several observers.
type observers []proxy.Observer

func (os observers) Observe(o *proxy.Outcome) {
	for _, ob := range os {
		ob.Observe(o)
	}
}

// flushTimeout bounds how long shutdown waits for the ledger to reach the
// database before spilling the rest to disk.
const flushTimeout = 10 * time.Second
