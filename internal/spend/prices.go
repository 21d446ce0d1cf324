package spend

// Source of prices.json: the providers' published price pages as mirrored
// by LiteLLM's model_prices_and_context_window.json, in that file's format
// (USD per token), curated by hand in 2025 for the models people actually
// call. Entries whose price we are not sure of carry a "note" saying so;
// long-context tiers, batch and flex/priority service tiers, audio and
// image tokens are not modelled. Operators correct or extend the table
// with a price file (LoadFile) or per-deployment overrides (WithOverrides)
// rather than waiting for a release.

import (
	"bytes"
	_ "embed" // prices.json
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"sort"
	"strconv"
	"strings"
)

//go:embed prices.json
var embeddedPrices []byte

// Micro is an amount of US dollars in millionths (micro-dollars), the unit
// of every cost and budget in the ledger (store.SpendRow.Cost). Integers
// make sums exact and replay-safe: adding the same costs in any order gives
// the same total, which float64 dollars do not.
type Micro int64

// USD renders m as dollars, for logs and tests only.
func (m Micro) USD() string {
	return strconv.FormatFloat(float64(m)/1e6, 'f', -1, 64)
}

// Price is what one model costs, each field in micro-dollars per million
// tokens, which is numerically the same as USD per token × 1e12: "2.5 USD
// per 1M input tokens" is Input = 2_500_000. At that resolution every
// published price is an exact integer (the finest in the table is 0.005 USD
// per 1M = 5_000). A zero CacheRead or CacheWrite means "billed as Input".
//
// Operations priced per unit use the same scale, per million units:
// PerImage (output_cost_per_image, "0.04 USD per image" is 40_000_000_000),
// PerSecond (input_cost_per_second, audio transcribed or translated) and
// PerCharacter (input_cost_per_character, speech synthesised).
type Price struct {
	Input, Output, CacheRead, CacheWrite Micro
	PerImage, PerSecond, PerCharacter    Micro
	// MaxOutputTokens is the most the model generates in one response
	// (LiteLLM's max_output_tokens), the worst case a budget reserves for
	// a request that sets no max_tokens; 0 = unknown.
	MaxOutputTokens int64
}

// Table maps provider and model to a Price. A Table is never modified after
// it is built (WithOverrides and LoadFile return new ones), so one may be
// shared by every request goroutine without locking.
type Table struct {
	m map[string]map[string]Price // provider -> model -> price
}

// Embedded returns the table compiled into the binary. Each call parses it
// afresh (a few microseconds; callers build their table once at startup),
// which keeps the package free of global state.
func Embedded() *Table {
	t, err := parse(embeddedPrices)
	if err != nil {
		// prices.json is part of the source tree and TestEmbedded parses it,
		// so this cannot happen in a binary that passed its tests.
		panic("spend: embedded prices.json: " + err.Error())
	}
	return t
}

// LoadFile reads a price file in the embedded format — which is LiteLLM's
// model_prices_and_context_window.json format, so that file itself can be
// used — and returns the embedded table with the file's entries laid over
// it. An entry in the file replaces the embedded entry for the same
// provider and model as a whole. Entries without litellm_provider or
// without any token price (LiteLLM's "sample_spec", image models priced
// per pixel) are skipped.
func LoadFile(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spend: price file: %w", err)
	}
	user, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("spend: price file %s: %w", path, err)
	}
	t := Embedded()
	for prov, models := range user.m {
		if t.m[prov] == nil {
			t.m[prov] = make(map[string]Price, len(models))
		}
		for model, p := range models {
			t.m[prov][model] = p
		}
	}
	return t, nil
}

// Override is a deployment's custom pricing from config.yaml
// (litellm_params.input_cost_per_token and friends), in USD per token as
// LiteLLM takes it. Nil fields keep the table's price for the model (or
// zero when the table has none).
type Override struct {
	Provider, Model string

	InputCostPerToken           *float64
	OutputCostPerToken          *float64
	CacheReadInputTokenCost     *float64
	CacheCreationInputTokenCost *float64
	InputCostPerSecond          *float64
	// MaxOutputTokens is model_info.max_output_tokens (or max_tokens).
	MaxOutputTokens *int64
}

