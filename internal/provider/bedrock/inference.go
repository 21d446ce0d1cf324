package bedrock

import (
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// thinking is what the request asks of the model's reasoning.
type thinking struct {
	anthropic []byte // the Anthropic "thinking" object to send
	budget    int64  // its budget_tokens, when enabled
	nova      string // Nova 2 maxReasoningEffort, "disabled" to turn it off
}

func (t thinking) enabled() bool { return t.budget > 0 || t.nova != "" && t.nova != "disabled" }

// LiteLLM's budgets for reasoning_effort on Claude (minimal is raised to
// Anthropic's minimum budget).
var effortBudgets = map[string]int64{"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096}

func thinkingFor(p *chatParams, fam family) (thinking, error) {
	var t thinking
	if p.thinking != nil {
		t.anthropic = p.thinking
		it := rawjson.Members(p.thinking)
		enabled := false
		for it.Next() {
			switch string(it.Name()) {
			case "type":
				enabled = rawjson.Is(it.Value(), "enabled")
			case "budget_tokens":
				t.budget = count(it.Value())
			}
		}
		if !enabled {
			t.budget = 0
		}
		return t, nil
	}
	if p.reasoningEffort == nil {
		return t, nil
	}
	var buf [16]byte
	effort, _ := rawjson.Unquote(p.reasoningEffort, buf[:0])
	e := string(effort)
	if e == "none" {
		if fam == familyNova2 {
			t.nova = "disabled"
		}
		return t, nil
	}
	budget, ok := effortBudgets[e]
	if !ok {
		return t, provider.BadRequest("reasoning_effort", "reasoning_effort must be none, minimal, low, medium or high")
	}
	if fam == familyNova2 {
		if e == "minimal" {
			e = "low"
		}
		t.nova = e
		return t, nil
	}
	t.budget = budget
	t.anthropic = strconv.AppendInt([]byte(`{"type":"enabled","budget_tokens":`), budget, 10)
	t.anthropic = append(t.anthropic, '}')
	return t, nil
}

// defaultMaxTokens is what LiteLLM adds to a thinking budget when the
// client gave no output limit: Claude needs max_tokens above the budget.
const defaultMaxTokens = 4096

func appendInferenceConfig(out []byte, p *chatParams, t thinking) []byte {
	start := len(out)
	field := func(name string) {
		if len(out) == start {
			out = append(out, `,"inferenceConfig":{`...)
		} else {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, name...)
		out = append(out, '"', ':')
	}
	switch {
	case p.maxCompletionTokens != nil:
		field("maxTokens")
		out = append(out, p.maxCompletionTokens...)
	case p.maxTokens != nil:
		field("maxTokens")
		out = append(out, p.maxTokens...)
	case t.budget > 0:
		field("maxTokens")
		out = strconv.AppendInt(out, t.budget+defaultMaxTokens, 10)
	}
	if p.temperature != nil {
		field("temperature")
		out = append(out, p.temperature...)
	}
	if p.topP != nil {
		field("topP")
		out = append(out, p.topP...)
	}
	if stops := stopSequences(p.stop); len(stops) > 0 {
		field("stopSequences")
		out = append(out, '[')
		for i, s := range stops {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, s...)
		}
		out = append(out, ']')
	}
	if len(out) > start {
		out = append(out, '}')
	}
	return out
}

// stopSequences lists the non-empty stop strings (Converse refuses
// empty ones) as raw tokens.
func stopSequences(stop []byte) [][]byte {
	if rawjson.IsString(stop) {
		if len(stop) == 2 {
			return nil
		}
		return [][]byte{stop}
	}
	var out [][]byte
	it := rawjson.Elements(stop)
	for it.Next() {
		if rawjson.IsString(it.Value()) && len(it.Value()) > 2 {
			out = append(out, it.Value())
		}
	}
	return out
}

// appendAdditionalFields writes additionalModelRequestFields: top_k and
// reasoning settings in the model's own dialect, merged with what the
// client sent there itself (the client's members win).
func appendAdditionalFields(out []byte, p *chatParams, fam family, t thinking) []byte {
	client := p.native[additionalFieldsIndex]
	has := func(name string) bool {
		it := rawjson.Members(client)
		for it.Next() {
			if it.NameIs(name) {
				return true
			}
		}
		return false
	}
	start := len(out)
	field := func(name string) bool {
		if client != nil && has(name) {
			return false
		}
		if len(out) == start {
			out = append(out, `,"additionalModelRequestFields":{`...)
		} else {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, name...)
		out = append(out, '"', ':')
		return true
	}
	if p.topK != nil {
		if fam == familyNova || fam == familyNova2 {
			if field("inferenceConfig") {
				out = append(out, `{"topK":`...)
				out = append(out, p.topK...)
				out = append(out, '}')
			}
		} else if field("top_k") {
			out = append(out, p.topK...)
		}
	}
	if t.anthropic != nil && field("thinking") {
		out = append(out, t.anthropic...)
	}
	if t.nova != "" && field("reasoningConfig") {
		if t.nova == "disabled" {
			out = append(out, `{"type":"disabled"}`...)
		} else {
			out = append(out, `{"type":"enabled","maxReasoningEffort":"`...)
			out = append(out, t.nova...)
			out = append(out, `"}`...)
		}
	}
	if client != nil {
		if inner := rawjson.TrimSpace(client[1 : len(client)-1]); len(inner) > 0 {
			if len(out) == start {
				out = append(out, `,"additionalModelRequestFields":{`...)
			} else {
				out = append(out, ',')
			}
			out = append(out, inner...)
		}
	}
	if len(out) > start {
		out = append(out, '}')
	}
	return out
}
