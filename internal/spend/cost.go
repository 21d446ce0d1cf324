package spend

import (
	"math"
	"math/bits"

	"github.com/switchboard-gw/switchboard/internal/openai"
)

// Cost is what a request with usage u cost at price p, in micro-dollars.
// Every request is priced here, streamed or not, so the same usage always
// costs the same.
//
// Usage follows OpenAI's semantics: PromptTokens includes the cached
// (cache-read) and cache-write tokens and CompletionTokens includes the
// reasoning tokens. So
//
//	input  = (prompt − cached − cacheWrite) × Input + cached × CacheRead + cacheWrite × CacheWrite
//	output = completion × Output
//
// with CacheRead and CacheWrite taken as Input when zero. Token counts come
// from upstream and are not trusted: negatives count as zero and cache
// counts are capped at the prompt, so the cost is never negative.
//
// Rounding: the four products (tokens × micro-dollars per 1M) are summed
// exactly in 128 bits and divided by 1e6 once, rounding half up, so a
// request is off by at most half a micro-dollar and splitting usage into
// parts never adds rounding of its own per part. A result beyond int64
// saturates at math.MaxInt64.
func Cost(p Price, u openai.Usage) Micro {
	prompt := nonNeg(u.PromptTokens)
	cached := min(nonNeg(u.CachedTokens), prompt)
	write := min(nonNeg(u.CacheWriteTokens), prompt-cached)
	plain := prompt - cached - write

	var acc acc128
	acc.add(plain, p.Input)
	acc.add(cached, orInput(p.CacheRead, p.Input))
	acc.add(write, orInput(p.CacheWrite, p.Input))
	acc.add(nonNeg(u.CompletionTokens), p.Output)
	acc.add(nonNeg(u.Images), p.PerImage)
	acc.add(nonNeg(u.Characters), p.PerCharacter)
	cost := acc.divRound(1_000_000, 1_000_000/2)
	if u.AudioMillis > 0 && p.PerSecond > 0 {
		// Milliseconds are a thousandth of the unit: one more division,
		// rounded on its own (audio is never in the same request as tokens
		// that are priced, so no request is rounded twice).
		var audio acc128
		audio.add(u.AudioMillis, p.PerSecond)
		if a := audio.divRound(1_000_000_000, 1_000_000_000/2); cost > math.MaxInt64-a {
			cost = math.MaxInt64
		} else {
			cost += a
		}
	}
	return cost
}

// Estimate is the most a request can cost before its usage is known, for
// reserving budget: the prompt at about one token per three bytes (real
// tokenisers average nearer four bytes per token for English, so this
// overestimates) plus maxOutputTokens of output. Prompt tokens are priced
// at the dearest of Input, CacheRead and CacheWrite, since a cache write
// (1.25× input at Anthropic) may cost more than a plain read. The result is
// rounded up, because a reservation must not fall short of what it covers.
// A non-positive maxOutputTokens adds nothing; the caller substitutes the
// model's output cap when the request sets none.
func Estimate(p Price, promptBytes int, maxOutputTokens int64) Micro {
	promptTokens := (nonNeg(int64(promptBytes)) + 2) / 3
	in := max(p.Input, p.CacheRead, p.CacheWrite)
	var acc acc128
	acc.add(promptTokens, in)
	acc.add(nonNeg(maxOutputTokens), p.Output)
	return acc.divRound(1_000_000, 1_000_000-1)
}

// EstimateUnits is the most an image or speech request can cost before
// its answer: images at PerImage (n images, at least one) and, since speech
// is priced per input character, the whole body at PerCharacter — a body
// holds no more characters than bytes. Audio transcription is priced by a
// duration known only from the answer, so nothing is reserved for it.
func EstimateUnits(p Price, images int64, bodyBytes int) Micro {
	var acc acc128
	acc.add(max(images, 1), p.PerImage)
	acc.add(nonNeg(int64(bodyBytes)), p.PerCharacter)
	return acc.divRound(1_000_000, 1_000_000-1)
}

func nonNeg(n int64) int64 { return max(n, 0) }

func orInput(v, input Micro) Micro {
	if v == 0 {
		return input
	}
	return v
}

// acc128 is an unsigned 128-bit accumulator: tokens × price reaches 1e17
// for a billion tokens at 100 USD per 1M, and four such terms can pass
// int64, which must saturate rather than wrap into a small or negative
// cost.
type acc128 struct{ hi, lo uint64 }

func (a *acc128) add(tokens int64, price Micro) {
	if tokens <= 0 || price <= 0 {
		return
	}
	hi, lo := bits.Mul64(uint64(tokens), uint64(price))
	var c uint64
	a.lo, c = bits.Add64(a.lo, lo, 0)
	a.hi, c = bits.Add64(a.hi, hi, c)
	if c != 0 {
		a.hi, a.lo = math.MaxUint64, math.MaxUint64
	}
}

// divRound returns (a + bias) / d, saturating at MaxInt64.
func (a *acc128) divRound(d, bias uint64) Micro {
	lo, c := bits.Add64(a.lo, bias, 0)
	hi, c2 := bits.Add64(a.hi, 0, c)
	if c2 != 0 || hi >= d {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, d)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return Micro(q)
}
