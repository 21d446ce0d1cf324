package gemini

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// tools writes "tools" and "toolConfig". Function tools become one Tool of
// functionDeclarations whose parameters go as parametersJsonSchema: Gemini
// then takes the client's JSON Schema as it is, where "parameters" would
// need it rewritten into Google's OpenAPI subset (no $ref, no
// additionalProperties, ...). Entries with neither a "type" nor a
// "function" are Gemini tools (googleSearch, codeExecution, urlContext,
// ...) and pass through.
func (w *chatBuilder) tools(nat *native) error {
	r := w.req
	fns, natives := 0, 0
	for i := range r.tools {
		t := &r.tools[i]
		switch {
		case isFunction(t):
			fns++
		case t.typ == nil && !t.hasFunction:
			natives++
		default:
			if !w.c.DropParams() {
				return provider.UnsupportedParam(w.c, "tools["+strconv.Itoa(i)+"].type", "tools of type "+strconv.Quote(string(t.typ))+" have no Gemini equivalent")
			}
		}
	}
	if r.parallel < 0 && fns > 1 && !w.c.DropParams() {
		return provider.UnsupportedParam(w.c, "parallel_tool_calls", "Gemini cannot be kept from calling several functions at once")
	}
	if fns+natives > 0 {
		w.b = append(w.b, `,"tools":[`...)
		n := 0
		if fns > 0 {
			w.b = append(w.b, `{"functionDeclarations":[`...)
			for i := range r.tools {
				t := &r.tools[i]
				if !isFunction(t) {
					continue
				}
				if n > 0 {
					w.b = append(w.b, ',')
				}
				n++
				w.b = append(w.b, `{"name":"`...)
				w.b = append(w.b, t.name...)
				w.b = append(w.b, '"')
				if len(t.desc) > 0 {
					w.b = append(w.b, `,"description":"`...)
					w.b = append(w.b, t.desc...)
					w.b = append(w.b, '"')
				}
				if len(t.params) > 0 {
					w.b = append(w.b, `,"parametersJsonSchema":`...)
					w.b = append(w.b, t.params...)
				}
				w.b = append(w.b, '}')
			}
			w.b = append(w.b, "]}"...)
			n = 1
		}
		for i := range r.tools {
			if t := &r.tools[i]; t.typ == nil && !t.hasFunction {
				if n > 0 {
					w.b = append(w.b, ',')
				}
				n++
				w.b = append(w.b, t.raw...)
			}
		}
		w.b = append(w.b, ']')
	}
	if has(nat.top, "toolConfig") {
		return nil
	}
	return w.toolChoice()
}

// isFunction: a function tool, also when its "type" was left out.
func isFunction(t *toolDef) bool {
	return string(t.typ) == "function" || t.typ == nil && t.hasFunction
}

// toolChoice writes toolConfig from tool_choice: auto, none, required, or
// {"type":"function","function":{"name":…}} (ANY limited to that name).
func (w *chatBuilder) toolChoice() error {
	raw := w.req.toolChoice
	if len(raw) == 0 {
		return nil
	}
	var mode string
	var name []byte
	var s scanner
	s.reset(raw)
	switch s.peek() {
	case '"':
		switch string(s.str()) {
		case "auto":
			mode = "AUTO"
		case "none":
			mode = "NONE"
		case "required":
			mode = "ANY"
		}
	case '{':
		s.enter('{')
		typ := false
		for k := 0; ; {
			key, more := field(&s, &k)
			if !more {
				break
			}
			switch string(key) {
			case "type":
				v, _ := strv(&s)
				typ = string(v) == "function"
			case "function":
				if object(&s) {
					for f := 0; ; {
						fk, more := field(&s, &f)
						if !more {
							break
						}
						if string(fk) == "name" {
							name, _ = strv(&s)
						} else {
							s.skip()
						}
					}
				}
			default:
				s.skip()
			}
		}
		if typ && len(name) > 0 {
			mode = "ANY"
		}
	}
	if mode == "" {
		return provider.BadRequest("tool_choice", `tool_choice must be "auto", "none", "required" or {"type":"function","function":{"name":…}}`)
	}
	w.b = append(w.b, `,"toolConfig":{"functionCallingConfig":{"mode":"`...)
	w.b = append(w.b, mode...)
	w.b = append(w.b, '"')
	if name != nil {
		w.b = append(w.b, `,"allowedFunctionNames":["`...)
		w.b = append(w.b, name...)
		w.b = append(w.b, `"]`...)
	}
	w.b = append(w.b, "}}"...)
	return nil
}

// generationConfig writes the sampling parameters, merged with the
// generationConfig members given natively (which win).
func (w *chatBuilder) generationConfig(nat *native) error {
	r := w.req
	start := len(w.b)
	w.b = append(w.b, `,"generationConfig":{`...)
	g := genWriter{w: w, native: nat.gen}
	g.raw("temperature", r.temperature)
	g.raw("topP", r.topP)
	if env := w.c.Envelope; env != nil {
		if env.N > 0 && g.key("candidateCount") {
			w.b = strconv.AppendInt(w.b, int64(env.N), 10)
		}
		if env.MaxTokens > 0 && g.key("maxOutputTokens") {
			w.b = strconv.AppendInt(w.b, int64(env.MaxTokens), 10)
		}
	}
	if len(r.stop) > 0 && string(r.stop) != "[]" && g.key("stopSequences") {
		if r.stop[0] == '"' {
			w.b = append(append(append(w.b, '['), r.stop...), ']')
		} else {
			w.b = append(w.b, r.stop...)
		}
	}
	g.raw("presencePenalty", r.presence)
	g.raw("frequencyPenalty", r.frequency)
	g.raw("seed", r.seed)
	if r.logprobs && g.key("responseLogprobs") {
		w.b = append(w.b, "true"...)
	}
	g.raw("logprobs", r.topLogprobs)
	if err := w.responseFormat(&g); err != nil {
		return err
	}
	if err := w.thinking(&g, nat); err != nil {
		return err
	}
	for _, m := range nat.gen {
		g.key("")
		w.b = openai.AppendString(w.b, m.name)
		w.b = append(w.b, ':')
		w.b = append(w.b, m.value...)
	}
	if g.n == 0 {
		w.b = w.b[:start]
		return nil
	}
	w.b = append(w.b, '}')
	return nil
}

