package anthropic

import (
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// toolsAndChoice writes tools, tool_choice and the response_format tool.
func (b *builder) toolsAndChoice(thinkingOn bool) *provider.Error {
	p := &b.p
	jsonSchema, jsonMode, e := b.responseFormat()
	if e != nil {
		return e
	}
	start := len(b.out)
	b.out = append(b.out, `,"tools":[`...)
	n := 0
	for it := rawjson.Elements(p.tools); it.Next(); n++ {
		if e := b.tool(n, it.Value()); e != nil {
			return e
		}
	}
	if jsonMode {
		if n > 0 {
			b.out = append(b.out, ',')
		}
		b.out = append(b.out, `{"name":"`+jsonToolName+`","input_schema":`...)
		if rawjson.IsNull(jsonSchema) {
			// json_object: any object (LiteLLM's schema for it).
			b.out = append(b.out, `{"type":"object","additionalProperties":true,"properties":{}}`...)
		} else if e := b.inputSchema("response_format", "response_format.json_schema.schema", jsonSchema); e != nil {
			return e
		}
		b.out = append(b.out, '}')
		n++
	}
	if n == 0 {
		// No tools: a tool_choice would be refused and means nothing.
		b.out = b.out[:start]
		return nil
	}
	b.out = append(b.out, ']')

	choice, err := openai.ParseToolChoice(p.toolChoice)
	if err != nil {
		return provider.BadRequest("tool_choice", err.Error())
	}
	if jsonMode && !thinkingOn {
		// The answer must come through the response_format tool. Anthropic
		// refuses a forced tool while thinking, so then the tool is only
		// offered, as LiteLLM does.
		choice = openai.ToolChoice{Mode: "function", Function: jsonToolName}
	}
	disableParallel := string(p.parallel) == "false"
	switch choice.Mode {
	case "":
		if disableParallel {
			b.out = append(b.out, `,"tool_choice":{"type":"auto","disable_parallel_tool_use":true}`...)
		}
		return nil
	case "none":
		b.out = append(b.out, `,"tool_choice":{"type":"none"}`...)
		return nil
	case "auto":
		b.out = append(b.out, `,"tool_choice":{"type":"auto"`...)
	case "required":
		b.out = append(b.out, `,"tool_choice":{"type":"any"`...)
	case "function":
		b.out = append(b.out, `,"tool_choice":{"type":"tool","name":`...)
		b.out = rawjson.AppendQuote(b.out, choice.Function)
	}
	if disableParallel {
		b.out = append(b.out, `,"disable_parallel_tool_use":true`...)
	}
	b.out = append(b.out, '}')
	return nil
}

// responseFormat reads response_format: jsonMode when the answer must be
// JSON, with the schema for json_schema (nil for json_object).
func (b *builder) responseFormat() (schema []byte, jsonMode bool, e *provider.Error) {
	rf := b.p.responseFormat
	if rawjson.IsNull(rf) {
		return nil, false, nil
	}
	typ := rawjson.Member(rf, "type")
	switch {
	case rawjson.Is(typ, "text"):
		return nil, false, nil
	case rawjson.Is(typ, "json_object"):
		return nil, true, nil
	case rawjson.Is(typ, "json_schema"):
		return rawjson.Member(rawjson.Member(rf, "json_schema"), "schema"), true, nil
	}
	return nil, false, provider.BadRequest("response_format", "response_format.type must be text, json_object or json_schema")
}

// tool writes one OpenAI function tool as an Anthropic tool. strict is not
// sent (as in LiteLLM): OpenAI clients set it by default, and models
// without Anthropic's structured outputs refuse it.
func (b *builder) tool(i int, t []byte) *provider.Error {
	var typ, fn, cc []byte
	for it := rawjson.Members(t); it.Next(); {
		switch string(it.Name()) {
		case "type":
			typ = it.Value()
		case "function":
			fn = it.Value()
		case "cache_control":
			cc = it.Value()
		}
	}
	where := "tools[" + strconv.Itoa(i) + "]"
	if !rawjson.Is(typ, "function") {
		return provider.BadRequest("tools", where+": anthropic supports function tools only")
	}
	var name, desc, params, fnCC []byte
	for it := rawjson.Members(fn); it.Next(); {
		switch string(it.Name()) {
		case "name":
			name = it.Value()
		case "description":
			desc = it.Value()
		case "parameters":
			params = it.Value()
		case "cache_control":
			fnCC = it.Value()
		}
	}
	if !rawjson.IsString(name) {
		return provider.BadRequest("tools", where+".function.name must be a string")
	}
	if i > 0 {
		b.out = append(b.out, ',')
	}
	b.out = append(b.out, `{"name":`...)
	b.out = append(b.out, name...)
	if hasText(desc) {
		b.out = append(b.out, `,"description":`...)
		b.out = append(b.out, desc...)
	}
	b.out = append(b.out, `,"input_schema":`...)
	if e := b.inputSchema("tools", where+".function.parameters", params); e != nil {
		return e
	}
	if rawjson.IsNull(cc) {
		cc = fnCC // LiteLLM also reads it inside "function"
	}
	if !rawjson.IsNull(cc) {
		b.out = append(b.out, `,"cache_control":`...)
		b.out = append(b.out, cc...)
	}
	b.out = append(b.out, '}')
	return nil
}

// inputSchema writes a JSON Schema as an input_schema, which Anthropic
// requires to be of type object: a tool without parameters gets an empty
// object schema, and a schema without a type is given type object.
func (b *builder) inputSchema(top, where string, schema []byte) *provider.Error {
	if rawjson.IsNull(schema) {
		b.out = append(b.out, `{"type":"object","properties":{}}`...)
		return nil
	}
	i := rawjson.SkipSpace(schema, 0)
	if i >= len(schema) || schema[i] != '{' {
		return provider.BadRequest(top, where+" must be a JSON Schema object")
	}
	typ := rawjson.Member(schema, "type")
	switch {
	case rawjson.Is(typ, "object"):
		b.out = append(b.out, schema...)
	case typ == nil:
		b.out = append(b.out, `{"type":"object"`...)
		rest := rawjson.SkipSpace(schema, i+1)
		if rest < len(schema) && schema[rest] == '}' {
			b.out = append(b.out, `,"properties":{}}`...)
			return nil
		}
		b.out = append(b.out, ',')
		b.out = append(b.out, schema[rest:]...)
	default:
		return provider.BadRequest(top, where+": anthropic needs a schema of type object")
	}
	return nil
}
