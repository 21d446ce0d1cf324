package gemini

import (
	"encoding/json"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// chatParamKind sorts the top-level members of a chat request: OpenAI
// parameters translated below, Gemini's own fields (sent by clients
// through extra_body) and LiteLLM's Gemini-specific spellings, and the
// rest, which Gemini has no equivalent for.
func chatParamKind(name string) provider.ParamKind {
	switch name {
	case "temperature", "top_p", "max_tokens", "max_completion_tokens", "n", "stop", "presence_penalty",
		"frequency_penalty", "seed", "tools", "tool_choice", "parallel_tool_calls", "response_format",
		"reasoning_effort", "logprobs", "top_logprobs",
		// user identifies the end user to the gateway (spend, limits).
		"user":
		return provider.ParamTranslated
	case "safety_settings", "cached_content", "top_k", "thinking", "generationConfig":
		return provider.ParamPassthrough
	}
	if topLevelField(name) || generationField(name) {
		return provider.ParamPassthrough
	}
	return provider.ParamUnsupported
}

// topLevelField: a member of GenerateContentRequest besides contents,
// systemInstruction, tools and generationConfig (go-genai's converters).
func topLevelField(name string) bool {
	switch name {
	case "safetySettings", "cachedContent", "toolConfig", "labels", "serviceTier", "store", "modelArmorConfig":
		return true
	}
	return false
}

// generationField: a member of GenerationConfig that OpenAI has no name
// for; given at the top level, it is moved into generationConfig.
func generationField(name string) bool {
	switch name {
	case "topK", "candidateCount", "maxOutputTokens", "stopSequences", "presencePenalty", "frequencyPenalty",
		"responseMimeType", "responseSchema", "responseJsonSchema", "responseLogprobs", "responseModalities",
		"thinkingConfig", "mediaResolution", "speechConfig", "imageConfig", "audioTranscriptionConfig",
		"enableEnhancedCivicAnswers", "routingConfig", "modelSelectionConfig", "topP":
		return true
	}
	return false
}

type member struct {
	name  string
	value []byte
}

// native holds what a request says in Gemini's own terms. Native fields
// win over translated ones: a client that names the native field means it.
type native struct {
	top, gen []member
	thinking json.RawMessage // LiteLLM's Anthropic-style "thinking"
}

func (n *native) keep(name string, value json.RawMessage) {
	if string(value) == "null" {
		return
	}
	switch name {
	case "safety_settings":
		n.top = set(n.top, "safetySettings", value)
	case "cached_content":
		n.top = set(n.top, "cachedContent", value)
	case "top_k":
		n.gen = set(n.gen, "topK", value)
	case "thinking":
		n.thinking = value
	case "generationConfig":
		openai.EachMember(value, func(k, v []byte) bool {
			n.gen = set(n.gen, string(k), v)
			return true
		})
	default:
		if generationField(name) {
			n.gen = set(n.gen, name, value)
		} else {
			n.top = set(n.top, name, value)
		}
	}
}

// set adds or replaces a member, so no key is ever written twice.
func set(ms []member, name string, value []byte) []member {
	for i := range ms {
		if ms[i].name == name {
			ms[i].value = value
			return ms
		}
	}
	return append(ms, member{name, value})
}

func has(ms []member, name string) bool {
	for i := range ms {
		if ms[i].name == name {
			return true
		}
	}
	return false
}

// appendMembers writes ms as `,"name":value` pairs.
func appendMembers(dst []byte, ms []member) []byte {
	for _, m := range ms {
		dst = append(dst, ',')
		dst = openai.AppendString(dst, m.name)
		dst = append(dst, ':')
		dst = append(dst, m.value...)
	}
	return dst
}
