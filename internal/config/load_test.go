package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// envOf turns a map into a lookupEnv function.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// parse runs Parse on an inline config in a temporary directory.
func parse(t *testing.T, src string, env map[string]string) (*Config, []Warning, Problems) {
	t.Helper()
	cfg, ws, err := Parse("config.yaml", []byte(src), t.TempDir(), envOf(env))
	return cfg, ws, problemsOf(t, cfg, err)
}

func problemsOf(t *testing.T, cfg *Config, err error) Problems {
	t.Helper()
	if err == nil {
		if cfg == nil {
			t.Fatal("nil config with nil error")
		}
		return nil
	}
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T, want *Problems: %v", err, err)
	}
	if cfg != nil {
		t.Error("config returned together with problems")
	}
	if len(*ps) == 0 {
		t.Error("empty *Problems returned as an error")
	}
	return *ps
}

// mustParse parses a config that must load without problems.
func mustParse(t *testing.T, src string, env map[string]string) (*Config, []Warning) {
	t.Helper()
	cfg, ws, ps := parse(t, src, env)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	return cfg, ws
}

func warningPaths(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Path)
	}
	return out
}

func findProblem(ps Problems, path string) (Problem, bool) {
	for _, p := range ps {
		if p.Path == path {
			return p, true
		}
	}
	return Problem{}, false
}

func findWarning(ws []Warning, path string) (Warning, bool) {
	for _, w := range ws {
		if w.Path == path {
			return w, true
		}
	}
	return Warning{}, false
}

// docsEnv is what a deployment of testdata/litellm_docs.yaml would export.
func docsEnv() map[string]string {
	return map[string]string{
		"AZURE_API_KEY_EU":      "azure-eu-secret",
		"AZURE_API_KEY_CA":      "azure-ca-secret",
		"OPENAI_API_KEY":        "sk-openai-secret",
		"ANTHROPIC_API_KEY":     "sk-ant-secret",
		"AWS_ACCESS_KEY_ID":     "AKIA-secret",
		"AWS_SECRET_ACCESS_KEY": "aws-secret",
		"REDIS_PASSWORD":        "redis-secret",
		"LITELLM_MASTER_KEY":    "sk-master-secret",
		"DATABASE_URL":          "postgres://u:p@db/litellm",
	}
}

