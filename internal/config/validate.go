package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// validate checks what decoding cannot: values against each other and against
// what the rest of Switchboard needs. It fills in each entry's Provider and
// UpstreamModel on the way.
func (l *loader) validate(cfg *Config) {
	l.checkNegative(reflect.ValueOf(cfg).Elem(), "")
	for i := range cfg.ModelList {
		l.validateEntry(cfg, i)
	}
	l.checkIDs(cfg)
	l.validateRouter(cfg)
	l.validateGeneral(cfg)
	if len(cfg.ModelList) == 0 && !isTrue(cfg.GeneralSettings.StoreModelInDB) {
		l.warnAt(l.pos["model_list"], "model_list", "no models are configured, so the proxy will serve none")
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

// at returns the recorded position of the first of paths that was written in
// the file, so a message about a missing key points at its parent.
func (l *loader) at(paths ...string) (position, string) {
	for _, p := range paths {
		if pos, ok := l.pos[p]; ok {
			return pos, p
		}
	}
	return position{}, paths[0]
}

// checkNegative reports every negative number or duration in the config: no
// LiteLLM count, limit, cost or time span is meaningful below zero.
func (l *loader) checkNegative(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			l.checkNegative(v.Elem(), path)
		}
	case reflect.Struct:
		si := l.info(v.Type())
		for _, name := range si.names {
			l.checkNegative(v.Field(si.fields[name].index), joinPath(path, name))
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				l.checkNegative(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		}
	case reflect.Map:
		if k := v.Type().Elem().Kind(); k == reflect.Struct || k == reflect.Pointer {
			for _, key := range v.MapKeys() {
				l.checkNegative(v.MapIndex(key), joinPath(path, key.String()))
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Int() < 0 {
			l.problemPath(path, "must not be negative")
		}
	case reflect.Float32, reflect.Float64:
		if v.Float() < 0 {
			l.problemPath(path, "must not be negative")
		}
	}
}

func (l *loader) validateEntry(cfg *Config, i int) {
	e := &cfg.ModelList[i]
	base := fmt.Sprintf("model_list[%d]", i)
	pp := base + ".litellm_params"
	fromFile := len(l.files) > 0 // false for ForModel

	if strings.TrimSpace(e.ModelName) == "" {
		pos, path := l.at(base+".model_name", base)
		l.problemAt(pos, path, "model_name is required (the name clients send as \"model\")")
	}
	if _, ok := l.pos[pp]; fromFile && !ok {
		l.problemPath(base, "litellm_params is required")
	} else {
		l.resolveProvider(e, pp)
	}

	if e.Provider == "azure" && e.Params.APIBase == "" {
		// LiteLLM falls back to AZURE_API_BASE, so a config relying on it works there.
		if v, _ := l.lookup("AZURE_API_BASE"); v == "" {
			pos, path := l.at(pp+".model", pp, base)
			l.problemAt(pos, path, "azure deployments need litellm_params.api_base (https://<resource>.openai.azure.com) or AZURE_API_BASE in the environment")
		}
	}
	if e.Params.MaxParallelRequests != nil && *e.Params.MaxParallelRequests == 0 {
		l.problemPath(pp+".max_parallel_requests", "must be at least 1 (0 would refuse every request)")
	}
	for _, k := range []string{"mock_latency_ms", "mock_prompt_tokens", "mock_completion_tokens", "mock_stream_chunks"} {
		v, ok := e.Params.Extra[k]
		if !ok || v == nil {
			continue
		}
		if n, isInt := v.(int); !isInt || n < 0 {
			l.problemPath(pp+"."+k, "expected a non-negative integer")
		}
	}
	if name, ok := e.Params.Extra["litellm_credential_name"].(string); ok && name != "" {
		if !slices.ContainsFunc(cfg.CredentialList, func(c Credential) bool { return c.CredentialName == name }) {
			l.warnPath(pp+".litellm_credential_name", fmt.Sprintf("credential %s is not in credential_list (it may exist in the database)", l.show(pp+".litellm_credential_name", name)))
		}
	}

	ip := base + ".model_info"
	if m := e.Info.Mode; m != "" && !slices.Contains(modelModes(), m) {
		l.warnPath(ip+".mode", fmt.Sprintf("unknown mode %s; known modes: %s", l.show(ip+".mode", m), strings.Join(modelModes(), ", ")))
	}
	paramKeys := l.info(reflect.TypeFor[LiteLLMParams]()).fields
	for k := range e.Info.Extra {
		if _, isParam := paramKeys[k]; isParam {
			l.warnPath(ip+"."+k, "model_info is free-form metadata, so this has no effect here; it belongs in litellm_params")
		}
	}
}

// modelModes are the model_info.mode values LiteLLM knows. An unknown one is
// only a warning: LiteLLM adds modes often and only uses them for health
// checks and listings.
func modelModes() []string {
	return []string{
		"chat", "completion", "embedding", "image_generation", "image_edit",
		"audio_transcription", "audio_speech", "moderation", "rerank",
		"responses", "batch", "realtime", "video_generation", "ocr", "search",
	}
}

// resolveProvider sets e.Provider and e.UpstreamModel from litellm_params.model
// (and custom_llm_provider, which LiteLLM lets name the provider of a model
// written without a prefix).
func (l *loader) resolveProvider(e *ModelEntry, pp string) {
	model := e.Params.Model
	mpath := pp + ".model"
	shown := l.show(mpath, model)
	_, fromEnv := l.envAt[mpath]
	switch {
	case strings.TrimSpace(model) == "":
		pos, path := l.at(mpath, pp)
		l.problemAt(pos, path, "litellm_params.model is required (\"<provider>/<model>\", e.g. \"openai/gpt-4o\")")
		return
	case model == "*":
		// The catch-all deployment: the provider comes from each request's model.
		e.Provider, e.UpstreamModel = "*", "*"
		return
	}
	if cp, ok := e.Params.Extra["custom_llm_provider"].(string); ok && cp != "" {
		if !isKnownProvider(cp) {
			if _, isEnv := l.envAt[pp+".custom_llm_provider"]; isEnv {
				l.problemPath(pp+".custom_llm_provider", l.show(pp+".custom_llm_provider", cp)+" is not a known provider; "+knownProvidersList())
			} else {
				l.problemPath(pp+".custom_llm_provider", unknownProviderMessage(cp))
			}
			return
		}
		e.Provider, e.UpstreamModel = cp, strings.TrimPrefix(model, cp+"/")
		return
	}
	if p, u, ok := ResolveModel(model); ok {
		e.Provider, e.UpstreamModel = p, u
		return
	}
	if prefix, rest, found := strings.Cut(model, "/"); found && rest != "" && !fromEnv {
		l.problemPath(mpath, unknownProviderMessage(prefix))
		return
	}
	l.problemPath(mpath, fmt.Sprintf("cannot tell the provider of %s: write it as \"<provider>/<model>\" (e.g. \"openai/gpt-4o\"); %s", shown, knownProvidersList()))
}

// show renders a value decoded at path for a message: quoted, unless it came
// from an environment variable, which may be a secret and is named instead.
func (l *loader) show(path, v string) string {
	if name, ok := l.envAt[path]; ok {
		return "the value of environment variable " + name
	}
	return fmt.Sprintf("%q", v)
}

func (l *loader) fromEnv(path string) bool {
	_, ok := l.envAt[path]
	return ok
}

func (l *loader) hasProblem(path string) bool {
	return slices.ContainsFunc(l.problems, func(p Problem) bool { return p.Path == path })
}

func unknownProviderMessage(p string) string {
	msg := fmt.Sprintf("unknown provider %q", p)
	if s, ok := closestKey(p, KnownProviders()); ok {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + "; " + knownProvidersList()
}

func knownProvidersList() string {
	return "known providers: " + strings.Join(KnownProviders(), ", ")
}

// checkIDs reports model_info.id values used twice. Two entries without an id
// and with identical model_name and litellm_params get the same hashed id;
// that is probably a copy-paste slip but harmless, so it only warns.
func (l *loader) checkIDs(cfg *Config) {
	first := map[string]int{}
	for i := range cfg.ModelList {
		e := &cfg.ModelList[i]
		if e.Info.ID != "" {
			e.ID = e.Info.ID
		}
		if e.ID == "" {
			continue
		}
		j, dup := first[e.ID]
		if !dup {
			first[e.ID] = i
			continue
		}
		other := fmt.Sprintf("model_list[%d]", j)
		if p := l.pos[other]; p.file != "" {
			other += fmt.Sprintf(" at %s:%d", p.file, p.line)
		}
		if e.Info.ID != "" {
			l.problemPath(fmt.Sprintf("model_list[%d].model_info.id", i), fmt.Sprintf("duplicate id %s (also used by %s); deployment ids must be unique", l.show(fmt.Sprintf("model_list[%d].model_info.id", i), e.ID), other))
		} else {
			l.warnPath(fmt.Sprintf("model_list[%d]", i), "identical to "+other+" (same model_name and litellm_params); give one of them a model_info.id")
		}
	}
}

// routingStrategies are the strategies LiteLLM accepts from config.yaml.
func routingStrategies() []string {
	return []string{
		"simple-shuffle", "least-busy", "usage-based-routing", "usage-based-routing-v2",
		"latency-based-routing", "cost-based-routing",
	}
}

// preCallChecks are the optional_pre_call_checks LiteLLM documents.
func preCallChecks() []string {
	return []string{
		"router_budget_limiting", "prompt_caching", "responses_api_deployment_check",
		"encrypted_content_affinity", "deployment_affinity", "session_affinity",
		"forward_client_headers_by_model_group", "enforce_model_rate_limits",
	}
}

func (l *loader) validateRouter(cfg *Config) {
	rs := &cfg.RouterSettings
	if s := rs.RoutingStrategy; s != "" && !slices.Contains(routingStrategies(), s) {
		const path = "router_settings.routing_strategy"
		msg := "unknown routing strategy " + l.show(path, s)
		if sug, ok := closestKey(s, routingStrategies()); ok && !l.fromEnv(path) {
			msg += fmt.Sprintf(" (did you mean %q?)", sug)
		}
		l.problemPath("router_settings.routing_strategy", msg+"; expected one of "+strings.Join(routingStrategies(), ", "))
	}
	if v := rs.MaxCooldownShare; v != nil && *v > 1 {
		l.problemPath("router_settings.max_cooldown_share", fmt.Sprintf("is %v; it is a share of a model group, from 0 to 1", *v))
	}
	for i, c := range rs.OptionalPreCallChecks {
		if !slices.Contains(preCallChecks(), c) {
			path := fmt.Sprintf("router_settings.optional_pre_call_checks[%d]", i)
			l.warnPath(path, fmt.Sprintf("unknown pre-call check %s; known: %s", l.show(path, c), strings.Join(preCallChecks(), ", ")))
		}
	}

	groups := newGroupSet(cfg)
	// Models can also be added through the API when they are stored in the
	// database, so a name missing from the file is then only suspicious.
	soft := isTrue(cfg.GeneralSettings.StoreModelInDB)
	check := func(path, name string) {
		if groups.has(name) {
			return
		}
		msg := fmt.Sprintf("refers to model %s, which is not a model_name in model_list", l.show(path, name))
		if s, ok := closestKey(name, groups.names); ok && !l.fromEnv(path) {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		if soft {
			l.warnPath(path, msg+" (it may be stored in the database)")
		} else {
			l.problemPath(path, msg)
		}
	}
	checkFallbacks := func(path string, fbs Fallbacks) {
		for i, m := range fbs {
			for _, key := range sortedKeys(m) {
				kpath := fmt.Sprintf("%s[%d].%s", path, i, key)
				if key != "*" {
					check(kpath, key)
				}
				for j, target := range m[key] {
					check(fmt.Sprintf("%s[%d]", kpath, j), target)
				}
			}
		}
	}
	for _, s := range []struct {
		path string
		fbs  Fallbacks
	}{
		{"router_settings.fallbacks", rs.Fallbacks},
		{"router_settings.context_window_fallbacks", rs.ContextWindowFallbacks},
		{"router_settings.content_policy_fallbacks", rs.ContentPolicyFallbacks},
		{"litellm_settings.fallbacks", cfg.LiteLLMSettings.Fallbacks},
		{"litellm_settings.context_window_fallbacks", cfg.LiteLLMSettings.ContextWindowFallbacks},
		{"litellm_settings.content_policy_fallbacks", cfg.LiteLLMSettings.ContentPolicyFallbacks},
	} {
		checkFallbacks(s.path, s.fbs)
	}
	for i, name := range rs.DefaultFallbacks {
		check(fmt.Sprintf("router_settings.default_fallbacks[%d]", i), name)
	}
	for i, name := range cfg.LiteLLMSettings.DefaultFallbacks {
		check(fmt.Sprintf("litellm_settings.default_fallbacks[%d]", i), name)
	}
	for _, alias := range sortedKeys(rs.ModelGroupAlias) {
		check("router_settings.model_group_alias."+alias, rs.ModelGroupAlias[alias].Model)
	}
}

// groupSet answers "is this a model group the router will know?": a
// model_name, a model_group_alias, or a name matched by a wildcard model_name
// ("openai/*", "*").
type groupSet struct {
	names    []string
	patterns []string
}

func newGroupSet(cfg *Config) groupSet {
	var g groupSet
	for _, e := range cfg.ModelList {
		if strings.Contains(e.ModelName, "*") {
			g.patterns = append(g.patterns, e.ModelName)
		} else if e.ModelName != "" {
			g.names = append(g.names, e.ModelName)
		}
	}
	g.names = append(g.names, sortedKeys(cfg.RouterSettings.ModelGroupAlias)...)
	return g
}

func (g groupSet) has(name string) bool {
	if slices.Contains(g.names, name) {
		return true
	}
	for _, p := range g.patterns {
		if wildcardMatch(p, name) {
			return true
		}
	}
	return false
}

// wildcardMatch matches name against a pattern where "*" stands for any run of
// characters (including "/", unlike path.Match), as LiteLLM's wildcard model
// names do.
func wildcardMatch(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(name, mid)
		if i < 0 {
			return false
		}
		name = name[i+len(mid):]
	}
	return strings.HasSuffix(name, last)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (l *loader) validateGeneral(cfg *Config) {
	gs := &cfg.GeneralSettings
	const mk = "general_settings.master_key"
	_, inFile := l.pos[mk]
	switch {
	case gs.MasterKey == "":
		// An unset variable has already been reported; an explicit empty
		// string would silently turn authentication off. "master_key:"
		// (null) is the documented way to run without one.
		if inFile && !l.fromEnv(mk) && !l.nulls[mk] && !l.hasProblem(mk) {
			l.problemPath(mk, "is empty; remove the key to run without a master key")
		}
	case !strings.HasPrefix(gs.MasterKey, "sk-"):
		// LiteLLM refuses such keys too; virtual keys share the prefix.
		msg := "must start with \"sk-\""
		if !inFile {
			msg = "LITELLM_MASTER_KEY must start with \"sk-\""
		}
		l.problemPath(mk, msg)
	}
	if t := gs.TokenRateLimitType; t != "" && !slices.Contains([]string{"input", "output", "total"}, t) {
		l.problemPath("general_settings.token_rate_limit_type", fmt.Sprintf("unknown value %s; expected input, output or total", l.show("general_settings.token_rate_limit_type", t)))
	}
}
