package config

import (
	"slices"
	"strings"
)

// providerPrefixes is the table of provider prefixes accepted in
// litellm_params.model ("<provider>/<model>"). It mirrors LiteLLM's prefixes,
// plus "mock", Switchboard's built-in test provider. A function returning a
// fresh slice keeps the table immutable without package-level state.
func providerPrefixes() []string {
	return []string{
		"anthropic",
		"azure",
		"azure_ai",
		"bedrock",
		"cerebras",
		"cohere",
		"cohere_chat",
		"databricks",
		"deepseek",
		"fireworks_ai",
		"gemini",
		"groq",
		"hosted_vllm",
		"huggingface",
		"lm_studio",
		"mistral",
		"mock",
		"ollama",
		"ollama_chat",
		"openai",
		"openrouter",
		"perplexity",
		"sagemaker",
		"together_ai",
		"vertex_ai",
		"vllm",
		"watsonx",
		"xai",
	}
}

// KnownProviders returns the provider prefixes Switchboard accepts, sorted.
// The caller owns the returned slice.
func KnownProviders() []string { return providerPrefixes() }

func isKnownProvider(p string) bool { return slices.Contains(providerPrefixes(), p) }

// bareFamily maps a model-name prefix to its provider, for models written
// without a provider prefix ("gpt-4o", "claude-3-5-sonnet-20240620"). LiteLLM
// does this with the model cost map; a prefix table covers the same families
// without shipping that map, and stays predictable.
type bareFamily struct{ prefix, provider string }

func bareFamilies() []bareFamily {
	return []bareFamily{
		{"gpt-", "openai"},
		{"chatgpt-", "openai"},
		{"o1", "openai"},
		{"o3", "openai"},
		{"o4", "openai"},
		{"text-embedding-", "openai"},
		{"dall-e-", "openai"},
		{"whisper-", "openai"},
		{"tts-", "openai"},
		{"omni-moderation-", "openai"},
		{"text-moderation-", "openai"},
		{"davinci", "openai"},
		{"babbage", "openai"},
		{"claude-", "anthropic"},
		{"gemini-", "gemini"},
		{"command", "cohere"},
		{"embed-", "cohere"},
		{"rerank-", "cohere"},
		{"mistral-", "mistral"},
		{"mixtral-", "mistral"},
		{"codestral-", "mistral"},
		{"open-mistral-", "mistral"},
		{"open-mixtral-", "mistral"},
		{"deepseek-", "deepseek"},
		{"grok-", "xai"},
	}
}

// ResolveModel splits a litellm_params.model string into its provider and the
// model id sent upstream. "openai/gpt-4o" gives ("openai", "gpt-4o");
// everything after the first slash is kept, so "openrouter/anthropic/claude-3"
// gives ("openrouter", "anthropic/claude-3") and "openai/*" gives ("openai",
// "*"). A bare name is resolved by its well-known family ("gpt-4o" → openai,
// "claude-…" → anthropic); OpenAI fine-tunes ("ft:gpt-4o-mini:org::id") resolve
// to openai with the name unchanged. ok is false when no provider applies.
func ResolveModel(model string) (provider, upstreamModel string, ok bool) {
	if prefix, rest, found := strings.Cut(model, "/"); found {
		if rest == "" || !isKnownProvider(prefix) {
			return "", "", false
		}
		return prefix, rest, true
	}
	name := model
	if after, isFT := strings.CutPrefix(model, "ft:"); isFT {
		name = after
	}
	for _, f := range bareFamilies() {
		if strings.HasPrefix(name, f.prefix) {
			return f.provider, model, true
		}
	}
	return "", "", false
}
