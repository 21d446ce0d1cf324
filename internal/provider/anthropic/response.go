package anthropic

import (
	"encoding/json"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// jsonMode reports whether the client asked for a JSON answer, which then
// arrives as the input of the response_format tool.
func jsonMode(body []byte) bool {
	typ := rawjson.Member(rawjson.Member(body, "response_format"), "type")
	return rawjson.Is(typ, "json_object") || rawjson.Is(typ, "json_schema")
}

// isJSONTool reports a tool_use block (or its name) that carries the
// response_format answer.
func isJSONTool(json bool, name []byte) bool { return json && rawjson.Is(name, jsonToolName) }

// DecodeBody implements provider.Codec: an Anthropic message becomes a
// chat.completion. Text blocks join into content, tool_use blocks become
// tool_calls, thinking blocks become reasoning_content plus the signed
// thinking_blocks a client sends back on its next turn.
func (cd Codec) DecodeBody(c *provider.Call, body, dst []byte) ([]byte, openai.Usage, error) {
	if !json.Valid(body) {
		return nil, openai.Usage{}, invalidResponse("a response that is not JSON")
	}
	var typ, id, content, stop, usage, errObj []byte
	for it := rawjson.Members(body); it.Next(); {
		switch string(it.Name()) {
		case "type":
			typ = it.Value()
		case "id":
			id = it.Value()
		case "content":
			content = it.Value()
		case "stop_reason":
			stop = it.Value()
		case "usage":
			usage = it.Value()
		case "error":
			errObj = it.Value()
		}
	}
	if rawjson.Is(typ, "error") || errObj != nil {
		return nil, openai.Usage{}, eventError(c, errObj)
	}
	if content == nil || content[0] != '[' {
		return nil, openai.Usage{}, invalidResponse("a message without content")
	}
	var cnt counts
	cnt.update(usage)
	u := cnt.usage()
	jm := jsonMode(c.Body)

	var stack [8]respBlock
	blocks := readBlocks(stack[:0], content)
	var jsonAnswer []byte
	var text, thinkingText, toolCalls, thinkingBlocks bool
	for i := range blocks {
		blk := &blocks[i]
		switch {
		case rawjson.Is(blk.typ, "text"):
			text = text || hasText(blk.text)
		case rawjson.Is(blk.typ, "tool_use") && isJSONTool(jm, blk.name):
			if jsonAnswer == nil {
				jsonAnswer = blk.input
			}
		case rawjson.Is(blk.typ, "tool_use"):
			toolCalls = toolCalls || rawjson.IsString(blk.id) && rawjson.IsString(blk.name)
		case rawjson.Is(blk.typ, "thinking"):
			thinkingBlocks = true
			thinkingText = thinkingText || hasText(blk.thinking)
		case rawjson.Is(blk.typ, "redacted_thinking"):
			thinkingBlocks = true
		}
	}

	if dst == nil {
		dst = make([]byte, 0, len(body)+256)
	}
	dst = append(dst, `{"id":`...)
	if rawjson.IsString(id) {
		dst = append(dst, id...)
	} else {
		dst = rawjson.AppendQuote(dst, openai.NewCompletionID())
	}
	dst = append(dst, `,"object":"chat.completion","created":`...)
	dst = strconv.AppendInt(dst, cd.created(), 10)
	dst = append(dst, `,"model":`...)
	dst = rawjson.AppendQuote(dst, c.ClientModel)
	dst = append(dst, `,"system_fingerprint":null,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	switch {
	case jsonAnswer != nil:
		// The forced tool's input is the answer; as in LiteLLM it replaces
		// any text around it.
		dst = appendQuotedCompact(dst, jsonAnswer)
	case text:
		// Valid JSON string interiors joined are one valid interior.
		dst = append(dst, '"')
		for i := range blocks {
			if rawjson.Is(blocks[i].typ, "text") {
				text, _ := rawjson.Inner(blocks[i].text)
				dst = append(dst, text...)
			}
		}
		dst = append(dst, '"')
	default:
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"refusal":null`...)
	if toolCalls {
		dst = append(dst, `,"tool_calls":[`...)
		n := 0
		for i := range blocks {
			blk := &blocks[i]
			if !rawjson.Is(blk.typ, "tool_use") || isJSONTool(jm, blk.name) || !rawjson.IsString(blk.id) || !rawjson.IsString(blk.name) {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(dst, `{"id":`...)
			dst = append(dst, blk.id...)
			dst = append(dst, `,"type":"function","function":{"name":`...)
			dst = append(dst, blk.name...)
			dst = append(dst, `,"arguments":`...)
			input := blk.input
			if rawjson.IsNull(input) {
				input = []byte("{}")
			}
			dst = appendQuotedCompact(dst, input)
			dst = append(dst, "}}"...)
		}
		dst = append(dst, ']')
	}
	if thinkingText {
		dst = append(dst, `,"reasoning_content":"`...)
		for i := range blocks {
			if rawjson.Is(blocks[i].typ, "thinking") {
				text, _ := rawjson.Inner(blocks[i].thinking)
				dst = append(dst, text...)
			}
		}
		dst = append(dst, '"')
	}
	if thinkingBlocks {
		dst = append(dst, `,"thinking_blocks":[`...)
		n := 0
		for i := range blocks {
			if typ := blocks[i].typ; rawjson.Is(typ, "thinking") || rawjson.Is(typ, "redacted_thinking") {
				if n > 0 {
					dst = append(dst, ',')
				}
				n++
				dst = rawjson.AppendCompact(dst, blocks[i].raw)
			}
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `},"logprobs":null,"finish_reason":"`...)
	dst = append(dst, finishReason(stop, toolCalls)...)
	dst = append(dst, `"}],"usage":`...)
	dst = u.AppendJSON(dst)
	dst = append(dst, '}')
	return dst, u, nil
}

// appendQuotedCompact writes the JSON value v, compacted, as a JSON string.
func appendQuotedCompact(dst, v []byte) []byte {
	var tmp [256]byte
	return rawjson.AppendQuoteBytes(dst, rawjson.AppendCompact(tmp[:0], v))
}

func invalidResponse(what string) *provider.Error {
	return &provider.Error{Status: 502, Type: "api_error", Code: "upstream_invalid_response",
		Message: "anthropic returned " + what, Retryable: true, MayHaveBeenSent: true}
}

// respBlock is one content block of an Anthropic message, as raw values.
type respBlock struct {
	raw, typ, text, id, name, input, thinking []byte
}

// readBlocks reads the content array once into dst.
func readBlocks(dst []respBlock, content []byte) []respBlock {
	for el := rawjson.Elements(content); el.Next(); {
		b := respBlock{raw: el.Value()}
		for it := rawjson.Members(b.raw); it.Next(); {
			switch string(it.Name()) {
			case "type":
				b.typ = it.Value()
			case "text":
				b.text = it.Value()
			case "id":
				b.id = it.Value()
			case "name":
				b.name = it.Value()
			case "input":
				b.input = it.Value()
			case "thinking":
				b.thinking = it.Value()
			}
		}
		dst = append(dst, b)
	}
	return dst
}
