package app

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/router"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// The router gets each deployment's routing settings and router_settings
// from the config, and wildcard entries are prepared per requested model
// by the same provider code as configured deployments.
func TestRoutingFromConfig(t *testing.T) {
	src := `
model_list:
  - model_name: fast
    litellm_params: {model: mock/a, rpm: 2, order: 1, tags: [paid]}
    model_info: {id: a, max_input_tokens: 1000}
  - model_name: fast
    litellm_params: {model: mock/b, order: 2, tags: [default], max_parallel_requests: 3}
    model_info: {id: b}
  - model_name: "openai/*"
    litellm_params: {model: "openai/*", api_key: sk-test-wildcard}
  - model_name: "*"
    litellm_params: {model: "*"}
router_settings:
  routing_strategy: least-busy
  routing_strategy_args: {ttl: 30}
  enable_tag_filtering: true
  enable_pre_call_checks: true
  model_group_alias: {quick: fast, secret: {model: fast, hidden: true}}
`
	env := map[string]string{"ANTHROPIC_API_KEY": "sk-ant-test"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, _, err := config.Parse("config.yaml", []byte(src), t.TempDir(), lookup)
	if err != nil {
		t.Fatal(err)
	}
	client := upstream.New(upstream.Options{})
	defer client.Close()
	deps, wildcard, err := deployments(cfg, client, lookup, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if w := deps[0]; w.RPM != 2 || *w.Order != 1 || w.Tags[0] != "paid" || w.MaxInputTokens != 1000 {
		t.Errorf("deployment a: %+v", w)
	}
	if w := deps[1]; w.MaxParallelRequests != 3 || *w.Order != 2 {
		t.Errorf("deployment b: %+v", w)
	}
	rt, err := router.NewWith(deps, routerOptions(cfg, counter.NewMemory(nil), func() int { return 1 }, wildcard, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := rt.Models(); len(got) != 4 || got[3] != "quick" {
		t.Errorf("Models() = %q, want the groups and the visible alias", got)
	}
	g, err := rt.Resolve("quick")
	if err != nil || g.Name != "fast" {
		t.Fatalf("alias: %v, %v", g, err)
	}
	// Tags: a paid request goes to a (tier 1) until its rpm of 2 is used.
	for range 2 {
		if d, err := rt.Pick(g, &router.Selection{Tags: []string{"paid"}}); err != nil || d.ID != "a" {
			t.Fatalf("paid request: %v, %v", d, err)
		}
	}
	var nd *router.NoDeploymentsError
	if _, err := rt.Pick(g, &router.Selection{Tags: []string{"paid"}}); !errors.As(err, &nd) || nd.Reason != router.ReasonAtCapacity {
		t.Errorf("third paid request in a minute: %v, want at capacity", err)
	}
	if d, err := rt.Pick(g, &router.Selection{}); err != nil || d.ID != "b" {
		t.Errorf("untagged request: %v, %v; want the default deployment", d, err)
	}

	// Wildcards: "openai/*" keeps its key; "*" finds the provider from the name.
	w, err := rt.Resolve("openai/gpt-4.1-mini")
	if err != nil {
		t.Fatal(err)
	}
	d := w.Deployments[0]
	if d.Provider != "openai" || d.Model != "gpt-4.1-mini" || d.APIKey.Reveal() != "sk-test-wildcard" || d.Impl == nil || d.Private == nil {
		t.Errorf("openai/* deployment: %+v", d)
	}
	w, err = rt.Resolve("anthropic/claude-sonnet-4-20250514")
	if err != nil {
		t.Fatal(err)
	}
	if d := w.Deployments[0]; d.Provider != "anthropic" || d.Model != "claude-sonnet-4-20250514" || d.APIKey.Reveal() != "sk-ant-test" || d.Impl.Name() != "anthropic" {
		t.Errorf("* deployment: %+v", d)
	}
	if _, err := rt.Resolve("no-such-provider/x"); !errors.Is(err, router.ErrUnknownModel) {
		t.Errorf("unknown provider through *: %v", err)
	}
	if d, err := rt.Pick(w, &router.Selection{}); err != nil || d != w.Deployments[0] {
		t.Errorf("Pick in a wildcard group: %v, %v", d, err)
	}
}