func TestLoadLiteLLMDocsConfig(t *testing.T) {
	cfg, ws, err := Load("testdata/litellm_docs.yaml", envOf(docsEnv()))
	if err != nil {
		t.Fatalf("a LiteLLM config from the docs must load unchanged:\n%v", err)
	}

	// Exactly the keys Switchboard does not act on yet, each once.
	want := []string{
		"model_list[5].model_info.base_model",
		"litellm_settings.success_callback",
		"litellm_settings.callbacks",
		"general_settings.alerting",
		"general_settings.proxy_batch_write_at",
		"general_settings.database_connection_pool_limit",
	}
	if got := warningPaths(ws); !slices.Equal(got, want) {
		t.Errorf("warnings:\n got %q\nwant %q", got, want)
	}
	for _, w := range ws {
		if w.File != "testdata/litellm_docs.yaml" || w.Line == 0 {
			t.Errorf("warning without location: %v", w)
		}
		if !strings.Contains(w.Message, "parsed but not implemented yet") {
			t.Errorf("unexpected warning: %v", w)
		}
	}
	if w, _ := findWarning(ws, "litellm_settings.callbacks"); w.String() != "testdata/litellm_docs.yaml:47: litellm_settings.callbacks: parsed but not implemented yet; it has no effect" {
		t.Errorf("callbacks warning = %q", w.String())
	}
	// A key set in several entries warns once, counting them.
	src := "model_list:\n"
	for _, m := range []string{"x", "y", "z"} {
		src += "  - model_name: a\n    litellm_params: {model: openai/" + m + ", region_name: eu}\n"
	}
	_, rws := mustParse(t, src, nil)
	if w, _ := findWarning(rws, "model_list[0].litellm_params.region_name"); len(rws) != 1 || !strings.Contains(w.Message, "set in 3 model_list entries") {
		t.Errorf("region_name warnings should be one counting entries: %v", rws)
	}

	type entry struct{ name, provider, upstream string }
	var got []entry
	for _, e := range cfg.ModelList {
		got = append(got, entry{e.ModelName, e.Provider, e.UpstreamModel})
	}
	wantEntries := []entry{
		{"gpt-4o", "azure", "gpt-4o-eu"},
		{"gpt-4o", "azure", "gpt-4o-ca"},
		{"gpt-4o", "openai", "gpt-4o"},
		{"claude-sonnet", "anthropic", "claude-3-5-sonnet-20240620"},
		{"bedrock-claude", "bedrock", "anthropic.claude-3-sonnet-20240229-v1:0"},
		{"text-embedding-3-small", "openai", "text-embedding-3-small"},
	}
	if !slices.Equal(got, wantEntries) {
		t.Errorf("entries:\n got %v\nwant %v", got, wantEntries)
	}

	e0 := cfg.ModelList[0]
	if e0.Params.APIKey != "azure-eu-secret" || e0.Params.APIVersion != "2024-06-01" || *e0.Params.RPM != 6 {
		t.Errorf("entry 0 params = %+v", e0.Params)
	}
	if e0.File != "testdata/litellm_docs.yaml" || e0.Line != 3 {
		t.Errorf("entry 0 location = %s:%d", e0.File, e0.Line)
	}
	ids := map[string]bool{}
	for _, e := range cfg.ModelList {
		if len(e.ID) != 16 || ids[e.ID] {
			t.Errorf("bad or duplicate id %q", e.ID)
		}
		ids[e.ID] = true
	}
	e2 := cfg.ModelList[2]
	if e2.Params.Timeout.Std() != 300*time.Second || e2.Params.StreamTimeout.Std() != 30*time.Second {
		t.Errorf("timeouts = %v, %v", e2.Params.Timeout, e2.Params.StreamTimeout)
	}
	if e2.Info.Extra["version"] != 2 {
		t.Errorf("model_info extras = %v", e2.Info.Extra)
	}
	if e4 := cfg.ModelList[4]; e4.Params.Extra["aws_region_name"] != "us-east-1" || e4.Params.Extra["aws_secret_access_key"] != "aws-secret" {
		t.Errorf("bedrock extras = %v", e4.Params.Extra)
	}
	if m := cfg.ModelList[5].Info; m.Mode != "embedding" || m.BaseModel != "text-embedding-3-small" {
		t.Errorf("model_info = %+v", m)
	}

	rs := cfg.RouterSettings
	// environment_variables feed references elsewhere in the file.
	if rs.RedisHost != "redis.internal" || rs.RedisPort == nil || *rs.RedisPort != 6379 || rs.RedisPassword != "redis-secret" {
		t.Errorf("redis = %q %v %q", rs.RedisHost, rs.RedisPort, rs.RedisPassword)
	}
	if rs.RoutingStrategy != "usage-based-routing-v2" || !isTrue(rs.EnablePreCallChecks) {
		t.Errorf("router settings = %+v", rs)
	}
	if len(rs.Fallbacks) != 1 || !slices.Equal(rs.Fallbacks[0]["gpt-4o"], []string{"claude-sonnet"}) {
		t.Errorf("fallbacks = %v", rs.Fallbacks)
	}
	ls := cfg.LiteLLMSettings
	if !isTrue(ls.DropParams) || ls.RequestTimeout.Std() != 600*time.Second || *ls.NumRetries != 3 ||
		!slices.Equal(ls.Callbacks, []string{"prometheus"}) || !slices.Equal(ls.SuccessCallback, []string{"langfuse"}) {
		t.Errorf("litellm settings = %+v", ls)
	}
	gs := cfg.GeneralSettings
	if gs.MasterKey != "sk-master-secret" || gs.DatabaseURL != "postgres://u:p@db/litellm" ||
		gs.ProxyBatchWriteAt.Std() != time.Minute || *gs.DatabaseConnectionPoolLimit != 10 {
		t.Errorf("general settings = %+v", gs)
	}
	if cfg.EnvironmentVariables["REDIS_PORT"] != "6379" || cfg.EnvironmentVariables["REDIS_HOST"] != "redis.internal" {
		t.Errorf("environment_variables = %v", cfg.EnvironmentVariables)
	}
	if !slices.Equal(cfg.Files, []string{"testdata/litellm_docs.yaml"}) || len(cfg.Include) != 0 {
		t.Errorf("files = %v, include = %v", cfg.Files, cfg.Include)
	}
}

