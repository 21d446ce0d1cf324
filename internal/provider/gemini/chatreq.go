package gemini

import (
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// chatRequest is an OpenAI chat request as slices of the client's body.
// The body was validated by the envelope parser, and both sides speak
// JSON, so strings are carried to the Gemini request still escaped: no
// encoding/json, no unescaping and re-escaping, no allocation per field.
// Strings are raw string bodies (without quotes); other values raw JSON.
type chatRequest struct {
	msgs  []message
	parts []contentPart
	calls []toolCall
	tools []toolDef

	toolChoice []byte
	parallel   int8 // parallel_tool_calls: -1 false, 1 true, 0 absent
	logprobs   bool

	rfType, rfSchema []byte // response_format.type, .json_schema.schema
	effort           []byte // reasoning_effort

	temperature, topP, presence, frequency []byte // numbers
	seed, topLogprobs                      []byte // integers
	stop                                   []byte // a string or an array of strings
}

type message struct {
	role, name, toolCallID []byte
	text                   []byte // a string content
	isParts                bool   // parts[partsFrom:partsTo] are the content
	partsFrom, partsTo     int
	callsFrom, callsTo     int // calls[callsFrom:callsTo] are its tool_calls
}

type contentPart struct {
	typ, text, refusal []byte
	url, format        []byte // image_url.url/format, file.file_data|file_id/format
	fileID             bool
	audio, audioFormat []byte
}

type toolCall struct {
	id, name []byte
	args     []byte // function.arguments: JSON text inside a string body
	sig      []byte // provider_specific_fields / extra_content signature
}

type toolDef struct {
	typ, name, desc, params []byte
	hasFunction             bool
	raw                     []byte // the whole entry, for Gemini's own tools
}

// typeError is a 400 for a member of the wrong JSON type.
func typeError(param, want string) *provider.Error {
	return provider.BadRequest(param, param+" must be "+want)
}

// parse reads body into r (its slices are reused). Parameter names for
// error messages are only built on error: parsing allocates nothing.
func (r *chatRequest) parse(body []byte) *provider.Error {
	*r = chatRequest{msgs: r.msgs[:0], parts: r.parts[:0], calls: r.calls[:0], tools: r.tools[:0]}
	var s scanner
	s.reset(body)
	if !s.enter('{') {
		return provider.BadRequest("", "the request body must be a JSON object")
	}
	for n := 0; s.more('}', &n); {
		key := s.key()
		if s.null() {
			continue
		}
		var err *provider.Error
		ok := true
		switch string(key) {
		case "messages":
			err = r.messages(&s)
		case "tools":
			err = r.toolDefs(&s)
		case "tool_choice":
			r.toolChoice = s.raw()
		case "parallel_tool_calls":
			if r.parallel, ok = flag(&s); !ok {
				err = typeError("parallel_tool_calls", "a boolean")
			}
		case "logprobs":
			var f int8
			if f, ok = flag(&s); !ok {
				err = typeError("logprobs", "a boolean")
			}
			r.logprobs = f > 0
		case "response_format":
			err = r.responseFormat(&s)
		case "reasoning_effort":
			if r.effort, ok = strv(&s); !ok {
				err = typeError("reasoning_effort", "a string")
			}
		case "temperature":
			r.temperature, err = number(&s, "temperature", false)
		case "top_p":
			r.topP, err = number(&s, "top_p", false)
		case "presence_penalty":
			r.presence, err = number(&s, "presence_penalty", false)
		case "frequency_penalty":
			r.frequency, err = number(&s, "frequency_penalty", false)
		case "seed":
			r.seed, err = number(&s, "seed", true)
		case "top_logprobs":
			r.topLogprobs, err = number(&s, "top_logprobs", true)
		case "stop":
			if r.stop, ok = stopValue(&s); !ok {
				err = typeError("stop", "a string or an array of strings")
			}
		default:
			s.skip()
		}
		if err != nil {
			return err
		}
	}
	if !s.end() {
		return provider.BadRequest("", "the request body is not valid JSON")
	}
	return nil
}

// strv reads a string body; ok is false (and the value skipped) for any
// other type.
func strv(s *scanner) ([]byte, bool) {
	if s.peek() != '"' {
		s.skip()
		return nil, false
	}
	return s.str(), true
}

func flag(s *scanner) (int8, bool) {
	switch s.peek() {
	case 't':
		s.literal("true")
		return 1, true
	case 'f':
		s.literal("false")
		return -1, true
	}
	s.skip()
	return 0, false
}

// number reads a number, which must be whole when integer is set.
func number(s *scanner, param string, integer bool) ([]byte, *provider.Error) {
	if c := s.peek(); c != '-' && !isDigit(c) {
		s.skip()
		return nil, typeError(param, "a number")
	}
	v := s.num()
	if integer {
		for _, c := range v {
			if c != '-' && !isDigit(c) {
				return nil, typeError(param, "an integer")
			}
		}
	}
	return v, nil
}

func stopValue(s *scanner) ([]byte, bool) {
	switch s.peek() {
	case '"':
		return s.raw(), true
	case '[':
		v := s.raw()
		var e scanner
		e.reset(v)
		e.enter('[')
		for n := 0; e.more(']', &n); {
			if e.peek() != '"' {
				return nil, false
			}
			e.str()
		}
		return v, true
	}
	s.skip()
	return nil, false
}

// object enters an object, or skips a value of another type and reports
// false.
func object(s *scanner) bool {
	if s.peek() != '{' {
		s.skip()
		return false
	}
	return s.enter('{')
}

func array(s *scanner) bool {
	if s.peek() != '[' {
		s.skip()
		return false
	}
	return s.enter('[')
}

// field reads the next member name of an object being walked, skipping
// null values; ok is false at the end of the object.
func field(s *scanner, n *int) (name []byte, ok bool) {
	for s.more('}', n) {
		name = s.key()
		if !s.null() {
			return name, true
		}
	}
	return nil, false
}

func (r *chatRequest) messages(s *scanner) *provider.Error {
	if !array(s) {
		return typeError("messages", "an array")
	}
	for n := 0; s.more(']', &n); {
		i := len(r.msgs)
		if !object(s) {
			return typeError("messages["+strconv.Itoa(i)+"]", "an object")
		}
		m := message{callsFrom: len(r.calls), callsTo: len(r.calls)}
		for k := 0; ; {
			key, more := field(s, &k)
			if !more {
				break
			}
			ok := true
			switch string(key) {
			case "role":
				if m.role, ok = strv(s); !ok {
					return typeError(param(i, "role"), "a string")
				}
			case "name":
				if m.name, ok = strv(s); !ok {
					return typeError(param(i, "name"), "a string")
				}
			case "tool_call_id":
				if m.toolCallID, ok = strv(s); !ok {
					return typeError(param(i, "tool_call_id"), "a string")
				}
			case "content":
				if err := r.content(s, &m, i); err != nil {
					return err
				}
			case "tool_calls":
				if err := r.toolCalls(s, &m, i); err != nil {
					return err
				}
			default:
				s.skip()
			}
		}
		r.msgs = append(r.msgs, m)
	}
	return nil
}

func (r *chatRequest) content(s *scanner, m *message, i int) *provider.Error {
	if s.peek() == '"' {
		m.text = s.str()
		return nil
	}
	if !array(s) {
		return typeError(param(i, "content"), "a string, an array of content parts, or null")
	}
	m.isParts, m.partsFrom = true, len(r.parts)
	for n := 0; s.more(']', &n); {
		j := len(r.parts) - m.partsFrom
		if !object(s) {
			return typeError(partParam(i, j), "an object")
		}
		var p contentPart
		for k := 0; ; {
			key, more := field(s, &k)
			if !more {
				break
			}
			var bad string // the member of the wrong type
			switch string(key) {
			case "type":
				bad = readStr(s, &p.typ, "type")
			case "text":
				bad = readStr(s, &p.text, "text")
			case "refusal":
				bad = readStr(s, &p.refusal, "refusal")
			case "image_url":
				bad = p.media(s, "image_url", "url", "format", &p.url, &p.format)
			case "input_audio":
				bad = p.media(s, "input_audio", "data", "format", &p.audio, &p.audioFormat)
			case "file":
				var data, id []byte
				bad = p.file(s, &data, &id)
				p.url = data
				if data == nil && id != nil {
					p.url, p.fileID = id, true
				}
			default:
				s.skip()
			}
			if bad != "" {
				return typeError(partParam(i, j)+"."+bad, "of the type OpenAI documents")
			}
		}
		r.parts = append(r.parts, p)
	}
	m.partsTo = len(r.parts)
	return nil
}

// readStr reads a string into dst, or returns name when the value is of
// another type.
func readStr(s *scanner, dst *[]byte, name string) string {
	v, ok := strv(s)
	if !ok {
		return name
	}
	*dst = v
	return ""
}

// media reads an object with two string members a and b; it returns the
// path of a member of the wrong type, "" when all is well.
func (p *contentPart) media(s *scanner, obj, a, b string, va, vb *[]byte) string {
	if !object(s) {
		return obj
	}
	for k := 0; ; {
		key, more := field(s, &k)
		if !more {
			return ""
		}
		switch string(key) {
		case a, b:
			v, ok := strv(s)
			if !ok {
				return obj + "." + string(key)
			}
			if string(key) == a {
				*va = v
			} else {
				*vb = v
			}
		default:
			s.skip()
		}
	}
}

func (p *contentPart) file(s *scanner, data, id *[]byte) string {
	if !object(s) {
		return "file"
	}
	for k := 0; ; {
		key, more := field(s, &k)
		if !more {
			return ""
		}
		var dst *[]byte
		switch string(key) {
		case "file_data":
			dst = data
		case "file_id":
			dst = id
		case "format":
			dst = &p.format
		default:
			s.skip()
			continue
		}
		v, ok := strv(s)
		if !ok {
			return "file." + string(key)
		}
		*dst = v
	}
}

func (r *chatRequest) toolCalls(s *scanner, m *message, i int) *provider.Error {
	if !array(s) {
		return typeError(param(i, "tool_calls"), "an array")
	}
	for n := 0; s.more(']', &n); {
		if !object(s) {
			return typeError(param(i, "tool_calls["+strconv.Itoa(n-1)+"]"), "an object")
		}
		var tc toolCall
		for k := 0; ; {
			key, more := field(s, &k)
			if !more {
				break
			}
			ok := true
			switch string(key) {
			case "id":
				tc.id, ok = strv(s)
			case "function":
				if !object(s) {
					ok = false
					break
				}
				for f := 0; ok; {
					name, more := field(s, &f)
					if !more {
						break
					}
					switch string(name) {
					case "name":
						tc.name, ok = strv(s)
					case "arguments":
						tc.args, ok = strv(s)
					default:
						s.skip()
					}
				}
			case "provider_specific_fields":
				if sig := signatureIn(s, "thought_signature"); sig != nil {
					tc.sig = sig
				}
			case "extra_content":
				if sig := signatureIn(s, "google", "thought_signature"); sig != nil && tc.sig == nil {
					tc.sig = sig
				}
			default:
				s.skip()
			}
			if !ok {
				return typeError(param(i, "tool_calls["+strconv.Itoa(n-1)+"]."+string(key)), "of the type OpenAI documents")
			}
		}
		r.calls = append(r.calls, tc)
	}
	m.callsTo = len(r.calls)
	return nil
}

// signatureIn reads the string at path inside the object at s; nil when
// there is none.
func signatureIn(s *scanner, path ...string) []byte {
	if !object(s) {
		return nil
	}
	var found []byte
	for n := 0; s.more('}', &n); {
		name := s.key()
		switch {
		case string(name) != path[0]:
			s.skip()
		case len(path) > 1:
			found = signatureIn(s, path[1:]...)
		case s.peek() == '"':
			found = s.str()
		default:
			s.skip()
		}
	}
	return found
}

func (r *chatRequest) toolDefs(s *scanner) *provider.Error {
	if !array(s) {
		return typeError("tools", "an array")
	}
	for n := 0; s.more(']', &n); {
		s.ws()
		start := s.i
		if !object(s) {
			return typeError("tools["+strconv.Itoa(n-1)+"]", "an object")
		}
		var t toolDef
		for k := 0; ; {
			key, more := field(s, &k)
			if !more {
				break
			}
			ok := true
			switch string(key) {
			case "type":
				t.typ, ok = strv(s)
			case "function":
				t.hasFunction = true
				if !object(s) {
					ok = false
					break
				}
				for f := 0; ok; {
					name, more := field(s, &f)
					if !more {
						break
					}
					switch string(name) {
					case "name":
						t.name, ok = strv(s)
					case "description":
						t.desc, ok = strv(s)
					case "parameters":
						t.params = s.raw()
					default:
						s.skip()
					}
				}
			default:
				s.skip()
			}
			if !ok {
				return typeError("tools["+strconv.Itoa(n-1)+"]."+string(key), "of the type OpenAI documents")
			}
		}
		t.raw = s.b[start:s.i]
		r.tools = append(r.tools, t)
	}
	return nil
}

func (r *chatRequest) responseFormat(s *scanner) *provider.Error {
	if !object(s) {
		return typeError("response_format", "an object")
	}
	for k := 0; ; {
		key, more := field(s, &k)
		if !more {
			return nil
		}
		switch string(key) {
		case "type":
			v, ok := strv(s)
			if !ok {
				return typeError("response_format.type", "a string")
			}
			r.rfType = v
		case "json_schema":
			if !object(s) {
				return typeError("response_format.json_schema", "an object")
			}
			for f := 0; ; {
				name, more := field(s, &f)
				if !more {
					break
				}
				if string(name) == "schema" {
					r.rfSchema = s.raw()
				} else {
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
}
