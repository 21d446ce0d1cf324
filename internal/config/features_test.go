package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestFeatureTableCoversEveryKey keeps the implemented-or-not table and the
// typed config in step: a new typed key without a table entry would parse
// silently, and a stale table entry would accept a key nothing reads.
func TestFeatureTableCoversEveryKey(t *testing.T) {
	l := newLoader(nil)
	table := features()
	sections := map[string]reflect.Type{
		"router_settings":           reflect.TypeFor[RouterSettings](),
		"litellm_settings":          reflect.TypeFor[LiteLLMSettings](),
		"general_settings":          reflect.TypeFor[GeneralSettings](),
		"model_list.litellm_params": reflect.TypeFor[LiteLLMParams](),
		"model_list.model_info":     reflect.TypeFor[ModelInfo](),
	}
	typed := map[string]bool{}
	for prefix, typ := range sections {
		for _, name := range l.info(typ).names {
			key := prefix + "." + name
			typed[key] = true
			if _, ok := table[key]; !ok {
				t.Errorf("features() has no entry for %s", key)
			}
		}
	}
	for _, name := range topLevelKeys() {
		switch name {
		case "router_settings", "litellm_settings", "general_settings":
			continue // their keys are listed one by one
		}
		typed[name] = true
		if _, ok := table[name]; !ok {
			t.Errorf("features() has no entry for top-level %s", name)
		}
	}
	typed["model_list.model_name"] = true
	for key := range table {
		if typed[key] || strings.HasPrefix(key, "model_list.litellm_params.") {
			continue // untyped litellm_params keys are the Extra list
		}
		t.Errorf("features() lists %s, which no Config field reads", key)
	}
}

// TestImplementedNow pins the keys the brief says work today, so flipping
// one off by accident fails loudly.
func TestImplementedNow(t *testing.T) {
	table := features()
	for _, key := range []string{
		"model_list", "model_list.model_name", "environment_variables", "include",
		"model_list.litellm_params.model", "model_list.litellm_params.api_key", "model_list.litellm_params.api_base",
		"model_list.litellm_params.api_version", "model_list.litellm_params.organization", "model_list.litellm_params.timeout",
		"model_list.litellm_params.stream_timeout", "model_list.litellm_params.extra_headers",
		"model_list.litellm_params.input_cost_per_token", "model_list.litellm_params.output_cost_per_token",
		"model_list.litellm_params.mock_response", "model_list.model_info.id", "model_list.model_info.mode",
		"general_settings.master_key", "general_settings.max_request_size_mb", "litellm_settings.request_timeout",
		"router_settings.timeout", "router_settings.stream_timeout", "litellm_settings.drop_params",
		"general_settings.database_url", "router_settings.redis_host", "router_settings.redis_url",
		"model_list.litellm_params.rpm", "model_list.litellm_params.tpm", "model_list.litellm_params.weight",
		"router_settings.routing_strategy", "router_settings.fallbacks", "router_settings.num_retries",
	} {
		if !table[key] {
			t.Errorf("%s should be implemented", key)
		}
	}
	for _, key := range []string{
		"model_list.litellm_params.region_name", "litellm_settings.cache", "litellm_settings.callbacks",
	} {
		if implemented, ok := table[key]; !ok || implemented {
			t.Errorf("%s should be listed as not implemented yet", key)
		}
	}
}
