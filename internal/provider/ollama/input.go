package ollama

import (
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// The OpenAI chat request is read in place: the members the translation
// needs are kept as raw JSON values pointing into the client's body, and
// strings are copied into Ollama's request as they are (both are JSON, so
// a string token needs no decoding and re-encoding). This is most of what
// keeps a translation within a few microseconds; encoding/json spent
// longer on this request than on everything else together.

// chatInput is an OpenAI chat request read in place.
type chatInput struct {
	messages          []message
	tools             []byte // raw array, or nil
	toolChoice        []byte
	parallelToolCalls []byte
	responseFormat    []byte
	reasoningEffort   []byte // raw string, or nil
	n                 []byte
	logprobs          []byte
	topLogprobs       []byte
}

// message is one entry of "messages", its members raw.
type message struct {
	role       string // "system", "user", "assistant", "tool", "developer", "function"; "" if unknown
	rawRole    []byte
	content    []byte // a string, an array of parts, null, or nil when absent
	name       []byte // a string, or nil
	toolCalls  []byte // an array, or nil
	toolCallID []byte // a string, or nil
	reasoning  []byte // reasoning_content: a string, or nil
}

var roles = []string{"system", "user", "assistant", "tool", "developer", "function"}

func badBody(what string) *provider.Error {
	return &provider.Error{Status: 400, Type: "invalid_request_error", Message: "invalid request body: " + what}
}

// readChat reads the members of an OpenAI chat request the translation
// needs; sortParams has sorted the others.
func readChat(c *provider.Call, in *chatInput) error {
	m := openObject(c.Body)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		if isNull(v) {
			continue
		}
		switch string(k) {
		case "messages":
			if err := readMessages(c, v, in); err != nil {
				return err
			}
		case "tools":
			in.tools = v
		case "tool_choice":
			in.toolChoice = v
		case "parallel_tool_calls":
			in.parallelToolCalls = v
		case "response_format":
			in.responseFormat = v
		case "reasoning_effort":
			in.reasoningEffort = v
		case "n":
			in.n = v
		case "logprobs":
			in.logprobs = v
		case "top_logprobs":
			in.topLogprobs = v
		}
	}
	if m.err != nil {
		return badBody("not a JSON object")
	}
	return nil
}

func readMessages(c *provider.Call, v []byte, in *chatInput) error {
	e := openArray(v)
	for {
		item, ok := e.next()
		if !ok {
			break
		}
		var msg message
		m := openObject(item)
		for {
			k, v, ok := m.next()
			if !ok {
				break
			}
			switch string(k) {
			case "role":
				msg.rawRole = v
				for _, r := range roles {
					if len(v) == len(r)+2 && string(v[1:len(v)-1]) == r {
						msg.role = r
					}
				}
			case "content":
				msg.content = v
			case "name":
				if isString(v) {
					msg.name = v
				}
			case "tool_calls":
				if !isNull(v) {
					msg.toolCalls = v
				}
			case "tool_call_id":
				if isString(v) {
					msg.toolCallID = v
				}
			case "reasoning_content":
				if isString(v) {
					msg.reasoning = v
				}
			}
		}
		if m.err != nil {
			return badBody("messages must be an array of objects")
		}
		in.messages = append(in.messages, msg)
	}
	if e.err != nil {
		return badBody("messages must be an array of objects")
	}
	return nil
}

// part is one element of an array content, read in place.
type part struct {
	typ  []byte // raw string
	text []byte // raw string, for text parts
	url  []byte // raw string: image_url.url (or image_url itself when a string)
}

func readPart(v []byte) (p part, ok bool) {
	m := openObject(v)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case "type":
			p.typ = v
		case "text":
			if isString(v) {
				p.text = v
			}
		case "image_url":
			if isString(v) {
				p.url = v
				continue
			}
			im := openObject(v)
			for {
				k, v, ok := im.next()
				if !ok {
					break
				}
				if string(k) == "url" && isString(v) {
					p.url = v
				}
			}
		}
	}
	return p, m.err == nil
}

// partType is the type of a part as text.
func (p *part) is(typ string) bool {
	return len(p.typ) == len(typ)+2 && string(p.typ[1:len(p.typ)-1]) == typ
}

// call is one assistant tool call, read in place.
type call struct {
	id, name, args []byte // raw strings
}

func readCall(v []byte) (tc call, ok bool) {
	m := openObject(v)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case "id":
			if isString(v) {
				tc.id = v
			}
		case "function":
			f := openObject(v)
			for {
				k, v, ok := f.next()
				if !ok {
					break
				}
				switch string(k) {
				case "name":
					if isString(v) {
						tc.name = v
					}
				case "arguments":
					if isString(v) {
						tc.args = v
					}
				}
			}
		}
	}
	return tc, m.err == nil
}

// unquoteTo appends the text of the raw JSON string v (nothing if v is
// not a string).
func unquoteTo(dst, v []byte) []byte {
	if !isString(v) {
		return dst
	}
	return appendUnquoted(dst, v)
}

// rawString appends the raw JSON string v, or "" when v is not a string.
func rawString(dst, v []byte) []byte {
	if !isString(v) {
		return append(dst, `""`...)
	}
	return append(dst, v...)
}
