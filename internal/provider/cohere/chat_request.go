package cohere

import (
	"encoding/json"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// chatRequest holds the members of an OpenAI chat request Cohere can
// express, as raw JSON inside the client's body: Cohere takes most values
// unchanged, so they are copied, not decoded and encoded again.
type chatRequest struct {
	Messages, Tools, ToolChoice, ResponseFormat                            []byte
	MaxTokens, MaxCompletionTokens, Temperature, TopP, TopK, Seed, Stop, N []byte
	FrequencyPenalty, PresencePenalty, ParallelToolCalls, Logprobs         []byte
}

func (r *chatRequest) read(body []byte) {
	for it := rawjson.Members(body); it.Next(); {
		v := it.Value()
		switch string(it.Name()) {
		case "messages":
			r.Messages = v
		case "tools":
			r.Tools = v
		case "tool_choice":
			r.ToolChoice = v
		case "response_format":
			r.ResponseFormat = v
		case "max_tokens":
			r.MaxTokens = v
		case "max_completion_tokens":
			r.MaxCompletionTokens = v
		case "temperature":
			r.Temperature = v
		case "top_p":
			r.TopP = v
		case "top_k":
			r.TopK = v
		case "seed":
			r.Seed = v
		case "stop":
			r.Stop = v
		case "n":
			r.N = v
		case "frequency_penalty":
			r.FrequencyPenalty = v
		case "presence_penalty":
			r.PresencePenalty = v
		case "parallel_tool_calls":
			r.ParallelToolCalls = v
		case "logprobs":
			r.Logprobs = v
		}
	}
}

// chatParam sorts the top-level members of a chat request.
func chatParam(name string) provider.ParamKind {
	switch name {
	case "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "seed",
		"frequency_penalty", "presence_penalty", "stop", "n", "tools", "tool_choice",
		"response_format", "parallel_tool_calls", "logprobs",
		// user identifies the end user to the gateway (budgets, spend);
		// Cohere has no such field.
		"user":
		return provider.ParamTranslated
	case "k", "p", "documents", "citation_options", "safety_mode", "strict_tools", "thinking", "priority":
		// Cohere's own members, sent through extra_body.
		return provider.ParamPassthrough
	}
	return provider.ParamUnsupported
}

// natives records which passthrough members a request has, where they
// collide with a translation (top_p and p): the client's native value wins.
type natives struct{ k, p, strictTools bool }

func appendChatRequest(out []byte, c *provider.Call) ([]byte, error) {
	var nat natives
	if err := provider.SortParams(c, chatParam, func(name string, v json.RawMessage) {
		if rawjson.IsNull(v) {
			return
		}
		switch name {
		case "k":
			nat.k = true
		case "p":
			nat.p = true
		case "strict_tools":
			nat.strictTools = true
		}
	}); err != nil {
		return out, err
	}
	if c.Envelope == nil && !json.Valid(c.Body) {
		// The pipeline validates every JSON body with its envelope; a
		// caller without one gets the same guarantee here, since raw
		// values are copied into the native request.
		return out, provider.BadRequest("", "the request body is not valid JSON")
	}
	var r chatRequest
	r.read(c.Body)
	drop := -1 // c.DropParams(), looked up once if needed
	dropping := func() bool {
		if drop < 0 {
			drop = 0
			if c.DropParams() {
				drop = 1
			}
		}
		return drop == 1
	}
	if !rawjson.IsNull(r.N) && rawjson.Count(r.N) != 1 && !dropping() {
		return out, provider.UnsupportedParam(c, "n", "Cohere returns one choice per request")
	}
	if string(r.ParallelToolCalls) == "false" && !dropping() {
		return out, provider.UnsupportedParam(c, "parallel_tool_calls", "Cohere may always call several tools at once")
	}
	if string(r.Logprobs) == "true" && !dropping() {
		return out, provider.UnsupportedParam(c, "logprobs", "Cohere's log probabilities are not translated to OpenAI's")
	}

	out = append(out, `{"model":`...)
	out = rawjson.AppendQuote(out, c.Deployment.Model)
	out = append(out, `,"messages":[`...)
	i := 0
	for it := rawjson.Elements(r.Messages); it.Next(); i++ {
		if i > 0 {
			out = append(out, ',')
		}
		var err error
		if out, err = appendMessage(out, i, it.Value()); err != nil {
			return out, err
		}
	}
	out = append(out, ']')

	tc, err := openai.ParseToolChoice(r.ToolChoice)
	if err != nil {
		return out, provider.BadRequest("tool_choice", err.Error())
	}
	only := "" // the one tool a named tool_choice leaves
	if tc.Mode == "function" {
		if !dropping() {
			return out, provider.UnsupportedParam(c, "tool_choice",
				`Cohere can require a tool call ("required") but not name the function (with drop_params, the named function is sent as the only tool and a call is required)`)
		}
		// With drop_params, the closest Cohere can come: a call is
		// required, and the named function is the only tool offered.
		only = tc.Function
	}
	if out, err = appendTools(out, r.Tools, only, nat.strictTools); err != nil {
		return out, err
	}
	switch tc.Mode {
	case "none":
		out = append(out, `,"tool_choice":"NONE"`...)
	case "required", "function":
		out = append(out, `,"tool_choice":"REQUIRED"`...)
	}
	if out, err = appendResponseFormat(out, r.ResponseFormat); err != nil {
		return out, err
	}

	if !rawjson.IsNull(r.MaxCompletionTokens) {
		out = appendMember(out, "max_tokens", r.MaxCompletionTokens)
	} else {
		out = appendMember(out, "max_tokens", r.MaxTokens)
	}
	out = appendMember(out, "temperature", r.Temperature)
	if !nat.p {
		out = appendMember(out, "p", r.TopP)
	}
	if !nat.k {
		out = appendMember(out, "k", r.TopK)
	}
	out = appendMember(out, "seed", r.Seed)
	out = appendStop(out, r.Stop)
	out = appendMember(out, "frequency_penalty", r.FrequencyPenalty)
	out = appendMember(out, "presence_penalty", r.PresencePenalty)
	out = appendPassthrough(out, c.Body, chatParam)
	if c.Stream() {
		out = append(out, `,"stream":true`...)
	}
	return append(out, '}'), nil
}

// appendPassthrough copies the members kind calls passthrough, as they
// are; a null one is taken as not set.
func appendPassthrough(out, body []byte, kind func(string) provider.ParamKind) []byte {
	for it := rawjson.Members(body); it.Next(); {
		if kind(string(it.Name())) == provider.ParamPassthrough && !rawjson.IsNull(it.Value()) {
			out = append(out, ',', '"')
			out = append(out, it.Name()...)
			out = append(out, '"', ':')
			out = append(out, it.Value()...)
		}
	}
	return out
}

// appendMember appends ,"name":raw unless raw is absent or null.
func appendMember(out []byte, name string, raw []byte) []byte {
	if rawjson.IsNull(raw) {
		return out
	}
	out = append(out, ',', '"')
	out = append(out, name...)
	out = append(out, '"', ':')
	return append(out, raw...)
}

// appendOr appends raw, or def when raw is absent or null.
func appendOr(out, raw []byte, def string) []byte {
	if rawjson.IsNull(raw) {
		return append(out, def...)
	}
	return append(out, raw...)
}

// appendStop writes stop as stop_sequences, which is always an array.
func appendStop(out []byte, raw []byte) []byte {
	if rawjson.IsNull(raw) {
		return out
	}
	out = append(out, `,"stop_sequences":`...)
	if raw[0] == '"' {
		out = append(out, '[')
		out = append(out, raw...)
		return append(out, ']')
	}
	return append(out, raw...)
}

func msgParam(i int) string { return "messages[" + strconv.Itoa(i) + "]" }

func appendMessage(out []byte, i int, m []byte) ([]byte, error) {
	if m[0] != '{' {
		return out, provider.BadRequest(msgParam(i), "a message must be an object")
	}
	var role, content, toolCalls, toolCallID, reasoning []byte
	for it := rawjson.Members(m); it.Next(); {
		switch string(it.Name()) {
		case "role":
			role = it.Value()
		case "content":
			content = it.Value()
		case "tool_calls":
			toolCalls = it.Value()
		case "tool_call_id":
			toolCallID = it.Value()
		case "reasoning_content":
			reasoning = it.Value()
		}
	}
	hasCalls := len(toolCalls) > 2 && toolCalls[0] == '[' // not null, not []
	var err error
	switch {
	case rawjson.Is(role, "system") || rawjson.Is(role, "developer"):
		out = append(out, `{"role":"system","content":`...)
		out, err = appendContent(out, i, content, false)
	case rawjson.Is(role, "user"):
		out = append(out, `{"role":"user","content":`...)
		out, err = appendContent(out, i, content, true)
	case rawjson.Is(role, "assistant"):
		out = append(out, `{"role":"assistant"`...)
		if hasCalls {
			out = appendToolCalls(out, toolCalls)
			// The plan Cohere wrote before its calls came back to the
			// client as reasoning_content; it goes back as tool_plan.
			if len(reasoning) > 2 && reasoning[0] == '"' {
				out = appendMember(out, "tool_plan", reasoning)
			}
		}
		if !rawjson.IsNull(content) && !(hasCalls && string(content) == `""`) {
			out = append(out, `,"content":`...)
			out, err = appendContent(out, i, content, false)
		}
	case rawjson.Is(role, "tool"):
		out = append(out, `{"role":"tool","tool_call_id":`...)
		out = appendOr(out, toolCallID, `""`)
		out = append(out, `,"content":`...)
		out, err = appendContent(out, i, content, false)
	case len(role) == 0:
		return out, provider.BadRequest(msgParam(i)+".role", "a message needs a role")
	default:
		return out, provider.BadRequest(msgParam(i)+".role", "cohere does not support messages with role "+string(role))
	}
	return append(out, '}'), err
}

func appendToolCalls(out []byte, calls []byte) []byte {
	out = append(out, `,"tool_calls":[`...)
	j := 0
	for it := rawjson.Elements(calls); it.Next(); j++ {
		if j > 0 {
			out = append(out, ',')
		}
		fn := rawjson.Member(it.Value(), "function")
		out = append(out, `{"id":`...)
		out = appendOr(out, rawjson.Member(it.Value(), "id"), `""`)
		out = append(out, `,"type":"function","function":{"name":`...)
		out = appendOr(out, rawjson.Member(fn, "name"), `""`)
		out = append(out, `,"arguments":`...)
		if args := rawjson.Member(fn, "arguments"); rawjson.IsNull(args) || string(args) == `""` {
			out = append(out, `"{}"`...)
		} else {
			out = append(out, args...)
		}
		out = append(out, "}}"...)
	}
	return append(out, ']')
}

// appendContent writes a message's content: a string as it is, an array
// as Cohere's parts (text, and image_url where images are allowed: Cohere
// takes https and data: URLs alike).
func appendContent(out []byte, i int, raw []byte, images bool) ([]byte, error) {
	switch {
	case rawjson.IsNull(raw):
		return append(out, `""`...), nil
	case raw[0] == '"':
		return append(out, raw...), nil
	case raw[0] != '[':
		return out, provider.BadRequest(msgParam(i)+".content", "content must be a string or an array of content parts")
	}
	out = append(out, '[')
	j := 0
	for it := rawjson.Elements(raw); it.Next(); j++ {
		if j > 0 {
			out = append(out, ',')
		}
		typ := rawjson.Member(it.Value(), "type")
		switch {
		case rawjson.Is(typ, "text"):
			out = append(out, `{"type":"text","text":`...)
			out = appendOr(out, rawjson.Member(it.Value(), "text"), `""`)
			out = append(out, '}')
		case rawjson.Is(typ, "refusal"):
			out = append(out, `{"type":"text","text":`...)
			out = appendOr(out, rawjson.Member(it.Value(), "refusal"), `""`)
			out = append(out, '}')
		case rawjson.Is(typ, "image_url") && images:
			img := rawjson.Member(it.Value(), "image_url")
			u := rawjson.Member(img, "url")
			if rawjson.IsNull(u) {
				return out, provider.BadRequest(msgParam(i)+".content", "an image_url part needs image_url.url")
			}
			out = append(out, `{"type":"image_url","image_url":{"url":`...)
			out = append(out, u...)
			out = appendMember(out, "detail", rawjson.Member(img, "detail"))
			out = append(out, "}}"...)
		default:
			return out, provider.BadRequest(msgParam(i)+".content["+strconv.Itoa(j)+"]",
				"cohere does not support content parts of type "+string(typ)+" in "+roleOf(images)+" messages")
		}
	}
	return append(out, ']'), nil
}

func roleOf(images bool) string {
	if images {
		return "user"
	}
	return "system, assistant and tool"
}

// appendTools writes the function tools; only, when set, keeps that one.
func appendTools(out []byte, tools []byte, only string, nativeStrict bool) ([]byte, error) {
	it := rawjson.Elements(tools)
	if !it.Next() {
		if only != "" {
			return out, provider.BadRequest("tool_choice", "tool_choice names a function but the request has no tools")
		}
		return out, nil
	}
	out = append(out, `,"tools":[`...)
	n, strict := 0, false
	for j := 0; ; j++ {
		t := it.Value()
		if !rawjson.Is(rawjson.Member(t, "type"), "function") {
			return out, provider.BadRequest("tools["+strconv.Itoa(j)+"].type", "cohere supports only function tools")
		}
		fn := rawjson.Member(t, "function")
		name := rawjson.Member(fn, "name")
		if only == "" || rawjson.Is(name, only) {
			if n > 0 {
				out = append(out, ',')
			}
			n++
			out = append(out, `{"type":"function","function":{"name":`...)
			out = appendOr(out, name, `""`)
			out = appendMember(out, "description", rawjson.Member(fn, "description"))
			out = append(out, `,"parameters":`...)
			// Cohere requires parameters; OpenAI lets a function take none.
			out = appendOr(out, rawjson.Member(fn, "parameters"), `{"type":"object","properties":{}}`)
			out = append(out, "}}"...)
			if string(rawjson.Member(fn, "strict")) == "true" {
				strict = true
			}
		}
		if !it.Next() {
			break
		}
	}
	if n == 0 {
		return out, provider.BadRequest("tool_choice", "tool_choice names function "+strconv.Quote(only)+", which is not among the tools")
	}
	out = append(out, ']')
	// OpenAI's strictness is per function, Cohere's per request.
	if strict && !nativeStrict {
		out = append(out, `,"strict_tools":true`...)
	}
	return out, nil
}

// appendResponseFormat maps OpenAI's response_format: Cohere's json_object
// takes an optional schema, which covers json_schema.
func appendResponseFormat(out []byte, rf []byte) ([]byte, error) {
	if rawjson.IsNull(rf) {
		return out, nil
	}
	switch typ := rawjson.Member(rf, "type"); {
	case rawjson.Is(typ, "text"):
		return out, nil
	case rawjson.Is(typ, "json_object"):
		return append(out, `,"response_format":{"type":"json_object"}`...), nil
	case rawjson.Is(typ, "json_schema"):
		out = append(out, `,"response_format":{"type":"json_object"`...)
		out = appendMember(out, "json_schema", rawjson.Path(rf, "json_schema", "schema"))
		return append(out, '}'), nil
	}
	return out, provider.BadRequest("response_format", `response_format.type must be "text", "json_object" or "json_schema"`)
}
