package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic or hang, and that it keeps
// its contract: a config exactly when there is no error.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"",
		"model_list: &a [*a]\n",
		"a: &a {b: *a}\nmodel_list: [*a]\n",
		"model_list:\n  - model_name: x\n    litellm_params:\n      <<: [{model: openai/x}, {api_key: ${K}}]\n",
		"include: [fuzz.yaml]\n",
		"include: [/dev/zero]\n",
		"environment_variables: {A: os.environ/B}\ngeneral_settings: {master_key: os.environ/A}\n",
		"router_settings: {fallbacks: [{a: [b]}], model_group_alias: {x: {model: y}}}\n",
		"{? [a] : b}\n",
		"model_list: [{model_name: a, litellm_params: {model: mock/x, mock_latency_ms: 1e400}}]\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	env := envOf(map[string]string{"K": "v", "B": "sk-x"})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := Parse("fuzz.yaml", data, dir, env)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("cfg = %v, err = %v: exactly one must be nil", cfg, err)
		}
		if err != nil {
			_ = err.Error()
		}
	})
}
