package spend

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbedded(t *testing.T) {
	tab := Embedded()
	var raw map[string]map[string]any
	if err := json.Unmarshal(embeddedPrices, &raw); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, models := range tab.m {
		for model, p := range models {
			n++
			if p.PerImage > 0 || p.PerSecond > 0 || p.PerCharacter > 0 {
				// Images and audio: priced per unit only.
				if p.Input != 0 || p.Output != 0 {
					t.Errorf("%s: priced per unit and per token: %+v", model, p)
				}
				continue
			}
			if p.Input <= 0 || p.Output < 0 || p.CacheRead < 0 || p.CacheWrite < 0 {
				t.Errorf("%s: implausible price %+v", model, p)
			}
			// Embeddings have no output; everything else must.
			if p.Output == 0 && !strings.HasPrefix(model, "text-embedding") {
				t.Errorf("%s: no output price", model)
			}
			if p.CacheRead > p.Input {
				t.Errorf("%s: cache read dearer than input: %+v", model, p)
			}
			// Budgets reserve this for requests without max_tokens.
			if p.MaxOutputTokens == 0 && p.Output != 0 {
				t.Errorf("%s: no max_output_tokens", model)
			}
		}
	}
	if n != len(raw) || n < 50 {
		t.Fatalf("embedded table has %d models, file %d entries", n, len(raw))
	}
	want := Price{Input: 2_500_000, Output: 10_000_000, CacheRead: 1_250_000, MaxOutputTokens: 16384}
	if p, ok := tab.Lookup("openai", "gpt-4o"); !ok || p != want {
		t.Fatalf("gpt-4o = %+v, %v; want %+v", p, ok, want)
	}
	// Two calls give independent tables (no shared mutable state).
	a, b := Embedded(), Embedded()
	a.m["openai"]["gpt-4o"] = Price{}
	if p, _ := b.Lookup("openai", "gpt-4o"); p != want {
		t.Fatal("Embedded tables share state")
	}
}

func TestLookup(t *testing.T) {
	tab := Embedded()
	usd := func(in, out float64) Price {
		t.Helper()
		a, err1 := PerMillion(in / 1e6)
		b, err2 := PerMillion(out / 1e6)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		return Price{Input: a, Output: b}
	}
	cases := []struct {
		provider, model string
		in, out         float64 // USD per 1M; 0, 0 = not found
	}{
		{"openai", "gpt-4o", 2.5, 10},
		{"openai", "gpt-4o-2024-08-06", 2.5, 10},
		{"openai", "gpt-4o-2024-05-13", 5, 15}, // its own entry wins over the stripped name
		{"openai", "GPT-4o-Mini ", 0.15, 0.6},
		{"openai", "gpt-4o-mini-2024-07-18", 0.15, 0.6},
		{"openai", "openai/gpt-4.1-2025-04-14", 2, 8},
		{"", "openai/gpt-4.1-mini", 0.4, 1.6},
		{"", "gpt-4.1-nano", 0.1, 0.4}, // unique across providers
		{"openai", "o3-mini-2025-01-31", 1.1, 4.4},
		{"openai", "gpt-3.5-turbo-0125", 0.5, 1.5},
		{"openai", "gpt-3.5-turbo-1106", 1, 2},
		{"openai", "gpt-4-0613", 30, 60},
		{"openai", "text-embedding-3-small", 0.02, 0},
		{"text-completion-openai", "gpt-3.5-turbo", 0.5, 1.5},
		{"azure", "gpt-4o", 2.5, 10}, // falls back to OpenAI's list price
		{"anthropic", "claude-3-5-sonnet-20241022", 3, 15},
		{"anthropic", "claude-3-5-sonnet-latest", 3, 15},
		{"anthropic", "anthropic/claude-sonnet-4-20250514", 3, 15},
		{"anthropic", "claude-3-haiku-20240307", 0.25, 1.25},
		{"anthropic", "claude-opus-4-1-20250805", 15, 75},
		{"vertex_ai", "claude-3-5-sonnet@20240620", 3, 15},
		{"vertex_ai", "gemini-2.0-flash-001", 0.1, 0.4},
		{"bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0", 0.8, 4},
		{"bedrock", "anthropic.claude-3-7-sonnet-20250219-v1:0", 3, 15},
		{"gemini", "gemini/gemini-1.5-pro-002", 1.25, 5},
		{"gemini", "models/gemini-2.5-flash", 0.3, 2.5},
		{"mistral", "mistral-large-latest", 2, 6},
		{"mistral", "mistral/mistral-small-2501", 0.1, 0.3},
		{"groq", "groq/llama-3.3-70b-versatile", 0.59, 0.79},
		{"groq", "llama3-8b-8192", 0.05, 0.08},
		{"deepseek", "deepseek-reasoner", 0.28, 0.42},
		{"cohere_chat", "command-r-plus-08-2024", 2.5, 10},
		{"cohere", "command-r-plus-04-2024", 3, 15},
		{"cohere", "command-a-03-2025", 2.5, 10},
		// Not found: unknown models, and no borrowing between unrelated providers.
		{"openai", "gpt-99", 0, 0},
		{"openai", "claude-3-5-sonnet", 0, 0},
		{"groq", "gpt-4o", 0, 0},
		{"", "no-such-model", 0, 0},
		{"openai", "", 0, 0},
	}
	for _, c := range cases {
		p, ok := tab.Lookup(c.provider, c.model)
		if c.in == 0 && c.out == 0 {
			if ok {
				t.Errorf("Lookup(%q, %q) = %+v; want not found", c.provider, c.model, p)
			}
			continue
		}
		want := usd(c.in, c.out)
		if !ok || p.Input != want.Input || p.Output != want.Output {
			t.Errorf("Lookup(%q, %q) = %+v, %v; want input %v output %v", c.provider, c.model, p, ok, want.Input, want.Output)
		}
	}
	// Anthropic's cache prices: write 1.25x, read 0.1x.
	if p, _ := tab.Lookup("anthropic", "claude-3-7-sonnet-20250219"); p.CacheWrite != 3_750_000 || p.CacheRead != 300_000 {
		t.Errorf("claude-3-7-sonnet cache prices = %+v", p)
	}
}

