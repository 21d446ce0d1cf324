package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
	"github.com/switchboard-gw/switchboard/internal/spend"
)

// A price file replaces the embedded entry for its models, and a
// deployment's own cost and output-limit overrides win over both.
func TestPrices(t *testing.T) {
	file := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(file, []byte(`{"gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "max_output_tokens": 100}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	in := 3e-06
	maxOut := int64(50)
	cfg := &config.Config{ModelList: []config.ModelEntry{
		{Provider: "openai", UpstreamModel: "gpt-4o-mini", Params: config.LiteLLMParams{InputCostPerToken: &in}, Info: config.ModelInfo{MaxOutputTokens: &maxOut}},
	}}
	deps := []router.Weighted{
		{Deployment: &provider.Deployment{ID: "a", Provider: "openai", Model: "gpt-4o"}},
		{Deployment: &provider.Deployment{ID: "b", Provider: "openai", Model: "gpt-4o-mini"}},
		{Deployment: &provider.Deployment{ID: "c", Provider: "openai", Model: "no-such-model"}},
	}
	env := func(name string) (string, bool) { return file, name == "SWITCHBOARD_PRICE_FILE" }
	got, err := prices(cfg, deps, env)
	if err != nil {
		t.Fatal(err)
	}
	if p := got["a"]; p != (spend.Price{Input: 1_000_000, Output: 2_000_000, MaxOutputTokens: 100}) {
		t.Errorf("from the price file: %+v", p)
	}
	if p := got["b"]; p.Input != 3_000_000 || p.Output != 600_000 || p.MaxOutputTokens != 50 {
		t.Errorf("overridden deployment: %+v", p)
	}
	if _, ok := got["c"]; ok {
		t.Error("an unknown model got a price")
	}
	if _, err := prices(cfg, deps, func(string) (string, bool) { return "/nonexistent.json", true }); err == nil {
		t.Error("a missing price file was accepted")
	}
}