func TestTypoIsAProblemWithLocationAndSuggestion(t *testing.T) {
	cfg, _, err := Load("testdata/typo.yaml", nil)
	ps := problemsOf(t, cfg, err)
	want := `testdata/typo.yaml:5:7: model_list[0].litellm_params.api_bsae: unknown key (did you mean "api_base"?)`
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	if len(ps) != 1 || ps[0].Line != 5 || ps[0].Column != 7 || ps[0].Path != "model_list[0].litellm_params.api_bsae" {
		t.Errorf("problems = %#v", ps)
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	cfg, _, err := Load("testdata/many_problems.yaml", nil)
	ps := problemsOf(t, cfg, err)
	want := map[string]string{
		"model_list[0].litellm_params.rpm":       `expected an integer, got a string ("lots")`,
		"model_list[0].litellm_params.tpm":       "must not be negative",
		"model_list[1].model_name":               "model_name is required",
		"model_list[1].litellm_params.model":     `unknown provider "nosuchprovider"`,
		"model_list[2].litellm_params.model":     "azure deployments need litellm_params.api_base",
		"model_list[2].litellm_params.weight":    "must not be negative",
		"model_list[3].litellm_params.model":     `cannot tell the provider of "my-local-model"`,
		"router_settings.routing_strategy":       `unknown routing strategy "fastest"`,
		"router_settings.fallbacks[0].gpt-4o[0]": `refers to model "gpt-5-turbo", which is not a model_name in model_list`,
		"router_settings.timeout":                "not a valid duration",
		"litellm_settings.master_key":            "it belongs in general_settings",
		"general_settings.master_key":            `must start with "sk-"`,
	}
	for path, msg := range want {
		p, ok := findProblem(ps, path)
		if !ok {
			t.Errorf("missing problem at %s", path)
			continue
		}
		if !strings.Contains(p.Message, msg) {
			t.Errorf("%s: message %q does not contain %q", path, p.Message, msg)
		}
		if p.File != "testdata/many_problems.yaml" || p.Line == 0 || p.Column == 0 {
			t.Errorf("%s: no location: %v", path, p)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	// One problem per line, sorted by position.
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(ps) {
		t.Errorf("Error() has %d lines for %d problems", len(lines), len(ps))
	}
	if !slices.IsSortedFunc(ps, func(a, b Problem) int { return a.Line - b.Line }) {
		t.Errorf("problems not sorted by line:\n%v", err)
	}
}

func TestUnknownKeySuggestions(t *testing.T) {
	tests := []struct {
		name, src, path, msg string
	}{
		{"typo in litellm_params", "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_bsae: y}\n",
			"model_list[0].litellm_params.api_bsae", `unknown key (did you mean "api_base"?)`},
		{"case and separators", "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, API-Key: y}\n",
			"model_list[0].litellm_params.API-Key", `did you mean "api_key"?`},
		{"swapped letters", "model_list:\n  - modle_name: a\n    litellm_params: {model: openai/x}\n",
			"model_list[0].modle_name", `did you mean "model_name"?`},
		{"top-level typo", "model_lsit: []\n", "model_lsit", `did you mean "model_list"?`},
		{"top-level key of another section", "master_key: sk-1\n", "master_key", "belongs in general_settings"},
		{"general key in litellm_settings", "litellm_settings:\n  master_key: sk-1\n", "litellm_settings.master_key", "unknown key in litellm_settings (it belongs in general_settings)"},
		{"router key in general_settings", "general_settings:\n  routing_strategy: least-busy\n", "general_settings.routing_strategy", "belongs in router_settings"},
		{"param at entry level", "model_list:\n  - model_name: a\n    api_key: x\n    litellm_params: {model: openai/x}\n",
			"model_list[0].api_key", "it belongs in litellm_params"},
		{"typo of another section's key", "router_settings:\n  master_kye: sk-1\n", "router_settings.master_kye", `did you mean "master_key", which belongs in general_settings?`},
		{"unknown extra in litellm_params", "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, temprature: 0.2}\n",
			"model_list[0].litellm_params.temprature", `did you mean "temperature"?`},
		{"nothing close", "general_settings:\n  zzzzzzzz: 1\n", "general_settings.zzzzzzzz", "unknown key in general_settings"},
		{"strict nested struct", "router_settings:\n  retry_policy: {TimeoutErrorRetires: 2}\n", "router_settings.retry_policy.TimeoutErrorRetires", `did you mean "TimeoutErrorRetries"?`},
		{"nested struct, nothing close", "router_settings:\n  retry_policy: {Everything: 2}\n", "router_settings.retry_policy.Everything", "unknown key; expected one of BadRequestErrorRetries, AuthenticationErrorRetries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, ps := parse(t, tt.src, nil)
			p, ok := findProblem(ps, tt.path)
			if !ok {
				t.Fatalf("no problem at %s; got:\n%v", tt.path, ps)
			}
			if !strings.Contains(p.Message, tt.msg) {
				t.Errorf("message %q does not contain %q", p.Message, tt.msg)
			}
		})
	}
}

func TestFreeFormPlacesAcceptAnyKey(t *testing.T) {
	cfg, ws := mustParse(t, `
model_list:
  - model_name: a
    litellm_params:
      model: openai/gpt-4o
      temperature: 0.2
      vertex_project: my-proj
      configurable_clientside_auth_params: ["api_base"]
    model_info:
      team: search
      nested: {any: [thing]}
      api_base: https://wrong.place
litellm_settings:
  cache_params: {type: redis, anything_goes: true}
`, nil)
	e := cfg.ModelList[0]
	if e.Params.Extra["temperature"] != 0.2 || e.Params.Extra["vertex_project"] != "my-proj" {
		t.Errorf("extras = %v", e.Params.Extra)
	}
	if e.Info.Extra["team"] != "search" {
		t.Errorf("model_info extras = %v", e.Info.Extra)
	}
	if cfg.LiteLLMSettings.CacheParams["anything_goes"] != true {
		t.Errorf("cache_params = %v", cfg.LiteLLMSettings.CacheParams)
	}
	// A litellm_params key under model_info is kept but flagged.
	if w, ok := findWarning(ws, "model_list[0].model_info.api_base"); !ok || !strings.Contains(w.Message, "belongs in litellm_params") {
		t.Errorf("warnings = %v", ws)
	}
}

func TestSecretReferences(t *testing.T) {
	env := map[string]string{
		"KEY":      "s3cr3t-value",
		"HOST":     "api.example.com",
		"PORT":     "8443",
		"RPM":      "600",
		"DEBUG":    "true",
		"TIMEOUT":  "45",
		"WEBHOOK":  "https://hooks.example/abc",
		"OVERRIDE": "from-process",
	}
	cfg, ws := mustParse(t, `
environment_variables:
  OVERRIDE: from-config
  DERIVED: os.environ/KEY
model_list:
  - model_name: a
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/KEY
      api_base: https://${HOST}:${PORT}/v1
      rpm: os.environ/RPM
      timeout: ${TIMEOUT}
      extra_headers:
        X-Auth: "Bearer ${KEY}"
        X-Over: os.environ/OVERRIDE
        X-Derived: os.environ/DERIVED
      drop_params: ${DEBUG}
      vertex_credentials: {nested: [os.environ/KEY, "${HOST}"]}
      organization: "literal $HOST and ${not a ref} and ${HOST"
litellm_settings:
  cache_params:
    type: redis
    password: os.environ/KEY
general_settings:
  alerting_args:
    webhooks: [os.environ/WEBHOOK]
`, env)
	if len(ws) == 0 {
		t.Log("warnings expected for not-implemented keys only")
	}
	p := cfg.ModelList[0].Params
	checks := []struct{ name, got, want string }{
		{"os.environ", p.APIKey, "s3cr3t-value"},
		{"interpolation", p.APIBase, "https://api.example.com:8443/v1"},
		{"nested map", p.ExtraHeaders["X-Auth"], "Bearer s3cr3t-value"},
		{"environment_variables win", p.ExtraHeaders["X-Over"], "from-config"},
		{"environment_variables resolve process env", p.ExtraHeaders["X-Derived"], "s3cr3t-value"},
		{"no partial refs", p.Organization, "literal $HOST and ${not a ref} and ${HOST"},
		{"settings map", cfg.LiteLLMSettings.CacheParams["password"].(string), "s3cr3t-value"},
		{"list in map", cfg.GeneralSettings.AlertingArgs["webhooks"].([]any)[0].(string), "https://hooks.example/abc"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if *p.RPM != 600 || p.Timeout.Std() != 45*time.Second || !isTrue(p.DropParams) {
		t.Errorf("typed values from env: rpm %v timeout %v drop_params %v", *p.RPM, p.Timeout, p.DropParams)
	}
	if got := p.Extra["vertex_credentials"].(map[string]any)["nested"].([]any); got[0] != "s3cr3t-value" || got[1] != "api.example.com" {
		t.Errorf("nested list = %v", got)
	}
	if cfg.EnvironmentVariables["DERIVED"] != "s3cr3t-value" || cfg.EnvironmentVariables["OVERRIDE"] != "from-config" {
		t.Errorf("environment_variables = %v", cfg.EnvironmentVariables)
	}
}

func TestUnsetVariables(t *testing.T) {
	t.Run("elsewhere: warning and empty value", func(t *testing.T) {
		cfg, ws := mustParse(t, `
model_list:
  - model_name: a
    litellm_params: {model: openai/gpt-4o, api_key: os.environ/MISSING_KEY, api_base: "https://${MISSING_HOST}/v1"}
`, nil)
		if cfg.ModelList[0].Params.APIKey != "" || cfg.ModelList[0].Params.APIBase != "https:///v1" {
			t.Errorf("params = %+v", cfg.ModelList[0].Params)
		}
		w, ok := findWarning(ws, "model_list[0].litellm_params.api_key")
		if !ok || w.Message != "refers to environment variable MISSING_KEY, which is not set; using an empty value" || w.Line != 4 {
			t.Errorf("warnings = %v", ws)
		}
		if _, ok := findWarning(ws, "model_list[0].litellm_params.api_base"); !ok {
			t.Errorf("no warning for ${MISSING_HOST}: %v", ws)
		}
	})
	for _, key := range []string{"master_key", "database_url"} {
		t.Run(key+": problem", func(t *testing.T) {
			_, _, ps := parse(t, "general_settings:\n  "+key+": os.environ/NOPE\n", nil)
			p, ok := findProblem(ps, "general_settings."+key)
			if !ok || p.Message != "refers to environment variable NOPE, which is not set" || p.Line != 2 {
				t.Errorf("problems = %v", ps)
			}
		})
	}
}

func TestSecretsNeverInMessages(t *testing.T) {
	const secret = "hunter2-very-secret"
	env := map[string]string{"S": secret}
	_, ws, ps := parse(t, `
model_list:
  - model_name: a
    litellm_params:
      model: os.environ/S
      rpm: os.environ/S
      timeout: os.environ/S
      drop_params: ${S}
      weight: os.environ/S
general_settings:
  master_key: os.environ/S
  max_request_size_mb: os.environ/S
router_settings:
  routing_strategy: ${S}
`, env)
	if len(ps) < 6 {
		t.Errorf("expected a problem per bad value, got:\n%v", ps)
	}
	all := ps.Error()
	for _, w := range ws {
		all += "\n" + w.String()
	}
	if strings.Contains(all, secret) || strings.Contains(all, "hunter2") {
		t.Errorf("a secret leaked into messages:\n%s", all)
	}
	if !strings.Contains(all, "environment variable S") {
		t.Errorf("messages should name the variable:\n%s", all)
	}
}

func TestIncludes(t *testing.T) {
	cfg, _, err := Load("testdata/include/main.yaml", envOf(map[string]string{"ANTHROPIC_API_KEY": "k"}))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range cfg.ModelList {
		names = append(names, e.ModelName)
	}
	if want := []string{"main-model", "included-model", "deep-model"}; !slices.Equal(names, want) {
		t.Errorf("model_list = %v, want %v (main first, then includes in order)", names, want)
	}
	if *cfg.RouterSettings.NumRetries != 2 || cfg.RouterSettings.Timeout.Std() != 30*time.Second {
		t.Errorf("router_settings not merged: %+v", cfg.RouterSettings)
	}
	if cfg.GeneralSettings.MasterKey != "sk-from-include" || cfg.ModelList[1].Params.APIKey != "k" {
		t.Errorf("included values missing")
	}
	if e := cfg.ModelList[2]; e.File != "testdata/include/sub/deeper.yaml" || e.Line != 2 {
		t.Errorf("included entry location = %s:%d", e.File, e.Line)
	}
	wantFiles := []string{"testdata/include/main.yaml", "testdata/include/models.yaml", "testdata/include/sub/more.yaml", "testdata/include/sub/deeper.yaml"}
	if !slices.Equal(cfg.Files, wantFiles) || !slices.Equal(cfg.Include, wantFiles[1:]) {
		t.Errorf("files = %v, include = %v", cfg.Files, cfg.Include)
	}
}

func TestIncludeProblems(t *testing.T) {
	tests := []struct{ file, path, msg string }{
		{"testdata/include/cycle_a.yaml", "include[0]", "include cycle: testdata/include/cycle_a.yaml → testdata/include/cycle_b.yaml → testdata/include/cycle_a.yaml"},
		{"testdata/include/dup_main.yaml", "router_settings.num_retries", "set in both testdata/include/dup_main.yaml:3 and testdata/include/dup_other.yaml:2"},
		{"testdata/include/missing.yaml", "include[0]", "cannot read config"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, _, err := Load(tt.file, nil)
			ps := problemsOf(t, cfg, err)
			p, ok := findProblem(ps, tt.path)
			if !ok || !strings.Contains(p.Message, tt.msg) {
				t.Errorf("want %s: %q; got:\n%v", tt.path, tt.msg, err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	cfg, _, err := Load("testdata/nope.yaml", nil)
	ps := problemsOf(t, cfg, err)
	if ps[0].File != "testdata/nope.yaml" || !strings.Contains(ps[0].Message, "cannot read config") {
		t.Errorf("problem = %v", ps[0])
	}
}

func TestBadTypes(t *testing.T) {
	tests := []struct {
		name, src, path, msg string
	}{
		{"string for int", "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, tpm: \"100\"}\n", "model_list[0].litellm_params.tpm", `expected an integer, got a string ("100")`},
		{"fraction for int", "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, rpm: 1.5}\n", "model_list[0].litellm_params.rpm", "expected an integer"},
		{"list for string", "model_list:\n  - model_name: [a]\n    litellm_params: {model: openai/x}\n", "model_list[0].model_name", "expected a string, got a list"},
		{"bool for string", "general_settings:\n  master_key: true\n", "general_settings.master_key", "quote it"},
		{"string for bool", "litellm_settings:\n  drop_params: maybe\n", "litellm_settings.drop_params", "expected true or false"},
		{"mapping for list", "litellm_settings:\n  callbacks: {a: b}\n", "litellm_settings.callbacks", "expected a list, got a mapping"},
		{"scalar for mapping", "router_settings: fast\n", "router_settings", "expected a mapping"},
		{"scalar for model_list", "model_list: gpt-4o\n", "model_list", "expected a list"},
		{"bad fallbacks shape", "router_settings:\n  fallbacks: [gpt-4o]\n", "router_settings.fallbacks[0]", "expected a mapping"},
		{"bad duration", "router_settings:\n  timeout: 5 minutes\n", "router_settings.timeout", "not a valid duration"},
		{"int overflow", "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, order: 99999999999999999999}\n", "model_list[0].litellm_params.order", "integer"},
		{"nan cost", "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, input_cost_per_token: .nan}\n", "model_list[0].litellm_params.input_cost_per_token", "finite"},
		{"duplicate key", "litellm_settings:\n  drop_params: true\n  drop_params: false\n", "litellm_settings.drop_params", "set twice (first at line 2)"},
		{"duplicate section", "router_settings: {num_retries: 1}\nmodel_list: []\nrouter_settings: {timeout: 5}\n", "router_settings", "section set twice (first at line 1)"},
		{"env map value", "environment_variables:\n  A: [1]\n", "environment_variables.A", "expected a string"},
		{"mock knob not int", "model_list:\n  - model_name: a\n    litellm_params: {model: mock/x, mock_latency_ms: fast}\n", "model_list[0].litellm_params.mock_latency_ms", "non-negative integer"},
		{"alias target shape", "router_settings:\n  model_group_alias: {a: [b]}\n", "router_settings.model_group_alias.a", "expected a model group name"},
		{"bad token_rate_limit_type", "general_settings:\n  token_rate_limit_type: both\n", "general_settings.token_rate_limit_type", "expected input, output or total"},
		{"zero parallel", "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, max_parallel_requests: 0}\n", "model_list[0].litellm_params.max_parallel_requests", "at least 1"},
		{"negative cooldown", "router_settings:\n  cooldown_time: -1\n", "router_settings.cooldown_time", "must not be negative"},
		{"negative model_info tokens", "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {max_input_tokens: -1}\n", "model_list[0].model_info.max_input_tokens", "must not be negative"},
		{"empty master key", "general_settings:\n  master_key: \"\"\n", "general_settings.master_key", "is empty"},
		{"missing litellm_params", "model_list:\n  - model_name: a\n", "model_list[0]", "litellm_params is required"},
		{"missing model", "model_list:\n  - model_name: a\n    litellm_params: {api_key: x}\n", "model_list[0].litellm_params", "litellm_params.model is required"},
		{"multiple documents", "model_list: []\n---\nmodel_list: []\n", "", "single YAML document"},
		{"syntax error", "model_list:\n  - model_name: a\n   litellm_params: {}\n", "", "invalid YAML"},
		{"top level list", "- a\n- b\n", "", "top level must be a mapping"},
		{"recursive alias", "model_list: &a\n  - model_name: x\n    litellm_params: {model: openai/x, tags: *a}\n", "model_list[0].litellm_params.tags", "alias *a refers to a value that contains it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, ps := parse(t, tt.src, nil)
			p, ok := findProblem(ps, tt.path)
			if !ok {
				t.Fatalf("no problem at %q; got:\n%v", tt.path, ps)
			}
			if !strings.Contains(p.Message, tt.msg) {
				t.Errorf("message %q does not contain %q", p.Message, tt.msg)
			}
			if p.File != "config.yaml" || p.Line == 0 {
				t.Errorf("problem without location: %#v", p)
			}
		})
	}
}

func TestLenientScalars(t *testing.T) {
	cfg, _ := mustParse(t, `
model_list:
  - model_name: 4
    litellm_params:
      model: azure/x
      api_base: https://x.openai.azure.com
      api_version: 2024-06-01
      tpm: 1e6
      drop_params: yes
router_settings:
  redis_port: "6379"
`, nil)
	e := cfg.ModelList[0]
	if e.ModelName != "4" || e.Params.APIVersion != "2024-06-01" || *e.Params.TPM != 1_000_000 || !isTrue(e.Params.DropParams) {
		t.Errorf("entry = %+v", e)
	}
	if *cfg.RouterSettings.RedisPort != 6379 {
		t.Errorf("redis_port = %v", *cfg.RouterSettings.RedisPort)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	cfg, _ := mustParse(t, `
model_list:
  - model_name: a
    litellm_params: &defaults
      model: openai/gpt-4o
      api_key: os.environ/KEY
      timeout: 30
  - model_name: b
    litellm_params:
      <<: *defaults
      model: openai/gpt-4o-mini
`, map[string]string{"KEY": "k"})
	b := cfg.ModelList[1].Params
	if b.Model != "openai/gpt-4o-mini" || b.APIKey != "k" || b.Timeout.Std() != 30*time.Second {
		t.Errorf("merged params = %+v", b)
	}
	if cfg.ModelList[0].ID == cfg.ModelList[1].ID {
		t.Error("different deployments share an id")
	}
}

func TestDefaultsAndEnvFallbacks(t *testing.T) {
	cfg, _ := mustParse(t, "model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o}\n", map[string]string{
		"LITELLM_MASTER_KEY": "sk-env",
		"DATABASE_URL":       "postgres://db",
		"STORE_MODEL_IN_DB":  "True",
	})
	if cfg.LiteLLMSettings.RequestTimeout.Std() != 6000*time.Second {
		t.Errorf("request_timeout default = %v", cfg.LiteLLMSettings.RequestTimeout)
	}
	if cfg.GeneralSettings.MaxRequestSizeMB != 0 {
		t.Errorf("max_request_size_mb default = %d", cfg.GeneralSettings.MaxRequestSizeMB)
	}
	gs := cfg.GeneralSettings
	if gs.MasterKey != "sk-env" || gs.DatabaseURL != "postgres://db" || !isTrue(gs.StoreModelInDB) {
		t.Errorf("env fallbacks = %q %q %v", gs.MasterKey, gs.DatabaseURL, gs.StoreModelInDB)
	}

	// The file wins over the environment.
	cfg, _ = mustParse(t, "general_settings: {master_key: sk-file}\nmodel_list: []\n", map[string]string{"LITELLM_MASTER_KEY": "sk-env"})
	if cfg.GeneralSettings.MasterKey != "sk-file" {
		t.Errorf("master_key = %q", cfg.GeneralSettings.MasterKey)
	}
	_, _, ps := parse(t, "model_list: []\n", map[string]string{"LITELLM_MASTER_KEY": "no-prefix"})
	if p, ok := findProblem(ps, "general_settings.master_key"); !ok || !strings.Contains(p.Message, "LITELLM_MASTER_KEY") {
		t.Errorf("problems = %v", ps)
	}
}

func TestEmptyConfig(t *testing.T) {
	for _, src := range []string{"", "# just a comment\n", "~\n", "model_list:\n"} {
		cfg, ws := mustParse(t, src, nil)
		if len(cfg.ModelList) != 0 || cfg.LiteLLMSettings.RequestTimeout == 0 {
			t.Errorf("%q: config = %+v", src, cfg)
		}
		if _, ok := findWarning(ws, "model_list"); !ok {
			t.Errorf("%q: no warning about an empty model_list: %v", src, ws)
		}
	}
}

func TestFeatureWarningsOnlyWhenSet(t *testing.T) {
	_, ws := mustParse(t, `
model_list:
  - model_name: a
    litellm_params: {model: openai/gpt-4o, api_key: k, api_base: "http://x", timeout: 5, mock_response: hi, tags: []}
    model_info: {id: x, mode: chat}
litellm_settings:
  drop_params: true
  request_timeout: 30
  cache: false
  callbacks: []
  json_logs: ~
router_settings: {timeout: 10, stream_timeout: 5}
general_settings: {master_key: sk-1, max_request_size_mb: 5, disable_spend_logs: false}
environment_variables: {A: b}
`, nil)
	if len(ws) != 0 {
		t.Errorf("implemented or empty keys must not warn; got %v", ws)
	}
	_, ws = mustParse(t, "credential_list:\n  - credential_name: c\n    credential_values: {api_key: k}\nmodel_list: []\ngeneral_settings: {store_model_in_db: true}\n", nil)
	if w, ok := findWarning(ws, "credential_list"); !ok || !strings.Contains(w.Message, "section is parsed but not implemented yet") {
		t.Errorf("warnings = %v", ws)
	}
}