func TestStripVersion(t *testing.T) {
	for in, want := range map[string]string{
		"gpt-4o-2024-08-06":                   "gpt-4o",
		"claude-3-5-sonnet-20241022":          "claude-3-5-sonnet",
		"gpt-3.5-turbo-0125":                  "gpt-3.5-turbo",
		"command-r-08-2024":                   "command-r",
		"gemini-1.5-pro-002":                  "gemini-1.5-pro",
		"claude-3-5-sonnet-latest":            "claude-3-5-sonnet",
		"claude-3-5-sonnet@20240620":          "claude-3-5-sonnet",
		"claude-3-5-sonnet-20241022-v2:0":     "claude-3-5-sonnet-20241022",
		"us.anthropic.claude-3-haiku-2024-v1": "claude-3-haiku-2024-v1",
		"gpt-4o-mini":                         "gpt-4o-mini",
		"llama-3.3-70b-versatile":             "llama-3.3-70b-versatile",
		"gpt-4":                               "gpt-4",
		"o1":                                  "o1",
		"2024":                                "2024",
	} {
		if got := stripVersion(in); got != want {
			t.Errorf("stripVersion(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestPerMillion(t *testing.T) {
	for _, c := range []struct {
		usd  float64
		want Micro
	}{
		{0.0000025, 2_500_000},
		{0.00001, 10_000_000},
		{0.00000015, 150_000},
		{7.5e-08, 75_000},
		{3.125e-07, 312_500},
		{1.875e-08, 18_750},
		{5e-09, 5_000},
		{0.0000011, 1_100_000},
		{0, 0},
		{4e-13, 0}, // 0.4 micro per 1M rounds down
		{5e-13, 1}, // 0.5 rounds half up
		{1.5e-12, 2},
	} {
		got, err := PerMillion(c.usd)
		if err != nil || got != c.want {
			t.Errorf("PerMillion(%v) = %d, %v; want %d", c.usd, got, err, c.want)
		}
	}
	// Why the decimal detour: plain float64 scaling truncates these.
	for _, c := range []struct {
		usd  float64
		want Micro
	}{{4.1e-06, 4_100_000}, {3e-08, 30_000}, {4.8e-07, 480_000}} {
		usd := c.usd // a variable, so the product is float64, not an exact constant
		if naive := Micro(usd * 1e12); naive == c.want {
			t.Errorf("naive scaling of %v is exact here; pick another example", usd)
		}
		if got, _ := PerMillion(usd); got != c.want {
			t.Errorf("PerMillion(%v) = %d; want %d", usd, got, c.want)
		}
	}
	for _, bad := range []float64{-0.000001, math.NaN(), math.Inf(1), 1e10} {
		if _, err := PerMillion(bad); err == nil {
			t.Errorf("PerMillion(%v) accepted", bad)
		}
	}
}

func TestWithOverrides(t *testing.T) {
	base := Embedded()
	f := func(v float64) *float64 { return &v }
	maxOut := int64(1000)
	tab, err := base.WithOverrides(
		Override{Provider: "openai", Model: "gpt-4o", InputCostPerToken: f(0.000002), MaxOutputTokens: &maxOut},
		Override{Provider: "openai", Model: "My-Deployment", InputCostPerToken: f(0.0000025), OutputCostPerToken: f(0.00001), CacheReadInputTokenCost: f(0.000001)},
		Override{Provider: "custom", Model: "llama-local", InputCostPerToken: f(0), OutputCostPerToken: f(0)},
	)
	if err != nil {
		t.Fatal(err)
	}
	// Only the overridden field changes; the rest comes from the table.
	if p, _ := tab.Lookup("openai", "gpt-4o-2024-08-06"); p != (Price{Input: 2_000_000, Output: 10_000_000, CacheRead: 1_250_000, MaxOutputTokens: 1000}) {
		t.Errorf("overridden gpt-4o = %+v", p)
	}
	if p, ok := tab.Lookup("openai", "my-deployment"); !ok || p != (Price{Input: 2_500_000, Output: 10_000_000, CacheRead: 1_000_000}) {
		t.Errorf("my-deployment = %+v, %v", p, ok)
	}
	if p, ok := tab.Lookup("custom", "llama-local"); !ok || p != (Price{}) {
		t.Errorf("free local model = %+v, %v", p, ok)
	}
	// The original is untouched.
	if p, _ := base.Lookup("openai", "gpt-4o"); p.Input != 2_500_000 {
		t.Errorf("base table modified: %+v", p)
	}
	if _, err := base.WithOverrides(Override{Provider: "openai", Model: "x", InputCostPerToken: f(-1)}); err == nil {
		t.Error("negative price accepted")
	}
	if _, err := base.WithOverrides(Override{Provider: "openai", Model: " "}); err == nil {
		t.Error("empty model accepted")
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prices.json")
	// LiteLLM's own format, including the entries it has that are not
	// token-priced.
	const file = `{
	  "sample_spec": {"max_tokens": "LEGACY", "input_cost_per_token": 0.0, "litellm_provider": "one of https://docs.litellm.ai/docs/providers"},
	  "gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 3e-06, "output_cost_per_token": 1.2e-05, "mode": "chat", "supports_vision": true},
	  "together_ai/meta-llama/Llama-3-70b-chat-hf": {"litellm_provider": "together_ai", "input_cost_per_token": 9e-07, "output_cost_per_token": 9e-07},
	  "dall-e-3": {"litellm_provider": "openai", "input_cost_per_pixel": 0.0, "mode": "image_generation"}
	}`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	tab, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := tab.Lookup("openai", "gpt-4o"); p != (Price{Input: 3_000_000, Output: 12_000_000}) {
		t.Errorf("file entry did not replace the embedded one: %+v", p)
	}
	if p, ok := tab.Lookup("together_ai", "meta-llama/Llama-3-70b-chat-hf"); !ok || p.Input != 900_000 {
		t.Errorf("new provider = %+v, %v", p, ok)
	}
	if p, ok := tab.Lookup("anthropic", "claude-3-5-haiku"); !ok || p.Input != 800_000 {
		t.Errorf("embedded entries lost: %+v, %v", p, ok)
	}
	if p, _ := tab.Lookup("openai", "dall-e-3"); p != (Price{PerImage: 40_000_000_000}) {
		t.Errorf("an entry priced per pixel replaced the embedded per-image price: %+v", p)
	}
	for name, bad := range map[string]string{
		"syntax":   `{"gpt-4o": `,
		"negative": `{"x": {"litellm_provider": "openai", "input_cost_per_token": -1e-06}}`,
	} {
		p := filepath.Join(dir, name+".json")
		_ = os.WriteFile(p, []byte(bad), 0o600)
		if _, err := LoadFile(p); err == nil {
			t.Errorf("%s: LoadFile accepted %s", name, bad)
		}
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}
