package bedrock

import (
	"fmt"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// responseFormat is response_format as translation uses it. Converse has
// no JSON mode every model honours, so (as LiteLLM does) a JSON answer is
// asked for as a call of one extra tool whose input schema is the wanted
// schema, and that call's input comes back as the message content.
type responseFormat struct {
	name        []byte // raw string token; nil when no JSON is asked for
	description []byte
	schema      []byte
}

// jsonToolName is the tool LiteLLM names for json_object and for schemas
// without a name.
const jsonToolName = "json_tool_call"

// anySchema is the input schema of json_object: any object.
const anySchema = `{"type":"object","additionalProperties":true,"properties":{}}`

func readResponseFormat(v []byte) (responseFormat, error) {
	var rf responseFormat
	if v == nil {
		return rf, nil
	}
	var typ, js []byte
	it := rawjson.Members(v)
	for it.Next() {
		switch string(it.Name()) {
		case "type":
			typ = it.Value()
		case "json_schema":
			js = it.Value()
		}
	}
	switch {
	case !rawjson.IsObject(v):
		return rf, provider.BadRequest("response_format", "response_format must be an object")
	case rawjson.Is(typ, "text"):
		return rf, nil
	case rawjson.Is(typ, "json_object"):
		rf.name, rf.schema = []byte(`"`+jsonToolName+`"`), []byte(anySchema)
		return rf, nil
	case rawjson.Is(typ, "json_schema"):
		if !rawjson.IsObject(js) {
			return rf, provider.BadRequest("response_format.json_schema", "response_format.json_schema must be an object")
		}
		it := rawjson.Members(js)
		for it.Next() {
			switch string(it.Name()) {
			case "name":
				if rawjson.IsString(it.Value()) && len(it.Value()) > 2 {
					rf.name = it.Value()
				}
			case "description":
				if rawjson.IsString(it.Value()) && len(it.Value()) > 2 {
					rf.description = it.Value()
				}
			case "schema":
				if rawjson.IsObject(it.Value()) {
					rf.schema = it.Value()
				}
			}
		}
		if rf.name == nil {
			rf.name = []byte(`"` + jsonToolName + `"`)
		}
		if rf.schema == nil {
			rf.schema = []byte(anySchema)
		}
		return rf, nil
	}
	return rf, provider.BadRequest("response_format.type", "response_format.type must be text, json_object or json_schema")
}

// dummyTool is declared when the history holds tool blocks but the
// request declares no tools: Converse refuses such a history without a
// toolConfig (LiteLLM adds the same tool under modify_params).
const dummyTool = `{"toolSpec":{"name":"dummy_tool","description":"This is a dummy tool call","inputSchema":{"json":{"type":"object","properties":{}}}}}`

// appendToolConfig writes toolConfig: the client's tools (unless
// tool_choice is "none"), the response-format tool, and the choice.
func appendToolConfig(out []byte, p *chatParams, rf responseFormat, thinking, historyTools bool) ([]byte, error) {
	choice, named, err := readToolChoice(p.toolChoice)
	if err != nil {
		return nil, err
	}
	start := len(out)
	out = append(out, `,"toolConfig":{"tools":[`...)
	n := 0
	if p.tools != nil && choice != "none" {
		if !rawjson.IsArray(p.tools) {
			return nil, provider.BadRequest("tools", "tools must be an array")
		}
		it := rawjson.Elements(p.tools)
		for i := 0; it.Next(); i++ {
			if n > 0 {
				out = append(out, ',')
			}
			if out, err = appendTool(out, it.Value(), i); err != nil {
				return nil, err
			}
			n++
		}
	}
	if rf.name != nil {
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"toolSpec":{"name":`...)
		out = append(out, rf.name...)
		if rf.description != nil {
			out = append(out, `,"description":`...)
			out = append(out, rf.description...)
		}
		out = append(out, `,"inputSchema":{"json":`...)
		out = appendSchema(out, rf.schema)
		out = append(out, "}}}"...)
		n++
		if !thinking {
			// Force the JSON tool. Claude refuses forced tools while it
			// thinks; it is then only offered.
			choice, named = "tool", rf.name
		}
	}
	if n == 0 {
		if !historyTools {
			return out[:start], nil
		}
		out = append(out, dummyTool...)
		choice = ""
	}
	out = append(out, ']')
	switch choice {
	case "auto":
		out = append(out, `,"toolChoice":{"auto":{}}`...)
	case "required":
		out = append(out, `,"toolChoice":{"any":{}}`...)
	case "tool":
		out = append(out, `,"toolChoice":{"tool":{"name":`...)
		out = append(out, named...)
		out = append(out, "}}"...)
	}
	return append(out, '}'), nil
}

// readToolChoice reads tool_choice: "auto", "none", "required", or
// "tool" with the function's raw name.
func readToolChoice(v []byte) (choice string, name []byte, err error) {
	switch {
	case v == nil:
		return "", nil, nil
	case rawjson.Is(v, "auto"), rawjson.Is(v, "none"), rawjson.Is(v, "required"):
		var buf [16]byte
		s, _ := rawjson.Unquote(v, buf[:0])
		return string(s), nil, nil
	case rawjson.IsObject(v):
		var typ, fn []byte
		it := rawjson.Members(v)
		for it.Next() {
			switch string(it.Name()) {
			case "type":
				typ = it.Value()
			case "function":
				fn = it.Value()
			}
		}
		fi := rawjson.Members(fn)
		for fi.Next() {
			if string(fi.Name()) == "name" && rawjson.IsString(fi.Value()) {
				name = fi.Value()
			}
		}
		if rawjson.Is(typ, "function") && name != nil {
			return "tool", name, nil
		}
	}
	return "", nil, provider.BadRequest("tool_choice", `tool_choice must be "auto", "none", "required" or {"type":"function","function":{"name":...}}`)
}

// appendTool writes one OpenAI function tool as a Converse toolSpec.
func appendTool(out, v []byte, i int) ([]byte, error) {
	var typ, fn, cache []byte
	it := rawjson.Members(v)
	for it.Next() {
		switch string(it.Name()) {
		case "type":
			typ = it.Value()
		case "function":
			fn = it.Value()
		case "cache_control":
			cache = it.Value()
		}
	}
	if !rawjson.Is(typ, "function") {
		return nil, provider.BadRequest(fmt.Sprintf("tools[%d].type", i), fmt.Sprintf("bedrock supports only function tools, not %s", typ))
	}
	var name, desc, params, strict []byte
	it = rawjson.Members(fn)
	for it.Next() {
		switch string(it.Name()) {
		case "name":
			name = it.Value()
		case "description":
			desc = it.Value()
		case "parameters":
			params = it.Value()
		case "strict":
			strict = it.Value()
		}
	}
	if !rawjson.IsString(name) || len(name) == 2 {
		return nil, provider.BadRequest(fmt.Sprintf("tools[%d].function.name", i), "a tool needs a function name")
	}
	out = append(out, `{"toolSpec":{"name":`...)
	out = append(out, name...)
	if rawjson.IsString(desc) && len(desc) > 2 {
		out = append(out, `,"description":`...)
		out = append(out, desc...)
	}
	out = append(out, `,"inputSchema":{"json":`...)
	if rawjson.IsObject(params) {
		out = appendSchema(out, params)
	} else {
		out = append(out, `{"type":"object","properties":{}}`...)
	}
	out = append(out, '}')
	if string(strict) == "true" || string(strict) == "false" {
		out = append(out, `,"strict":`...)
		out = append(out, strict...)
	}
	out = append(out, "}}"...)
	if !rawjson.IsNull(cache) {
		out = append(out, `,{"cachePoint":{"type":"default"}}`...)
	}
	return out, nil
}

// appendSchema writes a parameters schema, adding "type":"object" when it
// has no type: Claude refuses a typeless input schema.
func appendSchema(out, schema []byte) []byte {
	it := rawjson.Members(schema)
	for it.Next() {
		if it.NameIs("type") {
			return append(out, schema...)
		}
	}
	inner := rawjson.TrimSpace(schema[1 : len(schema)-1])
	if len(inner) == 0 {
		return append(out, `{"type":"object","properties":{}}`...)
	}
	out = append(out, `{"type":"object",`...)
	out = append(out, inner...)
	return append(out, '}')
}