// WithOverrides returns a copy of t in which each override's provider and
// model resolve to the overridden price. The Model of an override is taken
// literally (no date-suffix stripping), so a deployment can be priced under
// its own name, such as its model_info.id, without affecting other
// deployments of the same model: Lookup tries the exact name first.
func (t *Table) WithOverrides(ovs ...Override) (*Table, error) {
	c := &Table{m: make(map[string]map[string]Price, len(t.m))}
	for prov, models := range t.m {
		c.m[prov] = make(map[string]Price, len(models))
		for k, v := range models {
			c.m[prov][k] = v
		}
	}
	for _, o := range ovs {
		prov, model := normProvider(o.Provider), strings.ToLower(strings.TrimSpace(o.Model))
		if model == "" {
			return nil, fmt.Errorf("spend: price override for provider %q: empty model", o.Provider)
		}
		p, _ := t.Lookup(prov, model)
		for _, f := range []struct {
			usd  *float64
			dst  *Micro
			name string
		}{
			{o.InputCostPerToken, &p.Input, "input_cost_per_token"},
			{o.OutputCostPerToken, &p.Output, "output_cost_per_token"},
			{o.CacheReadInputTokenCost, &p.CacheRead, "cache_read_input_token_cost"},
			{o.CacheCreationInputTokenCost, &p.CacheWrite, "cache_creation_input_token_cost"},
			{o.InputCostPerSecond, &p.PerSecond, "input_cost_per_second"},
		} {
			if f.usd == nil {
				continue
			}
			v, err := PerMillion(*f.usd)
			if err != nil {
				return nil, fmt.Errorf("spend: price override %s/%s %s: %w", o.Provider, o.Model, f.name, err)
			}
			*f.dst = v
		}
		if o.MaxOutputTokens != nil && *o.MaxOutputTokens > 0 {
			p.MaxOutputTokens = *o.MaxOutputTokens
		}
		if c.m[prov] == nil {
			c.m[prov] = make(map[string]Price)
		}
		c.m[prov][model] = p
	}
	return c, nil
}

// PerMillion converts a price in USD per token, as config files give it,
// to micro-dollars per million tokens. The float is first turned back into
// the shortest decimal that round-trips (0.0000025 → "2.5e-06") and that
// decimal is scaled exactly, so binary floating-point error never reaches
// the integer: 0.0000041 gives exactly 4_100_000, where a naive
// float64 4.1e-06*1e12 is 4_099_999.9999999995 and truncates to 4_099_999.
// Anything finer than one micro-dollar per 1M is rounded half-up.
func PerMillion(usdPerToken float64) (Micro, error) {
	if math.IsNaN(usdPerToken) || math.IsInf(usdPerToken, 0) {
		return 0, errors.New("price is not a finite number")
	}
	return decimalPerMillion(strconv.FormatFloat(usdPerToken, 'g', -1, 64))
}

// decimalPerMillion scales a decimal USD-per-token string by 1e12 exactly.
func decimalPerMillion(s string) (Micro, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("price %q is not a number", s)
	}
	if r.Sign() < 0 {
		return 0, fmt.Errorf("price %s is negative", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(1e12))
	// Half-up: floor(r + 1/2).
	r.Add(r, big.NewRat(1, 2))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsInt64() {
		return 0, fmt.Errorf("price %s USD per token is out of range", s)
	}
	return Micro(q.Int64()), nil
}

// entry is one model in the price file format.
type entry struct {
	Provider   string      `json:"litellm_provider"`
	Input      json.Number `json:"input_cost_per_token"`
	Output     json.Number `json:"output_cost_per_token"`
	CacheRead  json.Number `json:"cache_read_input_token_cost"`
	CacheWrite json.Number `json:"cache_creation_input_token_cost"`
	PerImage   json.Number `json:"output_cost_per_image"`
	PerSecond  json.Number `json:"input_cost_per_second"`
	PerChar    json.Number `json:"input_cost_per_character"`
	MaxOutput  int64       `json:"max_output_tokens"`
	Note       string      `json:"note"`
}

func parse(data []byte) (*Table, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	t := &Table{m: make(map[string]map[string]Price)}
	// Sorted so that when two keys normalise to the same model (LiteLLM
	// lists both "gpt-4o" and "openai/gpt-4o" in places) the result does
	// not depend on map order.
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		var e entry
		dec := json.NewDecoder(bytes.NewReader(raw[key]))
		dec.UseNumber() // keep the decimal text, see decimalPerMillion
		if err := dec.Decode(&e); err != nil {
			// LiteLLM's file has non-object entries nowhere today, but a
			// field of another type must not make the whole file unusable.
			continue
		}
		if e.Provider == "" || (e.Input == "" && e.Output == "" && e.PerImage == "" && e.PerSecond == "" && e.PerChar == "") {
			continue
		}
		p := Price{MaxOutputTokens: max(e.MaxOutput, 0)}
		for _, f := range []struct {
			n   json.Number
			dst *Micro
		}{{e.Input, &p.Input}, {e.Output, &p.Output}, {e.CacheRead, &p.CacheRead}, {e.CacheWrite, &p.CacheWrite},
			{e.PerImage, &p.PerImage}, {e.PerSecond, &p.PerSecond}, {e.PerChar, &p.PerCharacter}} {
			if f.n == "" {
				continue
			}
			v, err := decimalPerMillion(string(f.n))
			if err != nil {
				return nil, fmt.Errorf("%q: %w", key, err)
			}
			*f.dst = v
		}
		prov := normProvider(e.Provider)
		model := strings.ToLower(key)
		model = strings.TrimPrefix(model, strings.ToLower(e.Provider)+"/")
		model = strings.TrimPrefix(model, prov+"/")
		if t.m[prov] == nil {
			t.m[prov] = make(map[string]Price)
		}
		t.m[prov][model] = p
	}
	return t, nil
}

