package app

import (
	"log/slog"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
	"github.com/switchboard-gw/switchboard/internal/spend"
)

// weighted is a deployment with the routing settings of its model_list
// entry.
func weighted(d *provider.Deployment, m *config.ModelEntry) router.Weighted {
	p := &m.Params
	w := router.Weighted{Deployment: d, Order: p.Order, Tags: p.Tags}
	if p.Weight != nil {
		w.Weight = *p.Weight
	}
	if p.RPM != nil {
		w.RPM = *p.RPM
	}
	if p.TPM != nil {
		w.TPM = *p.TPM
	}
	if p.MaxParallelRequests != nil {
		w.MaxParallelRequests = *p.MaxParallelRequests
	}
	if m.Info.MaxInputTokens != nil {
		w.MaxInputTokens = *m.Info.MaxInputTokens
	}
	return w
}

// priceDeployments gives cost-based routing each deployment's price per
// token, input plus output, as the ledger prices it.
func priceDeployments(deps []router.Weighted, prices map[string]spend.Price) []router.Weighted {
	for i := range deps {
		if p, ok := prices[deps[i].Deployment.ID]; ok {
			deps[i].Price, deps[i].Priced = int64(p.Input+p.Output), true
		}
	}
	return deps
}

// routerOptions are the router_settings selection acts on. The rpm/tpm of
// deployments are counted in the same store as the keys' limits: in
// memory, or in Redis so that every replica counts against one limit.
func routerOptions(cfg *config.Config, counters counter.Store, replicas func() int,
	wildcard func(*provider.Deployment, string) (*provider.Deployment, error), log *slog.Logger) router.Options {
	rs := &cfg.RouterSettings
	o := router.Options{
		RoutingStrategy:      rs.RoutingStrategy,
		RoutingStrategyArgs:  rs.RoutingStrategyArgs,
		EnableTagFiltering:   rs.EnableTagFiltering != nil && *rs.EnableTagFiltering,
		TagFilteringMatchAny: rs.TagFilteringMatchAny,
		EnablePreCallChecks:  rs.EnablePreCallChecks != nil && *rs.EnablePreCallChecks,
		Counters:             counters,
		Replicas:             replicas,
		Prepare:              wildcard,
		Log:                  log,
	}
	if rs.DefaultMaxParallelRequests != nil {
		o.DefaultMaxParallelRequests = *rs.DefaultMaxParallelRequests
	}
	if len(rs.ModelGroupAlias) > 0 {
		o.ModelGroupAlias = make(map[string]router.Alias, len(rs.ModelGroupAlias))
		for name, a := range rs.ModelGroupAlias {
			o.ModelGroupAlias[name] = router.Alias{Model: a.Model, Hidden: a.Hidden}
		}
	}
	return o
}
