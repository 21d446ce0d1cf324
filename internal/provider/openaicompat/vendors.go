package openaicompat

// vendor is what differs between OpenAI-compatible providers: where they
// live, where their credentials come from by default, and how they authenticate.
type vendor struct {
	defaultBase string // "" → api_base is required
	keyEnv      string // LiteLLM's environment variable for the key
	baseEnv     string // LiteLLM's environment variable for the base URL
	azure       bool   // deployment URLs, api-version, api-key header
}

// vendors maps the LiteLLM provider prefix to its defaults. Keys and bases
// come from the deployment first, then from these environment variables, the
// same ones LiteLLM reads.
var vendors = map[string]vendor{
	"openai":       {defaultBase: "https://api.openai.com/v1", keyEnv: "OPENAI_API_KEY", baseEnv: "OPENAI_BASE_URL"},
	"azure":        {keyEnv: "AZURE_API_KEY", baseEnv: "AZURE_API_BASE", azure: true},
	"openrouter":   {defaultBase: "https://openrouter.ai/api/v1", keyEnv: "OPENROUTER_API_KEY", baseEnv: "OPENROUTER_API_BASE"},
	"groq":         {defaultBase: "https://api.groq.com/openai/v1", keyEnv: "GROQ_API_KEY", baseEnv: "GROQ_API_BASE"},
	"mistral":      {defaultBase: "https://api.mistral.ai/v1", keyEnv: "MISTRAL_API_KEY", baseEnv: "MISTRAL_API_BASE"},
	"deepseek":     {defaultBase: "https://api.deepseek.com", keyEnv: "DEEPSEEK_API_KEY", baseEnv: "DEEPSEEK_API_BASE"},
	"perplexity":   {defaultBase: "https://api.perplexity.ai", keyEnv: "PERPLEXITYAI_API_KEY", baseEnv: "PERPLEXITY_API_BASE"},
	"together_ai":  {defaultBase: "https://api.together.xyz/v1", keyEnv: "TOGETHERAI_API_KEY", baseEnv: "TOGETHER_AI_API_BASE"},
	"fireworks_ai": {defaultBase: "https://api.fireworks.ai/inference/v1", keyEnv: "FIREWORKS_AI_API_KEY", baseEnv: "FIREWORKS_AI_API_BASE"},
	"xai":          {defaultBase: "https://api.x.ai/v1", keyEnv: "XAI_API_KEY", baseEnv: "XAI_API_BASE"},
	"cerebras":     {defaultBase: "https://api.cerebras.ai/v1", keyEnv: "CEREBRAS_API_KEY", baseEnv: "CEREBRAS_API_BASE"},
	"hosted_vllm":  {keyEnv: "HOSTED_VLLM_API_KEY", baseEnv: "HOSTED_VLLM_API_BASE"},
	"vllm":         {keyEnv: "HOSTED_VLLM_API_KEY", baseEnv: "HOSTED_VLLM_API_BASE"},
	"lm_studio":    {defaultBase: "http://localhost:1234/v1", keyEnv: "LM_STUDIO_API_KEY", baseEnv: "LM_STUDIO_API_BASE"},
}

// Handles reports whether provider is served by this package.
func Handles(provider string) bool {
	_, ok := vendors[provider]
	return ok
}

// Providers lists the provider prefixes this package serves.
func Providers() []string {
	out := make([]string, 0, len(vendors))
	for name := range vendors {
		out = append(out, name)
	}
	return out
}

// defaultAzureAPIVersion is a GA version that supports stream_options,
// json_schema and max_completion_tokens.
const defaultAzureAPIVersion = "2024-10-21"
