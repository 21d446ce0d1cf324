package ollama

import (
	"bytes"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// toolChoice reads tool_choice and parallel_tool_calls, which Ollama has
// no field for: "auto" is what it does anyway and "none" is the same as
// not offering the tools; forcing a call cannot be expressed.
func toolChoice(c *provider.Call, in *chatInput) (sendTools bool, err error) {
	tc, perr := openai.ParseToolChoice(in.toolChoice)
	if perr != nil {
		return false, provider.BadRequest("tool_choice", perr.Error())
	}
	switch tc.Mode {
	case "none":
		return false, nil
	case "required", "function":
		if !c.DropParams() {
			return false, provider.UnsupportedParam(c, "tool_choice", "Ollama cannot be made to call a tool; only \"auto\" and \"none\" can be honoured")
		}
	}
	if string(in.parallelToolCalls) == "false" && in.tools != nil && !c.DropParams() {
		return false, provider.UnsupportedParam(c, "parallel_tool_calls", "Ollama may always return several tool calls")
	}
	return true, nil
}

// appendTools appends "tools": OpenAI's function tools are Ollama's as
// they are, less "strict", which Ollama has no notion of.
func appendTools(c *provider.Call, b []byte, tools []byte) ([]byte, error) {
	start := len(b)
	b = append(b, `,"tools":[`...)
	e := openArray(tools)
	n := 0
	for i := 0; ; i++ {
		t, ok := e.next()
		if !ok {
			break
		}
		var typ, name, desc, params []byte
		m := openObject(t)
		for {
			k, v, ok := m.next()
			if !ok {
				break
			}
			switch string(k) {
			case "type":
				typ = v
			case "function":
				f := openObject(v)
				for {
					k, v, ok := f.next()
					if !ok {
						break
					}
					switch string(k) {
					case "name":
						name = v
					case "description":
						desc = v
					case "parameters":
						params = v
					}
				}
			}
		}
		if m.err != nil || !isString(name) {
			return b, provider.BadRequest("tools["+strconv.Itoa(i)+"]", "a tool must be {\"type\":\"function\",\"function\":{\"name\":…}}")
		}
		if typ != nil && string(typ) != `"function"` {
			if c.DropParams() {
				continue
			}
			return b, provider.UnsupportedParam(c, "tools["+strconv.Itoa(i)+"]", "Ollama takes function tools only, not "+string(typ))
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"type":"function","function":{"name":`...)
		b = append(b, name...)
		if isString(desc) {
			b = append(b, `,"description":`...)
			b = append(b, desc...)
		}
		b = append(b, `,"parameters":`...)
		if params == nil || isNull(params) {
			b = append(b, `{"type":"object","properties":{}}`...)
		} else {
			b = append(b, params...)
		}
		b = append(b, "}}"...)
	}
	if e.err != nil {
		return b, provider.BadRequest("tools", "tools must be an array")
	}
	if n == 0 {
		return b[:start], nil // every tool was dropped
	}
	return append(b, ']'), nil
}

// appendToolCalls appends an assistant's tool calls, their arguments as
// the JSON object Ollama takes instead of OpenAI's string.
func appendToolCalls(b, calls []byte, i int) ([]byte, error) {
	b = append(b, `,"tool_calls":[`...)
	e := openArray(calls)
	for k := 0; ; k++ {
		v, ok := e.next()
		if !ok {
			break
		}
		tc, ok := readCall(v)
		if !ok {
			return b, provider.BadRequest("messages["+strconv.Itoa(i)+"].tool_calls["+strconv.Itoa(k)+"]", "malformed tool call")
		}
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if tc.id != nil {
			b = append(b, `"id":`...)
			b = append(b, tc.id...)
			b = append(b, ',')
		}
		b = append(b, `"function":{"name":`...)
		b = rawString(b, tc.name)
		b = append(b, `,"arguments":`...)
		var ok2 bool
		if b, ok2 = appendArguments(b, tc.args); !ok2 {
			return b, provider.BadRequest("messages["+strconv.Itoa(i)+"].tool_calls["+strconv.Itoa(k)+"].function.arguments",
				"tool call arguments must be a JSON object (Ollama sends them as one)")
		}
		b = append(b, "}}"...)
	}
	if e.err != nil {
		return b, provider.BadRequest("messages["+strconv.Itoa(i)+"].tool_calls", "tool_calls must be an array")
	}
	return append(b, ']'), nil
}

// appendArguments appends OpenAI's arguments string as the JSON object it
// holds ("" or absent is no arguments).
func appendArguments(b, args []byte) ([]byte, bool) {
	start := len(b)
	b = unquoteTo(b, args)
	if len(bytes.TrimSpace(b[start:])) == 0 {
		return append(b[:start], "{}"...), true
	}
	return b, validObject(b[start:])
}

// toolName is the function name of the tool result msgs[i] as a raw JSON
// string: its own name, else the name of the call it answers (the latest
// call with that id).
func toolName(msgs []message, i int) []byte {
	if msgs[i].name != nil {
		return msgs[i].name
	}
	id := msgs[i].toolCallID
	if id == nil {
		return nil
	}
	for j := i - 1; j >= 0; j-- {
		if msgs[j].toolCalls == nil {
			continue
		}
		e := openArray(msgs[j].toolCalls)
		var name []byte
		for {
			v, ok := e.next()
			if !ok {
				break
			}
			if tc, ok := readCall(v); ok && tc.name != nil && sameString(tc.id, id) {
				name = tc.name
			}
		}
		if name != nil {
			return name
		}
	}
	return nil
}

// sameString compares two raw JSON strings by their text.
func sameString(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if !isString(a) || !isString(b) {
		return false
	}
	return bytes.Equal(appendUnquoted(nil, a), appendUnquoted(nil, b))
}
