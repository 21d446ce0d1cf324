package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestResolveModel(t *testing.T) {
	tests := []struct {
		model, provider, upstream string
		ok                        bool
	}{
		{"openai/gpt-4o", "openai", "gpt-4o", true},
		{"azure/my-deployment", "azure", "my-deployment", true},
		{"openrouter/anthropic/claude-3", "openrouter", "anthropic/claude-3", true},
		{"bedrock/anthropic.claude-3-sonnet-20240229-v1:0", "bedrock", "anthropic.claude-3-sonnet-20240229-v1:0", true},
		{"hosted_vllm/meta-llama/Llama-3-8B", "hosted_vllm", "meta-llama/Llama-3-8B", true},
		{"openai/*", "openai", "*", true},
		{"mock/anything", "mock", "anything", true},
		{"gpt-4o", "openai", "gpt-4o", true},
		{"gpt-4o-mini", "openai", "gpt-4o-mini", true},
		{"o1-preview", "openai", "o1-preview", true},
		{"o3-mini", "openai", "o3-mini", true},
		{"o4-mini", "openai", "o4-mini", true},
		{"chatgpt-4o-latest", "openai", "chatgpt-4o-latest", true},
		{"text-embedding-3-large", "openai", "text-embedding-3-large", true},
		{"dall-e-3", "openai", "dall-e-3", true},
		{"whisper-1", "openai", "whisper-1", true},
		{"tts-1-hd", "openai", "tts-1-hd", true},
		{"omni-moderation-latest", "openai", "omni-moderation-latest", true},
		{"text-moderation-stable", "openai", "text-moderation-stable", true},
		{"davinci-002", "openai", "davinci-002", true},
		{"babbage-002", "openai", "babbage-002", true},
		{"ft:gpt-4o-mini:org::abc123", "openai", "ft:gpt-4o-mini:org::abc123", true},
		{"claude-3-5-sonnet-20240620", "anthropic", "claude-3-5-sonnet-20240620", true},
		{"gemini-1.5-pro", "gemini", "gemini-1.5-pro", true},
		{"command-r-plus", "cohere", "command-r-plus", true},
		{"embed-english-v3.0", "cohere", "embed-english-v3.0", true},
		{"rerank-english-v3.0", "cohere", "rerank-english-v3.0", true},
		{"mistral-large-latest", "mistral", "mistral-large-latest", true},
		{"mixtral-8x7b", "mistral", "mixtral-8x7b", true},
		{"codestral-latest", "mistral", "codestral-latest", true},
		{"open-mistral-nemo", "mistral", "open-mistral-nemo", true},
		{"deepseek-chat", "deepseek", "deepseek-chat", true},
		{"grok-2", "xai", "grok-2", true},
		{"llama3", "", "", false},
		{"my-model", "", "", false},
		{"unknown/gpt-4o", "", "", false},
		{"openai/", "", "", false},
		{"", "", "", false},
		{"*", "", "", false},
	}
	for _, tt := range tests {
		p, u, ok := ResolveModel(tt.model)
		if p != tt.provider || u != tt.upstream || ok != tt.ok {
			t.Errorf("ResolveModel(%q) = %q, %q, %v; want %q, %q, %v", tt.model, p, u, ok, tt.provider, tt.upstream, tt.ok)
		}
	}
}

func TestKnownProviders(t *testing.T) {
	ps := KnownProviders()
	if !slices.IsSorted(ps) {
		t.Error("KnownProviders is not sorted")
	}
	for _, want := range []string{"openai", "azure", "azure_ai", "anthropic", "gemini", "vertex_ai", "bedrock", "cohere", "cohere_chat", "ollama", "ollama_chat", "hosted_vllm", "vllm", "openrouter", "groq", "mistral", "deepseek", "perplexity", "together_ai", "fireworks_ai", "xai", "cerebras", "lm_studio", "huggingface", "sagemaker", "watsonx", "databricks", "mock"} {
		if !slices.Contains(ps, want) {
			t.Errorf("missing provider %q", want)
		}
	}
	ps[0] = "mutated"
	if KnownProviders()[0] == "mutated" {
		t.Error("KnownProviders shares its backing array")
	}
}

