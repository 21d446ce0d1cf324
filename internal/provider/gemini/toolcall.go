package gemini

import "strconv"

// Gemini pairs a function's result with its call by the function's name,
// and its calls carry no id an OpenAI client could use, so the gateway
// makes up the ids: "call_<responseId>_<n>", unique per answer (the name
// of a result is found again from the id in the conversation). A call may carry a thoughtSignature that Gemini 3 requires back
// on the same call in the next turn. The OpenAI SDKs rebuild an assistant
// message from its typed fields only (openai-go's ToParam keeps a tool
// call's id, name and arguments and nothing else), so the one field every
// client returns intact is the id: the signature rides in it after
// "__thought__", LiteLLM's convention, and is also given as LiteLLM's
// provider_specific_fields.thought_signature for clients that read it. On
// the way in, the id suffix, provider_specific_fields and Google's own
// extra_content.google.thought_signature are all honoured.
const sigSeparator = "__thought__"

// appendToolCall appends one OpenAI tool call object for p; index >= 0
// adds the "index" a stream delta needs. n numbers the calls of an answer.
func appendToolCall(dst []byte, p *part, base string, n, index int) []byte {
	dst = append(dst, '{')
	if index >= 0 {
		dst = append(dst, `"index":`...)
		dst = strconv.AppendInt(dst, int64(index), 10)
		dst = append(dst, ',')
	}
	dst = append(dst, `"id":"call_`...)
	dst = append(dst, base...)
	dst = append(dst, '_')
	dst = strconv.AppendInt(dst, int64(n), 10)
	if len(p.sig) > 0 {
		dst = append(dst, sigSeparator...)
		dst = append(dst, p.sig...)
	}
	dst = append(dst, `","type":"function","function":{"name":"`...)
	dst = append(dst, p.name...)
	dst = append(dst, `","arguments":`...)
	if index >= 0 {
		// A stream sends the arguments in the next delta, as OpenAI does.
		dst = append(dst, `""`...)
	} else {
		dst = appendArguments(dst, p.args)
	}
	dst = append(dst, '}')
	if len(p.sig) > 0 {
		dst = append(dst, `,"provider_specific_fields":{"thought_signature":"`...)
		dst = append(dst, p.sig...)
		dst = append(dst, `"}`...)
	}
	return append(dst, '}')
}

// appendArguments writes functionCall.args (a JSON object) as the JSON
// string OpenAI's "arguments" is, compacted as OpenAI writes it (Gemini's
// whole answers are indented); a call without args is "{}".
func appendArguments(dst, args []byte) []byte {
	if len(args) == 0 || string(args) == "null" {
		return append(dst, `"{}"`...)
	}
	return appendQuoted(dst, args)
}

// appendQuoted writes b, known to be valid JSON text, as a JSON string,
// leaving out the whitespace between tokens. Inside JSON strings only
// quotes and backslashes can need escaping again: control characters
// there are escaped already.
func appendQuoted(dst, b []byte) []byte {
	dst = append(dst, '"')
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			dst = append(dst, `\\`...)
			if i+1 < len(b) {
				i++
				if b[i] == '"' || b[i] == '\\' {
					dst = append(dst, '\\')
				}
				dst = append(dst, b[i])
			}
		case c == '"':
			inString = !inString
			dst = append(dst, `\"`...)
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