// normProvider maps LiteLLM's provider spellings that price like another
// to one name.
func normProvider(p string) string {
	p = strings.ToLower(strings.TrimSpace(p))
	switch p {
	case "cohere_chat":
		return "cohere"
	case "text-completion-openai":
		return "openai"
	case "vertex_ai-language-models":
		return "vertex_ai"
	}
	return p
}

// fallbackProviders lists where to look when a provider has no entry of
// its own for a model: Azure OpenAI charges OpenAI's list prices, Vertex AI
// Google's Gemini prices and Anthropic's for Claude, Bedrock Anthropic's
// for Claude. A price file can still give any of them their own entries,
// which win.
func fallbackProviders(p string) []string {
	switch p {
	case "azure":
		return []string{"openai"}
	case "vertex_ai":
		return []string{"gemini", "anthropic"}
	case "bedrock":
		return []string{"anthropic"}
	}
	return nil
}

// Lookup returns the price of model at provider. It tolerates the forms
// model names take in config and in upstream responses:
//
//   - case and surrounding spaces;
//   - a provider prefix ("openai/gpt-4o", "gemini/gemini-2.0-flash"); with
//     an empty provider the prefix names it;
//   - dated or versioned snapshots, tried after the exact name so that a
//     snapshot priced differently (gpt-4o-2024-05-13) keeps its own price:
//     "-2024-08-06", "-20241022", "-0125", "-08-2024", "-001", "-latest",
//     Vertex's "@20240620" and Bedrock's "anthropic." prefix and "-v2:0";
//   - providers that bill another's list price (see fallbackProviders).
//
// With no provider at all, a model found under exactly one provider is
// returned. ok is false when nothing matches: the caller decides whether
// an unpriced model is an error or costs zero (LiteLLM logs and charges 0).
func (t *Table) Lookup(provider, model string) (Price, bool) {
	prov := normProvider(provider)
	model = strings.ToLower(strings.TrimSpace(model))
	if prov == "" {
		if i := strings.IndexByte(model, '/'); i > 0 {
			prov = normProvider(model[:i])
		}
	}
	if prov == "" {
		return t.lookupAny(model)
	}
	if price, ok := lookupModel(t.m[prov], model); ok {
		return price, true
	}
	for _, p := range fallbackProviders(prov) {
		if price, ok := lookupModel(t.m[p], model); ok {
			return price, true
		}
	}
	return Price{}, false
}

func (t *Table) lookupAny(model string) (Price, bool) {
	var (
		found Price
		n     int
	)
	for _, models := range t.m {
		if p, ok := lookupModel(models, model); ok {
			found, n = p, n+1
		}
	}
	return found, n == 1
}

// lookupModel tries model as given, then with each leading "x/" segment
// removed, each of those with date suffixes stripped one at a time.
func lookupModel(models map[string]Price, model string) (Price, bool) {
	for name := model; ; {
		for c := name; c != ""; {
			if p, ok := models[c]; ok {
				return p, true
			}
			next := stripVersion(c)
			if next == c {
				break
			}
			c = next
		}
		i := strings.IndexByte(name, '/')
		if i < 0 {
			return Price{}, false
		}
		name = name[i+1:]
	}
}

// stripVersion removes one trailing snapshot marker, or returns s as is.
func stripVersion(s string) string {
	// Bedrock: "us.anthropic.claude-3-5-sonnet-20241022-v2:0".
	if i := strings.Index(s, "anthropic."); i >= 0 {
		return s[i+len("anthropic."):]
	}
	if i := strings.LastIndex(s, "-v"); i > 0 && isBedrockVersion(s[i+2:]) {
		return s[:i]
	}
	// Vertex: "claude-3-5-sonnet@20240620", "claude-sonnet-4@20250514".
	if i := strings.LastIndexByte(s, '@'); i > 0 {
		return s[:i]
	}
	if t, ok := strings.CutSuffix(s, "-latest"); ok {
		return t
	}
	// -2024-08-06 (OpenAI), -08-2024 (Cohere): three or two numeric groups.
	for _, shape := range []string{"-dddd-dd-dd", "-dd-dddd", "-dddddddd", "-dddd", "-ddd"} {
		if len(s) > len(shape) && matchShape(s[len(s)-len(shape):], shape) {
			return s[:len(s)-len(shape)]
		}
	}
	return s
}

func isBedrockVersion(v string) bool { // "2:0", "1"
	digits, colon := 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == ':' && !colon && digits > 0:
			colon = true
		default:
			return false
		}
	}
	return digits > 0
}

// matchShape reports whether s matches shape, where 'd' is any digit and
// every other byte stands for itself.
func matchShape(s, shape string) bool {
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != shape[i] {
			return false
		}
	}
	return true
}