func TestProviderProblems(t *testing.T) {
	tests := []struct{ model, msg string }{
		{"opnai/gpt-4o", `unknown provider "opnai" (did you mean "openai"?); known providers: anthropic, azure,`},
		{"llama3", `cannot tell the provider of "llama3": write it as "<provider>/<model>"`},
	}
	for _, tt := range tests {
		_, _, ps := parse(t, "model_list:\n  - model_name: a\n    litellm_params: {model: "+tt.model+"}\n", nil)
		p, ok := findProblem(ps, "model_list[0].litellm_params.model")
		if !ok || !strings.Contains(p.Message, tt.msg) {
			t.Errorf("%s: got %v", tt.model, ps)
		}
		if !strings.Contains(p.Message, "mock") {
			t.Errorf("%s: message should list the known providers: %q", tt.model, p.Message)
		}
	}
}

func TestCustomLLMProvider(t *testing.T) {
	cfg, _ := mustParse(t, "model_list:\n  - model_name: a\n    litellm_params: {model: my-finetune, custom_llm_provider: openai, api_base: http://vllm:8000/v1}\n", nil)
	if e := cfg.ModelList[0]; e.Provider != "openai" || e.UpstreamModel != "my-finetune" {
		t.Errorf("entry = %s %s", e.Provider, e.UpstreamModel)
	}
}

func TestForModel(t *testing.T) {
	cfg, err := ForModel("openai/gpt-4o")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.ModelList) != 1 {
		t.Fatalf("model_list = %v", cfg.ModelList)
	}
	e := cfg.ModelList[0]
	if e.ModelName != "openai/gpt-4o" || e.Params.Model != "openai/gpt-4o" || e.Provider != "openai" || e.UpstreamModel != "gpt-4o" || len(e.ID) != 16 {
		t.Errorf("entry = %+v", e)
	}
	if cfg.LiteLLMSettings.RequestTimeout.Seconds() != 6000 {
		t.Errorf("defaults not applied: %v", cfg.LiteLLMSettings.RequestTimeout)
	}
	// The quick mode and a one-entry file describe the same deployment.
	fileCfg, _ := mustParse(t, "model_list:\n  - model_name: openai/gpt-4o\n    litellm_params: {model: openai/gpt-4o}\n", nil)
	if fileCfg.ModelList[0].ID != e.ID {
		t.Errorf("ForModel id %s differs from the file's %s", e.ID, fileCfg.ModelList[0].ID)
	}

	if cfg, err := ForModel("claude-3-5-haiku-20241022"); err != nil || cfg.ModelList[0].Provider != "anthropic" {
		t.Errorf("bare name: %v %v", cfg, err)
	}
	for _, bad := range []string{"", "llama3", "nope/x"} {
		cfg, err := ForModel(bad)
		var ps *Problems
		if cfg != nil || !errors.As(err, &ps) {
			t.Errorf("ForModel(%q) = %v, %v; want *Problems", bad, cfg, err)
		}
	}
}

func TestDeploymentIDs(t *testing.T) {
	t.Run("duplicate model_info.id", func(t *testing.T) {
		_, _, ps := parse(t, `
model_list:
  - model_name: a
    litellm_params: {model: openai/gpt-4o}
    model_info: {id: dep-1}
  - model_name: b
    litellm_params: {model: openai/gpt-4o-mini}
    model_info: {id: dep-1}
`, nil)
		p, ok := findProblem(ps, "model_list[1].model_info.id")
		if !ok || !strings.Contains(p.Message, `duplicate id "dep-1" (also used by model_list[0] at config.yaml:3)`) || p.Line != 8 {
			t.Errorf("problems = %v", ps)
		}
	})
	t.Run("explicit id wins", func(t *testing.T) {
		cfg, _ := mustParse(t, "model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o}\n    model_info: {id: my-id}\n", nil)
		if cfg.ModelList[0].ID != "my-id" {
			t.Errorf("id = %q", cfg.ModelList[0].ID)
		}
	})
	t.Run("hash is stable and ignores key order and secret values", func(t *testing.T) {
		a, _ := mustParse(t, "model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o, api_key: os.environ/K, rpm: 5}\n", map[string]string{"K": "one"})
		b, _ := mustParse(t, "model_list:\n  - model_name: a\n    litellm_params:\n      rpm: 5\n      api_key: os.environ/K\n      model: openai/gpt-4o\n", map[string]string{"K": "two"})
		if a.ModelList[0].ID != b.ModelList[0].ID {
			t.Errorf("ids differ: %s %s", a.ModelList[0].ID, b.ModelList[0].ID)
		}
		c, _ := mustParse(t, "model_list:\n  - model_name: other\n    litellm_params: {model: openai/gpt-4o, api_key: os.environ/K, rpm: 5}\n", map[string]string{"K": "one"})
		if c.ModelList[0].ID == a.ModelList[0].ID {
			t.Error("model_name is not part of the id")
		}
	})
	t.Run("identical entries warn", func(t *testing.T) {
		_, ws := mustParse(t, "model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o}\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o}\n", nil)
		if w, ok := findWarning(ws, "model_list[1]"); !ok || !strings.Contains(w.Message, "identical to model_list[0]") {
			t.Errorf("warnings = %v", ws)
		}
	})
}

