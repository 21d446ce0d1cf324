package spend

import (
	"math"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/openai"
)

func TestCost(t *testing.T) {
	gpt4o := Price{Input: 2_500_000, Output: 10_000_000, CacheRead: 1_250_000}
	sonnet := Price{Input: 3_000_000, Output: 15_000_000, CacheRead: 300_000, CacheWrite: 3_750_000}
	plain := Price{Input: 1_000_000, Output: 2_000_000}
	cases := []struct {
		name string
		p    Price
		u    openai.Usage
		want Micro
	}{
		{"zero", gpt4o, openai.Usage{}, 0},
		// 1000 × 2.5 + 500 × 10 = 2500 + 5000 micro-dollars.
		{"plain", gpt4o, openai.Usage{PromptTokens: 1000, CompletionTokens: 500}, 7500},
		// 200 of the 1000 prompt tokens cached: 800 × 2.5 + 200 × 1.25 + 500 × 10.
		{"cached", gpt4o, openai.Usage{PromptTokens: 1000, CachedTokens: 200, CompletionTokens: 500}, 2000 + 250 + 5000},
		// 100 plain, 800 read, 100 written: 100×3 + 800×0.3 + 100×3.75 + 50×15.
		{"anthropic cache", sonnet, openai.Usage{PromptTokens: 1000, CachedTokens: 800, CacheWriteTokens: 100, CompletionTokens: 50}, 300 + 240 + 375 + 750},
		// Cache prices default to Input.
		{"cache at input price", plain, openai.Usage{PromptTokens: 100, CachedTokens: 50, CacheWriteTokens: 25}, 100},
		// Reasoning tokens are inside completion tokens, not added again.
		{"reasoning", plain, openai.Usage{CompletionTokens: 100, ReasoningTokens: 80}, 200},
		// Hostile or inconsistent counts: never negative, caches capped.
		{"negative", gpt4o, openai.Usage{PromptTokens: -100, CompletionTokens: -5, CachedTokens: -3}, 0},
		{"cache over prompt", sonnet, openai.Usage{PromptTokens: 10, CachedTokens: 30, CacheWriteTokens: 30}, 3},
		{"write over rest", sonnet, openai.Usage{PromptTokens: 10, CachedTokens: 6, CacheWriteTokens: 30}, 2 + 15},
		// Rounding: one token at 0.5 micro rounds up, at 0.499999 down.
		{"half up", Price{Input: 500_000}, openai.Usage{PromptTokens: 1}, 1},
		{"below half", Price{Input: 499_999}, openai.Usage{PromptTokens: 1}, 0},
		// Rounded once on the sum: 3 × 0.4 = 1.2 → 1, not 0+0+0.
		{"single rounding", Price{Input: 400_000, CacheRead: 400_000, Output: 400_000}, openai.Usage{PromptTokens: 2, CachedTokens: 1, CompletionTokens: 1}, 1},
		// Saturates instead of wrapping.
		{"overflow", Price{Input: math.MaxInt64, Output: math.MaxInt64}, openai.Usage{PromptTokens: math.MaxInt64, CompletionTokens: math.MaxInt64}, math.MaxInt64},
		{"large but exact", Price{Input: 100_000_000}, openai.Usage{PromptTokens: 1_000_000_000}, 100_000_000_000},
	}
	for _, c := range cases {
		if got := Cost(c.p, c.u); got != c.want {
			t.Errorf("%s: Cost = %d; want %d", c.name, got, c.want)
		}
	}
}

// TestCostStreamEqualsNonStream: a streamed and a non-streamed request with
// the same usage cost exactly the same, because both are priced by Cost
// from the Usage the openai package scans, whether it comes from the
// response body or from the stream's final usage chunk.
func TestCostStreamEqualsNonStream(t *testing.T) {
	body := []byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":1024},"completion_tokens_details":{"reasoning_tokens":0}}}`)
	chunk := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":1024},"completion_tokens_details":{"reasoning_tokens":0}}}`)
	p, ok := Embedded().Lookup("openai", "gpt-4o-2024-08-06")
	if !ok {
		t.Fatal("gpt-4o not priced")
	}
	ub, ok1 := openai.ScanUsage(body)
	us, ok2 := openai.ScanUsage(chunk)
	if !ok1 || !ok2 || ub != us {
		t.Fatalf("usage differs: %+v vs %+v", ub, us)
	}
	cb, cs := Cost(p, ub), Cost(p, us)
	// 93 × 2.5 + 1024 × 1.25 + 46 × 10 = 232.5 + 1280 + 460 = 1972.5 → 1973.
	if cb != cs || cb != 1973 {
		t.Fatalf("non-stream %d, stream %d; want both 1973", cb, cs)
	}
}

