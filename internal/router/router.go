// Package router maps a model name to the deployment that serves an attempt.
// This first version resolves exact group names and picks within a group by
// weight; strategies, retries, fallbacks and cooldowns build on it.
package router

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// ErrUnknownModel is returned for a model name no group serves.
var ErrUnknownModel = errors.New("unknown model")

// Group is the deployments sharing one model_name.
type Group struct {
	Name        string
	Deployments []*provider.Deployment
	weights     []float64 // cumulative; nil when all weights are equal
}

// Router holds the groups of one configuration. It is immutable once built,
// so lookups take no lock; a reload builds a new Router.
type Router struct {
	groups map[string]*Group
	names  []string
	health Health
}

// Weighted is a deployment with its routing weight (0 = default 1).
type Weighted struct {
	Deployment *provider.Deployment
	Weight     float64
}

// New builds a router from deployments in configuration order.
func New(deployments []Weighted) *Router {
	r := &Router{groups: map[string]*Group{}}
	raw := map[string][]float64{}
	for _, w := range deployments {
		name := w.Deployment.ModelName
		g := r.groups[name]
		if g == nil {
			g = &Group{Name: name}
			r.groups[name] = g
			r.names = append(r.names, name)
		}
		g.Deployments = append(g.Deployments, w.Deployment)
		weight := w.Weight
		if weight <= 0 {
			weight = 1
		}
		raw[name] = append(raw[name], weight)
	}
	for name, ws := range raw {
		equal := true
		for _, w := range ws {
			equal = equal && w == ws[0]
		}
		if equal {
			continue
		}
		cum := make([]float64, len(ws))
		total := 0.0
		for i, w := range ws {
			total += w
			cum[i] = total
		}
		r.groups[name].weights = cum
	}
	return r
}

// Group returns the group serving name, or nil.
func (r *Router) Group(name string) *Group { return r.groups[name] }

// Names lists the model group names in configuration order.
func (r *Router) Names() []string { return r.names }

// SetHealth installs the cooldown and health-check state selection
// consults (nil: every deployment is always usable). Call it before serving.
func (r *Router) SetHealth(h Health) { r.health = h }

// Resolve finds the group serving model.
func (r *Router) Resolve(model string) (*Group, error) {
	if g := r.groups[model]; g != nil {
		return g, nil
	}
	return nil, ErrUnknownModel
}

// Pick chooses the deployment for the next attempt of a request to g:
// a usable deployment not tried yet, else a usable one already tried, else
// a *NoDeploymentsError.
func (r *Router) Pick(g *Group, s *Selection) (*provider.Deployment, error) {
	n := len(g.Deployments)
	if n == 1 && len(s.Tried) == 0 && r.health == nil {
		return g.Deployments[0], nil
	}
	now := time.Now()
	var retryAt time.Time
	usable := func(d *provider.Deployment) bool {
		if r.health == nil {
			return true
		}
		ok, until := r.health.Usable(d, now)
		if !ok && !until.IsZero() && (retryAt.IsZero() || until.Before(retryAt)) {
			retryAt = until
		}
		return ok
	}
	if d := g.pick(func(d *provider.Deployment) bool { return usable(d) && !tried(s.Tried, d) }); d != nil {
		return d, nil
	}
	if d := g.pick(usable); d != nil {
		return d, nil
	}
	return nil, &NoDeploymentsError{Group: g.Name, RetryAt: retryAt, Reason: "cooling down or unhealthy"}
}

// Begin records that an attempt on d is being sent.
func (r *Router) Begin(d *provider.Deployment) {}

// End records the outcome of an attempt on d.
func (r *Router) End(g *Group, d *provider.Deployment, a Attempt) {
	if r.health != nil {
		r.health.Observe(g, d, a, time.Now())
	}
}

func tried(ds []*provider.Deployment, d *provider.Deployment) bool {
	for _, t := range ds {
		if t == d {
			return true
		}
	}
	return false
}

// pick draws among the deployments ok accepts, by weight; nil when none.
func (g *Group) pick(ok func(*provider.Deployment) bool) *provider.Deployment {
	total := 0.0
	for i, d := range g.Deployments {
		if ok(d) {
			total += g.weight(i)
		}
	}
	if total == 0 {
		return nil
	}
	x := rand.Float64() * total
	var last *provider.Deployment
	for i, d := range g.Deployments {
		if !ok(d) {
			continue
		}
		last = d
		if x -= g.weight(i); x < 0 {
			return d
		}
	}
	return last
}

func (g *Group) weight(i int) float64 {
	if g.weights == nil {
		return 1
	}
	if i == 0 {
		return g.weights[0]
	}
	return g.weights[i] - g.weights[i-1]
}