// genWriter writes generationConfig members, skipping those the client
// gave natively.
type genWriter struct {
	w      *chatBuilder
	native []member
	n      int
}

// key starts member name (the name itself is left to the caller when it
// is ""), or reports false when a native member of that name takes its
// place.
func (g *genWriter) key(name string) bool {
	if name != "" && has(g.native, name) {
		return false
	}
	if g.n > 0 {
		g.w.b = append(g.w.b, ',')
	}
	g.n++
	if name != "" {
		g.w.b = append(g.w.b, '"')
		g.w.b = append(g.w.b, name...)
		g.w.b = append(g.w.b, `":`...)
	}
	return true
}

// raw writes member name with a raw JSON value, when there is one.
func (g *genWriter) raw(name string, v []byte) {
	if len(v) > 0 && g.key(name) {
		g.w.b = append(g.w.b, v...)
	}
}

func (w *chatBuilder) responseFormat(g *genWriter) error {
	switch string(w.req.rfType) {
	case "", "text":
		return nil
	case "json_object", "json_schema":
		if g.key("responseMimeType") {
			w.b = append(w.b, `"application/json"`...)
		}
		if string(w.req.rfType) == "json_schema" {
			g.raw("responseJsonSchema", w.req.rfSchema)
		}
		return nil
	}
	if w.c.DropParams() {
		return nil
	}
	return provider.UnsupportedParam(w.c, "response_format", "type "+strconv.Quote(string(w.req.rfType))+" has no Gemini equivalent")
}

// thinking writes thinkingConfig from LiteLLM's "thinking" or OpenAI's
// reasoning_effort (LiteLLM's mapping: Gemini 3 takes a thinking level,
// earlier models a token budget). Asking for reasoning also asks for the
// thought summaries, which come back as reasoning_content.
func (w *chatBuilder) thinking(g *genWriter, nat *native) error {
	if has(g.native, "thinkingConfig") {
		return nil
	}
	if len(nat.thinking) > 0 {
		var t struct {
			Type         string `json:"type"`
			BudgetTokens *int   `json:"budget_tokens"`
		}
		if err := json.Unmarshal(nat.thinking, &t); err != nil {
			return provider.BadRequest("thinking", `thinking must be {"type":"enabled","budget_tokens":N} or {"type":"disabled"}`)
		}
		g.key("thinkingConfig")
		switch {
		case t.Type != "enabled":
			w.b = append(w.b, `{"includeThoughts":false`...)
			if !w.p.gemini3 {
				w.b = append(w.b, `,"thinkingBudget":0`...)
			}
		case w.p.gemini3 || t.BudgetTokens == nil:
			w.b = append(w.b, `{"includeThoughts":true`...)
		default:
			w.b = append(w.b, `{"includeThoughts":true,"thinkingBudget":`...)
			w.b = strconv.AppendInt(w.b, int64(*t.BudgetTokens), 10)
		}
		w.b = append(w.b, '}')
		return nil
	}
	effort := w.req.effort
	if len(effort) == 0 {
		return nil
	}
	var level string
	budget := -1
	model := w.p.model
	flash3 := strings.Contains(model, "gemini-3-flash") || strings.Contains(model, "gemini-3.1-flash")
	switch string(effort) {
	case "none", "disable":
		level, budget = "LOW", 0
		if flash3 {
			level = "MINIMAL"
		}
	case "minimal":
		level, budget = "LOW", 128
		switch {
		case flash3:
			level = "MINIMAL"
		case strings.Contains(model, "gemini-2.5-flash-lite"):
			budget = 512
		case strings.Contains(model, "gemini-2.5-flash"):
			budget = 1
		}
	case "low":
		level, budget = "LOW", 1024
	case "medium":
		level, budget = "HIGH", 2048
		if flash3 || strings.Contains(model, "gemini-3.1-pro") {
			level = "MEDIUM"
		}
	case "high":
		level, budget = "HIGH", 4096
	case "xhigh":
		level, budget = "HIGH", 8192
	default:
		if w.c.DropParams() {
			return nil
		}
		return provider.UnsupportedParam(w.c, "reasoning_effort", "value "+strconv.Quote(string(effort))+" is not one of none, minimal, low, medium, high")
	}
	include := budget != 0
	g.key("thinkingConfig")
	w.b = append(w.b, `{"includeThoughts":`...)
	w.b = strconv.AppendBool(w.b, include)
	if w.p.gemini3 {
		w.b = append(w.b, `,"thinkingLevel":"`...)
		w.b = append(w.b, level...)
		w.b = append(w.b, '"')
	} else {
		w.b = append(w.b, `,"thinkingBudget":`...)
		w.b = strconv.AppendInt(w.b, int64(budget), 10)
	}
	w.b = append(w.b, '}')
	return nil
}
