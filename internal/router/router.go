// Package router maps a model name to the deployment that serves an attempt.
// This first version resolves exact group names and picks within a group by
// weight; strategies, retries, fallbacks and cooldowns build on it.
package router

import (
	"errors"
	"math/rand/v2"
	"sort"

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

// Pick chooses the deployment for one attempt of a request for name.
func (r *Router) Pick(name string) (*provider.Deployment, error) {
	g := r.groups[name]
	if g == nil {
		return nil, ErrUnknownModel
	}
	return g.pick(), nil
}

func (g *Group) pick() *provider.Deployment {
	n := len(g.Deployments)
	if n == 1 {
		return g.Deployments[0]
	}
	if g.weights == nil {
		return g.Deployments[rand.IntN(n)]
	}
	x := rand.Float64() * g.weights[n-1]
	return g.Deployments[sort.SearchFloat64s(g.weights, x)]
}