func TestWildcards(t *testing.T) {
	cfg, _ := mustParse(t, `
model_list:
  - model_name: "openai/*"
    litellm_params: {model: "openai/*", api_key: k}
  - model_name: "*"
    litellm_params: {model: "*"}
  - model_name: "anthropic/*"
    litellm_params: {model: "anthropic/*"}
router_settings:
  fallbacks: [{"openai/gpt-4o": ["anthropic/claude-3-haiku"]}, {"*": ["openai/gpt-4o-mini"]}]
`, nil)
	got := [][2]string{}
	for _, e := range cfg.ModelList {
		got = append(got, [2]string{e.Provider, e.UpstreamModel})
	}
	want := [][2]string{{"openai", "*"}, {"*", "*"}, {"anthropic", "*"}}
	if !slices.Equal(got, want) {
		t.Errorf("wildcards = %v, want %v", got, want)
	}
}

func TestFallbackReferences(t *testing.T) {
	base := "model_list:\n  - model_name: gpt-4o\n    litellm_params: {model: openai/gpt-4o}\n  - model_name: claude\n    litellm_params: {model: anthropic/claude-3-haiku-20240307}\n"
	tests := []struct {
		name, extra, path, msg string
		soft                   bool
	}{
		{"ok", "router_settings:\n  fallbacks: [{gpt-4o: [claude]}]\n  default_fallbacks: [claude]\n", "", "", false},
		{"wildcard key", "router_settings:\n  fallbacks: [{\"*\": [claude]}]\n", "", "", false},
		{"alias target", "router_settings:\n  model_group_alias: {gpt4: gpt-4o}\n  fallbacks: [{gpt4: [claude]}]\n", "", "", false},
		{"unknown target", "router_settings:\n  fallbacks: [{gpt-4o: [claud]}]\n", "router_settings.fallbacks[0].gpt-4o[0]", `refers to model "claud", which is not a model_name in model_list (did you mean "claude"?)`, false},
		{"unknown key", "router_settings:\n  context_window_fallbacks: [{gpt-5: [claude]}]\n", "router_settings.context_window_fallbacks[0].gpt-5", `refers to model "gpt-5"`, false},
		{"litellm_settings location", "litellm_settings:\n  content_policy_fallbacks: [{gpt-4o: [nope]}]\n", "litellm_settings.content_policy_fallbacks[0].gpt-4o[0]", `"nope"`, false},
		{"default_fallbacks", "litellm_settings:\n  default_fallbacks: [nope]\n", "litellm_settings.default_fallbacks[0]", `"nope"`, false},
		{"alias to nothing", "router_settings:\n  model_group_alias: {gpt4: {model: nope, hidden: true}}\n", "router_settings.model_group_alias.gpt4", `"nope"`, false},
		{"db models make it soft", "general_settings: {store_model_in_db: true}\nrouter_settings:\n  fallbacks: [{gpt-4o: [from-db]}]\n", "router_settings.fallbacks[0].gpt-4o[0]", "may be stored in the database", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ws, ps := parse(t, base+tt.extra, nil)
			if tt.path == "" {
				if ps != nil {
					t.Fatalf("unexpected problems:\n%v", ps)
				}
				return
			}
			if tt.soft {
				if w, ok := findWarning(ws, tt.path); !ok || !strings.Contains(w.Message, tt.msg) || ps != nil {
					t.Errorf("want warning %q at %s; warnings %v problems %v", tt.msg, tt.path, ws, ps)
				}
				return
			}
			if p, ok := findProblem(ps, tt.path); !ok || !strings.Contains(p.Message, tt.msg) {
				t.Errorf("want %q at %s; got:\n%v", tt.msg, tt.path, ps)
			}
		})
	}
}