func TestEstimate(t *testing.T) {
	p := Price{Input: 3_000_000, Output: 15_000_000, CacheRead: 300_000, CacheWrite: 3_750_000}
	// 10 bytes → 4 tokens, priced at the cache-write rate (the dearest):
	// 4 × 3.75 + 100 × 15 = 15 + 1500.
	if got := Estimate(p, 10, 100); got != 1515 {
		t.Errorf("Estimate = %d; want 1515", got)
	}
	// Rounded up: 1 token at 0.1 micro reserves 1.
	if got := Estimate(Price{Input: 100_000}, 1, 0); got != 1 {
		t.Errorf("Estimate rounds down: %d", got)
	}
	if got := Estimate(p, -5, -5); got != 0 {
		t.Errorf("Estimate of nothing = %d", got)
	}
	// An estimate covers the actual cost of any usage within its bounds.
	u := openai.Usage{PromptTokens: 4, CacheWriteTokens: 4, CompletionTokens: 100}
	if Cost(p, u) > Estimate(p, 10, 100) {
		t.Errorf("cost %d above estimate %d", Cost(p, u), Estimate(p, 10, 100))
	}
}

func BenchmarkCost(b *testing.B) {
	p := Price{Input: 2_500_000, Output: 10_000_000, CacheRead: 1_250_000}
	u := openai.Usage{PromptTokens: 1117, CachedTokens: 1024, CompletionTokens: 46}
	b.ReportAllocs()
	var sink Micro
	for b.Loop() {
		sink += Cost(p, u)
	}
	_ = sink
}

func BenchmarkLookup(b *testing.B) {
	tab := Embedded()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := tab.Lookup("openai", "gpt-4o-2024-08-06"); !ok {
			b.Fatal("not found")
		}
	}
}

func TestCostPerUnit(t *testing.T) {
	tab := Embedded()
	cases := []struct {
		model string
		u     openai.Usage
		want  Micro
	}{
		{"dall-e-3", openai.Usage{Images: 2}, 80_000},           // 2 × 0.04 USD
		{"whisper-1", openai.Usage{AudioMillis: 9_500}, 950},    // 9.5 s × 0.0001 USD
		{"whisper-1", openai.Usage{AudioMillis: 1}, 0},          // 0.1 µ$ rounds to 0
		{"whisper-1", openai.Usage{AudioMillis: 5}, 1},          // 0.5 µ$ rounds half up
		{"tts-1", openai.Usage{Characters: 1000}, 15_000},       // 1000 × 15 µ$
		{"dall-e-3", openai.Usage{Images: -3}, 0},               // untrusted counts
		{"gpt-4o", openai.Usage{Images: 5, AudioMillis: 10}, 0}, // no unit prices
	}
	for _, c := range cases {
		p, ok := tab.Lookup("openai", c.model)
		if !ok {
			t.Fatalf("%s not in the table", c.model)
		}
		if got := Cost(p, c.u); got != c.want {
			t.Errorf("%s %+v: cost %d µ$, want %d", c.model, c.u, got, c.want)
		}
	}
	if got := Cost(Price{PerSecond: math.MaxInt64}, openai.Usage{AudioMillis: math.MaxInt64}); got != math.MaxInt64 {
		t.Errorf("overflow: %d", got)
	}
}

func TestEstimateUnitsCoversCost(t *testing.T) {
	dalle := Price{PerImage: 40_000_000_000}
	if got := EstimateUnits(dalle, 0, 100); got != 40_000 {
		t.Errorf("one image by default: %d", got)
	}
	if got, cost := EstimateUnits(dalle, 3, 100), Cost(dalle, openai.Usage{Images: 3}); got != cost {
		t.Errorf("3 images: reserve %d, cost %d", got, cost)
	}
	tts := Price{PerCharacter: 15_000_000}
	body := `{"model":"tts-1","input":"héllo wörld","voice":"alloy"}`
	if got, cost := EstimateUnits(tts, 0, len(body)), Cost(tts, openai.Usage{Characters: 11}); got < cost {
		t.Errorf("speech: reserve %d below cost %d", got, cost)
	}
}
