package router

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// A wildcard model_name ("openai/*", "*") serves every requested name it
// matches. The first request for a name makes that name's group: one
// deployment per deployment of the wildcard, whose upstream model is the
// wildcard's litellm_params.model with its "*" replaced by what the name
// matched. The group is kept, so later requests find it with one map
// lookup, and the number kept is bounded so that clients inventing names
// cannot grow memory without limit.

type pattern struct {
	name     string
	parts    []string // name split at each "*"
	template *Group
}

type wildcards struct {
	patterns []*pattern // most specific first
	prepare  func(*provider.Deployment, string) (*provider.Deployment, error)
	max      int

	mu     sync.RWMutex
	groups map[string]*Group
}

func newWildcards(ps []*pattern, prepare func(*provider.Deployment, string) (*provider.Deployment, error), maxGroups int) *wildcards {
	// LiteLLM tries the most specific pattern first: the longest literal
	// text, then the fewest wildcards; configuration order breaks ties.
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := len(ps[i].name)-len(ps[i].parts)+1, len(ps[j].name)-len(ps[j].parts)+1
		if li != lj {
			return li > lj
		}
		return len(ps[i].parts) < len(ps[j].parts)
	})
	if prepare == nil {
		prepare = func(t *provider.Deployment, model string) (*provider.Deployment, error) {
			d := *t
			d.Model = model
			return &d, nil
		}
	}
	if maxGroups <= 0 {
		maxGroups = 1000
	}
	return &wildcards{patterns: ps, prepare: prepare, max: maxGroups, groups: map[string]*Group{}}
}

func (w *wildcards) resolve(r *Router, model string) (*Group, error) {
	if model == "" {
		return nil, ErrUnknownModel
	}
	w.mu.RLock()
	g := w.groups[model]
	w.mu.RUnlock()
	if g != nil {
		return g, nil
	}
	for _, p := range w.patterns {
		if caps, ok := p.match(model); ok {
			return w.create(r, p, model, caps)
		}
	}
	return nil, ErrUnknownModel
}

func (w *wildcards) create(r *Router, p *pattern, model string, caps []string) (*Group, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if g := w.groups[model]; g != nil {
		return g, nil
	}
	ms := make([]*member, len(p.template.members))
	for i, t := range p.template.members {
		d, err := w.prepare(t.d, substitute(t.d.Model, caps))
		if err != nil {
			return nil, fmt.Errorf("%w: %s (matched %s): %v", ErrUnknownModel, model, p.name, err)
		}
		if d.ID == t.d.ID {
			// Its own id, so that a cooldown of this model (say, one the
			// provider does not have) does not cool the whole wildcard.
			d.ID = t.d.ID + ":" + model
		}
		d.ModelName = model
		ms[i] = t.clone(d)
	}
	if len(w.groups) >= w.max {
		for name, old := range w.groups {
			delete(w.groups, name)
			for _, d := range old.Deployments {
				r.dynamic.Delete(d)
			}
			break
		}
	}
	g := r.newGroup(model, ms)
	w.groups[model] = g
	for _, m := range ms {
		r.dynamic.Store(m.d, m)
	}
	return g, nil
}

// clone is the member of a wildcard group made from t, the wildcard's
// member: the same settings, and the same rpm/tpm counters (the wildcard
// deployment's limits cover every model it serves), with statistics of
// its own.
func (t *member) clone(d *provider.Deployment) *member {
	m := &member{
		d: d, weight: t.weight, rpm: t.rpm, tpm: t.tpm, parallel: t.parallel,
		ordered: t.ordered, order: t.order, tags: t.tags, isDefault: t.isDefault,
		maxInput: t.maxInput, price: t.price, priced: t.priced, counted: t.counted,
		rpmKey: t.rpmKey, tpmKey: t.tpmKey,
	}
	if t.lat != nil {
		m.lat, m.ttft = newLatencies(len(t.lat.at)), newLatencies(len(t.ttft.at))
	}
	return m
}

// match matches name against the pattern, where each "*" stands for any
// run of characters ("/" included), and returns what each "*" matched.
func (p *pattern) match(name string) ([]string, bool) {
	parts := p.parts
	if !strings.HasPrefix(name, parts[0]) {
		return nil, false
	}
	rest := name[len(parts[0]):]
	caps := make([]string, 0, len(parts)-1)
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, mid)
		if i < 0 {
			return nil, false
		}
		caps = append(caps, rest[:i])
		rest = rest[i+len(mid):]
	}
	last := parts[len(parts)-1]
	if !strings.HasSuffix(rest, last) || len(rest) < len(last) {
		return nil, false
	}
	return append(caps, rest[:len(rest)-len(last)]), true
}

// substitute replaces each "*" of model with the next capture, as LiteLLM
// does; a model without "*" is used as it is.
func substitute(model string, caps []string) string {
	if !strings.Contains(model, "*") {
		return model
	}
	var b strings.Builder
	for i, part := range strings.Split(model, "*") {
		if i > 0 && i-1 < len(caps) {
			b.WriteString(caps[i-1])
		}
		b.WriteString(part)
	}
	return b.String()
}
