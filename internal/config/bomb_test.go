package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAliasBomb makes sure exponential alias expansion ("billion laughs") is
// cut off quickly with a problem instead of eating memory and time.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	bomb := b.String()
	for name, src := range map[string]string{
		"free-form map":     "litellm_settings:\n  cache_params:\n    " + strings.ReplaceAll(strings.TrimSpace(bomb), "\n", "\n    ") + "\n",
		"model_list params": "model_list:\n  - model_name: x\n    litellm_params:\n      model: openai/x\n      " + strings.ReplaceAll(strings.TrimSpace(strings.ReplaceAll(bomb, "a", "mock_a")), "\n", "\n      ") + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, _, ps := parse(t, src, nil)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
			if ps == nil {
				t.Fatal("no problem reported")
			}
			t.Log(ps[0].Message, time.Since(start))
		})
	}
}

// TestLargeConfig makes sure the decode budget, which stops alias bombs,
// leaves room for big real configs: this one has ~330k nodes, more than the
// fixed part of the budget.
func TestLargeConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	const entries = 3000
	tags := "[" + strings.Repeat("t, ", 99) + "t]"
	var b strings.Builder
	b.WriteString("model_list:\n")
	for i := range entries {
		n := strconv.Itoa(i)
		b.WriteString("  - model_name: m" + n + "\n    litellm_params: {model: openai/gpt-4o, api_key: os.environ/K, tags: " + tags + "}\n")
	}
	start := time.Now()
	cfg, _ := mustParse(t, b.String(), map[string]string{"K": "k"})
	if len(cfg.ModelList) != entries || len(cfg.ModelList[entries-1].Params.Tags) != 100 {
		t.Fatalf("%d entries", len(cfg.ModelList))
	}
	t.Logf("%d deployments in %v", entries, time.Since(start))
}
