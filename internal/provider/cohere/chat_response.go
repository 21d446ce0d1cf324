package cohere

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// appendChatResponse writes Cohere's V2ChatResponse as a chat.completion:
// {"id","finish_reason","message":{"content":[text|thinking],"tool_calls",
// "tool_plan","citations"},"usage"}.
func appendChatResponse(out []byte, c *provider.Call, body []byte, created int64) ([]byte, openai.Usage, error) {
	if !json.Valid(body) || !rawjson.IsObject(rawjson.TrimSpace(body)) {
		return nil, openai.Usage{}, invalidResponse(c, errors.New("not a JSON object"))
	}
	var id, finish, message, usageRaw []byte
	for it := rawjson.Members(body); it.Next(); {
		switch string(it.Name()) {
		case "id":
			id = it.Value()
		case "finish_reason":
			finish = it.Value()
		case "message":
			message = it.Value()
		case "usage":
			usageRaw = it.Value()
		}
	}
	usage := readUsage(usageRaw)
	reason, _ := rawjson.Inner(finish)
	if isErrorReason(reason) {
		return nil, usage, finishError(c, string(reason), "")
	}
	var content, toolCalls, toolPlan, citations []byte
	for it := rawjson.Members(message); it.Next(); {
		switch string(it.Name()) {
		case "content":
			content = it.Value()
		case "tool_calls":
			toolCalls = it.Value()
		case "tool_plan":
			toolPlan = it.Value()
		case "citations":
			citations = it.Value()
		}
	}
	nCalls := rawjson.Len(toolCalls)

	// The answer is about as long as Cohere's plus the envelope: one
	// allocation instead of a growth per append.
	out = slices.Grow(out, len(body)+384)
	out = append(out, `{"id":`...)
	if rawjson.IsString(id) && len(id) > 2 {
		out = appendStringValue(out, id)
	} else {
		out = rawjson.AppendQuote(out, openai.NewCompletionID())
	}
	out = append(out, `,"object":"chat.completion","created":`...)
	out = strconv.AppendInt(out, created, 10)
	out = append(out, `,"model":`...)
	out = rawjson.AppendQuote(out, c.ClientModel)
	out = append(out, `,"system_fingerprint":null,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	text, nText := firstPart(content, "text")
	switch {
	case nText == 0 && nCalls > 0:
		out = append(out, "null"...)
	case nText == 1:
		out = appendStringValue(out, text)
	default:
		out = rawjson.AppendQuoteBytes(out, appendParts(nil, content, "text", ""))
	}
	out = append(out, `,"refusal":null`...)
	if nCalls > 0 {
		out = append(out, `,"tool_calls":[`...)
		i := 0
		for it := rawjson.Elements(toolCalls); it.Next(); i++ {
			if i > 0 {
				out = append(out, ',')
			}
			fn := rawjson.Member(it.Value(), "function")
			out = append(out, `{"id":`...)
			out = appendStringValue(out, rawjson.Member(it.Value(), "id"))
			out = append(out, `,"type":"function","function":{"name":`...)
			out = appendStringValue(out, rawjson.Member(fn, "name"))
			out = append(out, `,"arguments":`...)
			if args := rawjson.Member(fn, "arguments"); rawjson.IsNull(args) || string(args) == `""` {
				out = append(out, `"{}"`...) // a call without arguments, as OpenAI writes it
			} else {
				out = appendStringValue(out, args)
			}
			out = append(out, "}}"...)
		}
		out = append(out, ']')
	}
	// Cohere's thinking and its plan before tool calls are both the
	// model's reasoning: LiteLLM's reasoning_content carries them.
	var thinking []byte
	_, nThinking := firstPart(content, "thinking")
	if nThinking > 0 {
		thinking = appendParts(thinking, content, "thinking", "")
	}
	if plan, ok := rawjson.Inner(toolPlan); ok && len(plan) > 0 {
		if nThinking > 0 {
			thinking = append(thinking, "\n\n"...)
		}
		thinking = rawjson.AppendUnquote(thinking, toolPlan)
		nThinking++
	}
	if nThinking > 0 {
		out = append(out, `,"reasoning_content":`...)
		out = rawjson.AppendQuoteBytes(out, thinking)
	}
	if !rawjson.IsNull(citations) {
		// Citations of the documents a client sent (a Cohere field, passed
		// on as it is for clients that read it).
		out = append(out, `,"citations":`...)
		out = rawjson.AppendCompact(out, citations)
	}
	out = append(out, `},"logprobs":null,"finish_reason":"`...)
	out = append(out, finishReason(string(reason), nCalls > 0)...)
	out = append(out, `"}],"usage":`...)
	out = usage.AppendJSON(out)
	return append(out, '}'), usage, nil
}

// firstPart counts the content parts of one type and returns the raw
// value of the first one's field (text or thinking).
func firstPart(content []byte, typ string) (first []byte, n int) {
	for it := rawjson.Elements(content); it.Next(); {
		if rawjson.Is(rawjson.Member(it.Value(), "type"), typ) {
			if n == 0 {
				first = rawjson.Member(it.Value(), typ)
			}
			n++
		}
	}
	return first, n
}

// appendParts appends the decoded texts of the content parts of one type.
func appendParts(dst, content []byte, typ, sep string) []byte {
	n := 0
	for it := rawjson.Elements(content); it.Next(); {
		if rawjson.Is(rawjson.Member(it.Value(), "type"), typ) {
			if n > 0 {
				dst = append(dst, sep...)
			}
			dst = rawjson.AppendUnquote(dst, rawjson.Member(it.Value(), typ))
			n++
		}
	}
	return dst
}

// appendStringValue writes a value of a validated upstream answer where a
// client expects a string: a string as it is (re-encoded only if it is not
// valid UTF-8), null or nothing as "", anything else as its JSON text.
func appendStringValue(out, raw []byte) []byte {
	switch {
	case rawjson.IsNull(raw):
		return append(out, `""`...)
	case raw[0] == '"':
		if utf8.Valid(raw) {
			return append(out, raw...)
		}
		return rawjson.AppendQuoteBytes(out, rawjson.AppendUnquote(nil, raw))
	}
	return rawjson.AppendQuoteBytes(out, rawjson.AppendCompact(nil, raw))
}
