package bedrock

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// DecodeBody implements provider.Codec.
func (cd Codec) DecodeBody(c *provider.Call, body, dst []byte) ([]byte, openai.Usage, error) {
	if c.Op == provider.OpEmbedding {
		return decodeEmbedding(c, body, dst)
	}
	return cd.decodeConverse(c, body, dst)
}

func invalidResponse(c *provider.Call, what string) *provider.Error {
	return &provider.Error{Status: 502, Type: "api_error", Code: "upstream_invalid_response",
		Message: c.Deployment.Provider + ": " + what, Retryable: true, MayHaveBeenSent: true}
}

// converseUsage reads Converse's usage object. Bedrock's inputTokens
// excludes the prompt tokens read from or written to the prompt cache
// (its totalTokens counts them: input + output + cache read + cache
// write), so OpenAI's prompt_tokens, which includes cached tokens, is
// their sum, as LiteLLM reports it.
func converseUsage(v []byte) openai.Usage {
	var u openai.Usage
	var input int64
	it := rawjson.Members(v)
	for it.Next() {
		switch string(it.Name()) {
		case "inputTokens":
			input = count(it.Value())
		case "outputTokens":
			u.CompletionTokens = count(it.Value())
		case "cacheReadInputTokens":
			u.CachedTokens = count(it.Value())
		case "cacheWriteInputTokens":
			u.CacheWriteTokens = count(it.Value())
		}
	}
	u.PromptTokens = input + u.CachedTokens + u.CacheWriteTokens
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// count reads a token count: a non-negative integer of at most 18 digits,
// which keeps sums of counts from overflowing; anything else is 0.
func count(v []byte) int64 {
	n, ok := rawjson.Int(v)
	if !ok || n < 0 {
		return 0
	}
	return n
}

// finishReason maps a Converse stopReason (LiteLLM's map_finish_reason).
func finishReason(stop []byte) string {
	switch string(stop) {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "guardrail_intervened", "content_filtered":
		return "content_filter"
	}
	return "stop"
}

// jsonToolOf returns the name of the response-format tool the request
// asked for (whose call is the answer's content), or nil.
func jsonToolOf(c *provider.Call) []byte {
	if !bytes.Contains(c.Body, []byte(`"response_format"`)) {
		return nil
	}
	var name []byte
	if rf, err := readResponseFormat(rawjson.Member(c.Body, "response_format")); err == nil && rf.name != nil {
		name, _ = rawjson.Unquote(rf.name, nil)
	}
	return name
}

// decodeConverse writes a chat.completion for a Converse response.
func (cd Codec) decodeConverse(c *provider.Call, body, dst []byte) ([]byte, openai.Usage, error) {
	if !openai.Valid(body) || !rawjson.IsObject(rawjson.TrimSpace(body)) {
		// A cut or garbled answer must fail, not pass for a shorter one.
		return nil, openai.Usage{}, invalidResponse(c, "Converse returned invalid JSON")
	}
	var output, stop, usage, trace []byte
	for it := rawjson.Members(body); it.Next(); {
		switch string(it.Name()) {
		case "output":
			output = it.Value()
		case "stopReason":
			stop = it.Value()
		case "usage":
			usage = it.Value()
		case "trace":
			trace = it.Value()
		}
	}
	content := rawjson.Path(output, "message", "content")
	jsonTool := jsonToolOf(c)

	var text, jsonText, reasoning, scratch []byte
	var calls, thinkingBlocks []byte // rendered JSON arrays' insides
	var jsonContent bool
	nCalls := 0
	blocks := rawjson.Elements(content)
	for blocks.Next() {
		bm := rawjson.Members(blocks.Value())
		for bm.Next() {
			switch string(bm.Name()) {
			case "text":
				var s []byte
				if s, scratch = rawjson.Unquote(bm.Value(), scratch[:0]); s != nil {
					text = append(text, s...)
				}
			case "toolUse":
				var id, name, input []byte
				tm := rawjson.Members(bm.Value())
				for tm.Next() {
					switch string(tm.Name()) {
					case "toolUseId":
						id, _ = rawjson.Unquote(tm.Value(), nil)
					case "name":
						name, _ = rawjson.Unquote(tm.Value(), nil)
					case "input":
						input = tm.Value()
					}
				}
				if len(input) == 0 {
					input = []byte("{}")
				}
				if jsonTool != nil && string(name) == string(jsonTool) {
					jsonText = append(jsonText, input...)
					jsonContent = true
					continue
				}
				if nCalls > 0 {
					calls = append(calls, ',')
				}
				calls = append(calls, `{"id":`...)
				calls = rawjson.AppendQuoteBytes(calls, id)
				calls = append(calls, `,"type":"function","function":{"name":`...)
				calls = rawjson.AppendQuoteBytes(calls, name)
				calls = append(calls, `,"arguments":`...)
				calls = rawjson.AppendQuoteBytes(calls, input)
				calls = append(calls, "}}"...)
				nCalls++
			case "reasoningContent":
				var t, sig, redacted []byte
				rm := rawjson.Members(bm.Value())
				for rm.Next() {
					switch string(rm.Name()) {
					case "reasoningText":
						xm := rawjson.Members(rm.Value())
						for xm.Next() {
							switch string(xm.Name()) {
							case "text":
								t, _ = rawjson.Unquote(xm.Value(), nil)
							case "signature":
								sig, _ = rawjson.Unquote(xm.Value(), nil)
							}
						}
					case "redactedContent":
						redacted, _ = rawjson.Unquote(rm.Value(), nil)
					}
				}
				if len(thinkingBlocks) > 0 {
					thinkingBlocks = append(thinkingBlocks, ',')
				}
				if redacted != nil {
					thinkingBlocks = appendRedactedBlock(thinkingBlocks, redacted)
					continue
				}
				reasoning = append(reasoning, t...)
				thinkingBlocks = appendThinkingBlock(thinkingBlocks, t, sig)
			}
		}
	}

	if jsonContent {
		// The answer is the JSON tool's input; any text around the call
		// is the model talking about it.
		text = jsonText
	}
	reason, _ := rawjson.Inner(stop)
	finish := finishReason(reason)
	switch {
	case nCalls > 0:
		finish = "tool_calls"
	case jsonContent && finish == "tool_calls":
		finish = "stop"
	}
	u := converseUsage(usage)

	out := slices.Grow(dst, len(body)+256)
	out = append(out, `{"id":`...)
	out = rawjson.AppendQuote(out, cd.id())
	out = append(out, `,"object":"chat.completion","created":`...)
	out = strconv.AppendInt(out, cd.created(), 10)
	out = append(out, `,"model":`...)
	out = rawjson.AppendQuote(out, c.ClientModel)
	out = append(out, `,"system_fingerprint":null,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	if len(text) == 0 && nCalls > 0 {
		out = append(out, "null"...)
	} else {
		out = rawjson.AppendQuoteBytes(out, text)
	}
	out = append(out, `,"refusal":null`...)
	if nCalls > 0 {
		out = append(out, `,"tool_calls":[`...)
		out = append(out, calls...)
		out = append(out, ']')
	}
	if len(reasoning) > 0 {
		out = append(out, `,"reasoning_content":`...)
		out = rawjson.AppendQuoteBytes(out, reasoning)
	}
	if len(thinkingBlocks) > 0 {
		out = append(out, `,"thinking_blocks":[`...)
		out = append(out, thinkingBlocks...)
		out = append(out, ']')
	}
	out = append(out, `},"logprobs":null,"finish_reason":"`...)
	out = append(out, finish...)
	out = append(out, `"}],"usage":`...)
	out = u.AppendJSON(out)
	if rawjson.IsObject(trace) {
		// Guardrail traces, as LiteLLM passes them on (valid: the whole
		// answer is).
		out = append(out, `,"trace":`...)
		out = append(out, trace...)
	}
	return append(out, '}'), u, nil
}

// appendThinkingBlock writes LiteLLM's thinking block, which a client
// sends back as thinking_blocks in the next turn.
func appendThinkingBlock(dst, text, signature []byte) []byte {
	dst = append(dst, `{"type":"thinking","thinking":`...)
	dst = rawjson.AppendQuoteBytes(dst, text)
	if signature != nil {
		dst = append(dst, `,"signature":`...)
		dst = rawjson.AppendQuoteBytes(dst, signature)
	}
	return append(dst, '}')
}

func appendRedactedBlock(dst, data []byte) []byte {
	dst = append(dst, `{"type":"redacted_thinking","data":`...)
	dst = rawjson.AppendQuoteBytes(dst, data)
	return append(dst, '}')
}