func TestRoutingStrategy(t *testing.T) {
	for _, s := range routingStrategies() {
		mustParse(t, "model_list: []\nrouter_settings: {routing_strategy: "+s+"}\n", nil)
	}
	_, _, ps := parse(t, "router_settings: {routing_strategy: least_busy}\n", nil)
	if p, ok := findProblem(ps, "router_settings.routing_strategy"); !ok || !strings.Contains(p.Message, `did you mean "least-busy"?`) {
		t.Errorf("problems = %v", ps)
	}
}

func TestAzureNeedsAPIBase(t *testing.T) {
	src := "model_list:\n  - model_name: a\n    litellm_params: {model: azure/dep, api_key: k}\n"
	_, _, ps := parse(t, src, nil)
	if _, ok := findProblem(ps, "model_list[0].litellm_params.model"); !ok {
		t.Errorf("problems = %v", ps)
	}
	// LiteLLM falls back to AZURE_API_BASE; so do we.
	mustParse(t, src, map[string]string{"AZURE_API_BASE": "https://x.openai.azure.com"})
	// ... including when environment_variables sets it.
	mustParse(t, src+"environment_variables: {AZURE_API_BASE: https://x.openai.azure.com}\n", nil)
}

func TestMockProvider(t *testing.T) {
	cfg, ws := mustParse(t, `
model_list:
  - model_name: test
    litellm_params:
      model: mock/anything
      mock_response: "Hello!"
      mock_latency_ms: 20
      mock_prompt_tokens: 10
      mock_completion_tokens: 5
      mock_stream_chunks: 3
`, nil)
	e := cfg.ModelList[0]
	if e.Provider != "mock" || e.UpstreamModel != "anything" || *e.Params.MockResponse != "Hello!" || e.Params.Extra["mock_latency_ms"] != 20 || e.Params.Extra["mock_stream_chunks"] != 3 {
		t.Errorf("entry = %+v", e)
	}
	if len(ws) != 0 {
		t.Errorf("mock knobs must not warn: %v", ws)
	}
}

func TestSoftWarnings(t *testing.T) {
	_, ws := mustParse(t, `
model_list:
  - model_name: a
    litellm_params: {model: openai/gpt-4o, litellm_credential_name: nope}
    model_info: {mode: telepathy}
router_settings:
  optional_pre_call_checks: [prompt_caching, mind_reading]
`, nil)
	for _, path := range []string{"model_list[0].litellm_params.litellm_credential_name", "model_list[0].model_info.mode", "router_settings.optional_pre_call_checks[1]"} {
		if _, ok := findWarning(ws, path); !ok {
			t.Errorf("no warning at %s: %v", path, ws)
		}
	}
}

func TestMaxCooldownShare(t *testing.T) {
	cfg, ws := mustParse(t, "model_list: []\nrouter_settings: {max_cooldown_share: 0.25}\n", nil)
	if cfg.RouterSettings.MaxCooldownShare == nil || *cfg.RouterSettings.MaxCooldownShare != 0.25 {
		t.Errorf("max_cooldown_share = %v", cfg.RouterSettings.MaxCooldownShare)
	}
	for _, w := range ws {
		if strings.Contains(w.Path, "max_cooldown_share") {
			t.Errorf("warning for an implemented key: %v", w)
		}
	}
	for _, bad := range []string{"1.5", "-0.1"} {
		_, _, ps := parse(t, "router_settings: {max_cooldown_share: "+bad+"}\n", nil)
		if _, ok := findProblem(ps, "router_settings.max_cooldown_share"); !ok {
			t.Errorf("max_cooldown_share %s: problems = %v", bad, ps)
		}
	}
}
