package gemini

import "github.com/switchboard-gw/switchboard/internal/openai"

// openAI maps usageMetadata to OpenAI's usage. Gemini counts the prompt's
// tool-use tokens (from code execution or search results) and the model's
// thoughts apart; OpenAI bills them as prompt and completion tokens, and
// reports the thoughts again as reasoning tokens.
func (u usageMeta) openAI() openai.Usage {
	o := openai.Usage{
		PromptTokens:          u.prompt + u.toolUse,
		CompletionTokens:      u.candidates + u.thoughts,
		TotalTokens:           u.total,
		CachedTokens:          u.cached,
		ReasoningTokens:       u.thoughts,
		AudioPromptTokens:     u.audioPrompt,
		AudioCompletionTokens: u.audioCandidates,
	}
	if sum := o.PromptTokens + o.CompletionTokens; o.TotalTokens < sum {
		o.TotalTokens = sum
	}
	return o
}

// merge folds a later snapshot of a stream's usage into u. Each event of a
// stream carries the counts so far, so the latest is the truth; taking the
// larger of each keeps an event that omits a count from undoing it.
func (u *usageMeta) merge(v usageMeta) {
	u.prompt = max(u.prompt, v.prompt)
	u.candidates = max(u.candidates, v.candidates)
	u.total = max(u.total, v.total)
	u.cached = max(u.cached, v.cached)
	u.thoughts = max(u.thoughts, v.thoughts)
	u.toolUse = max(u.toolUse, v.toolUse)
	u.audioPrompt = max(u.audioPrompt, v.audioPrompt)
	u.audioCandidates = max(u.audioCandidates, v.audioCandidates)
}

// finishReason maps a Gemini finishReason (LiteLLM's table, providers.md
// §11.1). A function call ends with STOP; the caller turns that into
// tool_calls when the candidate called a function.
func finishReason(r []byte, calledTools bool) string {
	switch string(r) {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "LANGUAGE", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER", "NO_IMAGE":
		return "content_filter"
	}
	if calledTools {
		return "tool_calls"
	}
	return "stop"
}
