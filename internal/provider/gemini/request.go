package gemini

import (
	"bytes"
	"strconv"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// skipSignature is the value Google documents for a function call whose
// thought signature is unknown (a history written by another model, or by
// a client that lost it); Gemini 3 refuses a call without any.
const skipSignature = "skip_thought_signature_validator"

var chatRequests = sync.Pool{New: func() any { return new(chatRequest) }}

// chatBuilder writes a GenerateContentRequest from an OpenAI chat request.
type chatBuilder struct {
	c   *provider.Call
	p   *prepared
	req *chatRequest
	b   []byte
	// role of the content being written ("" before the first), and how
	// many parts it has: consecutive messages of one role share a content.
	role  string
	parts int
}

func buildChat(c *provider.Call, p *prepared, dst []byte) ([]byte, error) {
	var nat native
	if err := provider.SortParams(c, chatParamKind, nat.keep); err != nil {
		return nil, err
	}
	req := chatRequests.Get().(*chatRequest)
	defer func() {
		// Drop the references into this body before the next use.
		clear(req.msgs)
		clear(req.parts)
		clear(req.calls)
		clear(req.tools)
		chatRequests.Put(req)
	}()
	if err := req.parse(c.Body); err != nil {
		return nil, err
	}
	w := chatBuilder{c: c, p: p, req: req, b: dst}
	w.b = append(w.b, `{"contents":[`...)
	for i := range req.msgs {
		if err := w.message(i); err != nil {
			return nil, err
		}
	}
	if w.role != "" {
		w.b = append(w.b, "]}"...)
	}
	w.b = append(w.b, ']')
	if err := w.system(); err != nil {
		return nil, err
	}
	if err := w.tools(&nat); err != nil {
		return nil, err
	}
	if err := w.generationConfig(&nat); err != nil {
		return nil, err
	}
	w.b = appendMembers(w.b, nat.top)
	return append(w.b, '}'), nil
}

// part starts a part in a content of role, opening the content if the
// previous part belonged to another role.
func (w *chatBuilder) part(role string) {
	if w.role != role {
		if w.role != "" {
			w.b = append(w.b, "]},"...)
		}
		w.b = append(w.b, `{"role":"`...)
		w.b = append(w.b, role...)
		w.b = append(w.b, `","parts":[`...)
		w.role, w.parts = role, 0
	}
	if w.parts > 0 {
		w.b = append(w.b, ',')
	}
	w.parts++
}

// text writes a text part; raw is a JSON string body.
func (w *chatBuilder) text(role string, raw []byte) {
	if len(raw) == 0 {
		// Gemini refuses empty text parts.
		return
	}
	w.part(role)
	w.b = append(w.b, `{"text":"`...)
	w.b = append(w.b, raw...)
	w.b = append(w.b, `"}`...)
}

func (w *chatBuilder) message(i int) error {
	m := &w.req.msgs[i]
	switch string(m.role) {
	case "system", "developer":
		return nil // hoisted into systemInstruction
	case "user":
		return w.content("user", i)
	case "assistant":
		if err := w.content("model", i); err != nil {
			return err
		}
		return w.calls(i)
	case "tool", "function":
		return w.toolResult(i)
	}
	return provider.BadRequest(param(i, "role"), "role "+strconv.Quote(string(m.role))+" is not supported")
}

// content writes a message's content as parts of a content of role.
func (w *chatBuilder) content(role string, i int) error {
	m := &w.req.msgs[i]
	if !m.isParts {
		w.text(role, m.text)
		return nil
	}
	for j := m.partsFrom; j < m.partsTo; j++ {
		cp := &w.req.parts[j]
		switch string(cp.typ) {
		case "text":
			w.text(role, cp.text)
		case "refusal":
			w.text(role, cp.refusal)
		case "image_url", "input_audio", "file":
			if err := w.media(role, i, j-m.partsFrom, cp); err != nil {
				return err
			}
		default:
			return provider.BadRequest(partParam(i, j-m.partsFrom), "content part type "+strconv.Quote(string(cp.typ))+" is not supported by "+w.c.Deployment.Provider)
		}
	}
	return nil
}

// calls writes an assistant's tool calls as functionCall parts, each with
// the thought signature it was answered with.
func (w *chatBuilder) calls(i int) error {
	m := &w.req.msgs[i]
	for j := m.callsFrom; j < m.callsTo; j++ {
		tc := &w.req.calls[j]
		w.part("model")
		w.b = append(w.b, `{"functionCall":{"name":"`...)
		w.b = append(w.b, tc.name...)
		w.b = append(w.b, `","args":`...)
		if !w.jsonObject(tc.args) {
			return provider.BadRequest(param(i, "tool_calls["+strconv.Itoa(j-m.callsFrom)+"].function.arguments"),
				"function arguments must be a JSON object to be sent to "+w.c.Deployment.Provider)
		}
		w.b = append(w.b, '}')
		sig := tc.sig
		if sig == nil {
			if k := bytes.Index(tc.id, []byte(sigSeparator)); k >= 0 {
				sig = tc.id[k+len(sigSeparator):]
			}
		}
		if len(sig) == 0 && j == m.callsFrom && w.p.gemini3 {
			sig = []byte(skipSignature)
		}
		if len(sig) > 0 {
			w.b = append(w.b, `,"thoughtSignature":"`...)
			w.b = append(w.b, sig...)
			w.b = append(w.b, '"')
		}
		w.b = append(w.b, '}')
	}
	return nil
}

// jsonObject writes the JSON text inside the string body raw, which must
// be an object ("" stands for {}), and reports whether it was one.
func (w *chatBuilder) jsonObject(raw []byte) bool {
	if len(raw) == 0 {
		w.b = append(w.b, "{}"...)
		return true
	}
	mark := len(w.b)
	w.b = appendUnescaped(w.b, raw)
	return isObject(w.b[mark:])
}

// toolResult writes a tool message as a functionResponse part. Gemini
// pairs results with calls by function name, which the OpenAI message does
// not carry: it is looked up from the call with the same id earlier in the
// conversation.
func (w *chatBuilder) toolResult(i int) error {
	m := &w.req.msgs[i]
	name := m.name
	if string(m.role) == "tool" {
		if n := w.callName(i, m.toolCallID); n != nil {
			name = n
		}
	}
	if len(name) == 0 {
		return provider.BadRequest(param(i, "tool_call_id"),
			"no earlier assistant tool call has id "+strconv.Quote(string(m.toolCallID))+"; "+w.c.Deployment.Provider+" needs the function name of each tool result")
	}
	w.part("user")
	w.b = append(w.b, `{"functionResponse":{"name":"`...)
	w.b = append(w.b, name...)
	w.b = append(w.b, `","response":`...)
	// The response must be an object: a JSON object result is passed as it
	// is, anything else is wrapped.
	mark := len(w.b)
	if !m.isParts {
		if !w.jsonObject(m.text) || len(m.text) == 0 {
			w.b = append(append(append(w.b[:mark], `{"content":"`...), m.text...), `"}`...)
		}
	} else {
		for j := m.partsFrom; j < m.partsTo; j++ {
			w.b = appendUnescaped(w.b, w.req.parts[j].text)
		}
		if !isObject(w.b[mark:]) {
			w.b = append(w.b[:mark], `{"content":"`...)
			for j := m.partsFrom; j < m.partsTo; j++ {
				w.b = append(w.b, w.req.parts[j].text...)
			}
			w.b = append(w.b, `"}`...)
		}
	}
	w.b = append(w.b, "}}"...)
	return nil
}

// callName finds the function name of the call id among the assistant
// messages before message i.
func (w *chatBuilder) callName(i int, id []byte) []byte {
	for k := i - 1; k >= 0; k-- {
		m := &w.req.msgs[k]
		for j := m.callsFrom; j < m.callsTo; j++ {
			if bytes.Equal(w.req.calls[j].id, id) {
				return w.req.calls[j].name
			}
		}
	}
	return nil
}

// system writes system and developer messages as systemInstruction.
func (w *chatBuilder) system() error {
	n := 0
	add := func(raw []byte) {
		if len(raw) == 0 {
			return
		}
		if n == 0 {
			w.b = append(w.b, `,"systemInstruction":{"parts":[`...)
		} else {
			w.b = append(w.b, ',')
		}
		n++
		w.b = append(w.b, `{"text":"`...)
		w.b = append(w.b, raw...)
		w.b = append(w.b, `"}`...)
	}
	for i := range w.req.msgs {
		m := &w.req.msgs[i]
		if string(m.role) != "system" && string(m.role) != "developer" {
			continue
		}
		if !m.isParts {
			add(m.text)
			continue
		}
		for j := m.partsFrom; j < m.partsTo; j++ {
			if string(w.req.parts[j].typ) != "text" {
				return provider.BadRequest(partParam(i, j-m.partsFrom), "system messages can only hold text for "+w.c.Deployment.Provider)
			}
			add(w.req.parts[j].text)
		}
	}
	if n > 0 {
		w.b = append(w.b, "]}"...)
	}
	return nil
}

func param(i int, field string) string {
	return "messages[" + strconv.Itoa(i) + "]." + field
}

func partParam(i, j int) string {
	return "messages[" + strconv.Itoa(i) + "].content[" + strconv.Itoa(j) + "]"
}
