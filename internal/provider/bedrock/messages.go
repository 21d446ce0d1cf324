package bedrock

import (
	"encoding/json"
	"fmt"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// msgWriter writes Converse messages. Converse wants user and assistant
// turns to alternate, so consecutive messages of one role (tool results
// and the user text after them, say) share one turn; a message with
// nothing to send opens none.
type msgWriter struct {
	out        []byte
	role       string // role of the open turn, "" before the first
	toolBlocks bool   // the history holds toolUse or toolResult blocks
	docs       int
	scratch    []byte
}

// block starts a content block in a turn of role.
func (w *msgWriter) block(role string) {
	switch {
	case w.role == role:
		w.out = append(w.out, ',')
		return
	case w.role != "":
		w.out = append(w.out, "]},"...)
	}
	w.role = role
	w.out = append(w.out, `{"role":"`...)
	w.out = append(w.out, role...)
	w.out = append(w.out, `","content":[`...)
}

func (w *msgWriter) cachePoint(role string) {
	w.block(role)
	w.out = append(w.out, `{"cachePoint":{"type":"default"}}`...)
}

// text writes a text block from a raw string token, skipping blank text,
// which Converse refuses.
func (w *msgWriter) text(role string, raw []byte) bool {
	if w.blank(raw) {
		return false
	}
	w.block(role)
	w.out = append(w.out, `{"text":`...)
	w.out = append(w.out, raw...)
	w.out = append(w.out, '}')
	return true
}

func (w *msgWriter) blank(raw []byte) bool {
	if len(raw) > 2 && raw[1] != ' ' && raw[1] != '\\' && raw[1] != '\t' && raw[1] != '\n' {
		return false
	}
	var s []byte
	s, w.scratch = rawjson.Unquote(raw, w.scratch[:0])
	for _, c := range s {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// message fields translation reads.
type message struct {
	role, content, toolCalls, toolCallID, thinkingBlocks, cacheControl, functionCall []byte
}

func readMessage(v []byte) (message, bool) {
	var m message
	it := rawjson.Members(v)
	for it.Next() {
		switch string(it.Name()) {
		case "role":
			m.role = it.Value()
		case "content":
			m.content = it.Value()
		case "tool_calls":
			m.toolCalls = it.Value()
		case "tool_call_id":
			m.toolCallID = it.Value()
		case "thinking_blocks":
			m.thinkingBlocks = it.Value()
		case "cache_control":
			m.cacheControl = it.Value()
		case "function_call":
			m.functionCall = it.Value()
		}
	}
	return m, m.role != nil // nil too when v is not an object
}

func (w *msgWriter) messages(msgs []byte) error {
	it := rawjson.Elements(msgs)
	for i := 0; it.Next(); i++ {
		m, ok := readMessage(it.Value())
		if !ok {
			return provider.BadRequest(fmt.Sprintf("messages[%d]", i), fmt.Sprintf("messages[%d] must be an object with a role", i))
		}
		var err error
		switch {
		case rawjson.Is(m.role, "system"), rawjson.Is(m.role, "developer"):
			continue // see appendSystem
		case rawjson.Is(m.role, "user"):
			err = w.userContent(i, "user", &m)
		case rawjson.Is(m.role, "assistant"):
			err = w.assistant(i, &m)
		case rawjson.Is(m.role, "tool"):
			err = w.toolResult(i, &m)
		case rawjson.Is(m.role, "function"):
			err = provider.BadRequest(fmt.Sprintf("messages[%d].role", i), "bedrock does not support the deprecated function role; use tool messages")
		default:
			err = provider.BadRequest(fmt.Sprintf("messages[%d].role", i), fmt.Sprintf("messages[%d] has an unknown role %s", i, m.role))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// userContent writes a user message's content: text, images, documents.
func (w *msgWriter) userContent(i int, role string, m *message) error {
	switch {
	case rawjson.IsString(m.content):
		if w.text(role, m.content) && !rawjson.IsNull(m.cacheControl) {
			w.cachePoint(role)
		}
		return nil
	case rawjson.IsArray(m.content):
		wrote := false
		parts := rawjson.Elements(m.content)
		for j := 0; parts.Next(); j++ {
			ok, err := w.part(i, j, role, parts.Value())
			if err != nil {
				return err
			}
			wrote = wrote || ok
		}
		if wrote && !rawjson.IsNull(m.cacheControl) {
			w.cachePoint(role)
		}
		return nil
	case rawjson.IsNull(m.content):
		return nil
	}
	return provider.BadRequest(fmt.Sprintf("messages[%d].content", i), "content must be a string or an array of content parts")
}

type contentPart struct {
	typ, text, refusal, imageURL, file, cacheControl []byte
}

// part writes one content part; ok reports that it wrote a block.
func (w *msgWriter) part(i, j int, role string, v []byte) (ok bool, err error) {
	var p contentPart
	it := rawjson.Members(v)
	for it.Next() {
		switch string(it.Name()) {
		case "type":
			p.typ = it.Value()
		case "text":
			p.text = it.Value()
		case "refusal":
			p.refusal = it.Value()
		case "image_url":
			p.imageURL = it.Value()
		case "file":
			p.file = it.Value()
		case "cache_control":
			p.cacheControl = it.Value()
		}
	}
	param := func(sub string) string { return fmt.Sprintf("messages[%d].content[%d]%s", i, j, sub) }
	switch {
	case rawjson.Is(p.typ, "text"):
		if !rawjson.IsString(p.text) {
			return false, provider.BadRequest(param(".text"), "a text part needs a text string")
		}
		ok = w.text(role, p.text)
	case rawjson.Is(p.typ, "refusal") && role == "assistant":
		ok = rawjson.IsString(p.refusal) && w.text(role, p.refusal)
	case rawjson.Is(p.typ, "image_url"):
		if role != "user" {
			return false, provider.BadRequest(param(""), "bedrock accepts images only in user and tool messages")
		}
		if err := w.image(p.imageURL, param(".image_url")); err != nil {
			return false, err
		}
		ok = true
	case rawjson.Is(p.typ, "file"):
		if role != "user" {
			return false, provider.BadRequest(param(""), "bedrock accepts files only in user messages")
		}
		if err := w.file(p.file, param(".file")); err != nil {
			return false, err
		}
		ok = true
	default:
		return false, provider.BadRequest(param(".type"), fmt.Sprintf("bedrock does not support content parts of type %s", p.typ))
	}
	if ok && !rawjson.IsNull(p.cacheControl) {
		w.cachePoint(role)
	}
	return ok, nil
}

// assistant writes an assistant turn: signed reasoning first (Claude
// wants it back before the tool calls it led to), then text, then tool
// calls.
func (w *msgWriter) assistant(i int, m *message) error {
	if !rawjson.IsNull(m.functionCall) {
		return provider.BadRequest(fmt.Sprintf("messages[%d].function_call", i), "bedrock does not support the deprecated function_call; use tool_calls")
	}
	if !rawjson.IsNull(m.thinkingBlocks) {
		if !rawjson.IsArray(m.thinkingBlocks) {
			return provider.BadRequest(fmt.Sprintf("messages[%d].thinking_blocks", i), "thinking_blocks must be an array")
		}
		blocks := rawjson.Elements(m.thinkingBlocks)
		for j := 0; blocks.Next(); j++ {
			if err := w.thinkingBlock(blocks.Value(), fmt.Sprintf("messages[%d].thinking_blocks[%d]", i, j)); err != nil {
				return err
			}
		}
	}
	if err := w.userContent(i, "assistant", m); err != nil {
		return err
	}
	if rawjson.IsNull(m.toolCalls) {
		return nil
	}
	if !rawjson.IsArray(m.toolCalls) {
		return provider.BadRequest(fmt.Sprintf("messages[%d].tool_calls", i), "tool_calls must be an array")
	}
	calls := rawjson.Elements(m.toolCalls)
	for j := 0; calls.Next(); j++ {
		if err := w.toolUse(calls.Value(), i, j); err != nil {
			return err
		}
	}
	return nil
}

func (w *msgWriter) thinkingBlock(v []byte, param string) error {
	var typ, thinking, signature, data []byte
	it := rawjson.Members(v)
	for it.Next() {
		switch string(it.Name()) {
		case "type":
			typ = it.Value()
		case "thinking":
			thinking = it.Value()
		case "signature":
			signature = it.Value()
		case "data":
			data = it.Value()
		}
	}
	switch {
	case rawjson.Is(typ, "thinking") && rawjson.IsString(thinking):
		w.block("assistant")
		w.out = append(w.out, `{"reasoningContent":{"reasoningText":{"text":`...)
		w.out = append(w.out, thinking...)
		if rawjson.IsString(signature) {
			w.out = append(w.out, `,"signature":`...)
			w.out = append(w.out, signature...)
		}
		w.out = append(w.out, "}}}"...)
	case rawjson.Is(typ, "redacted_thinking") && rawjson.IsString(data):
		w.block("assistant")
		w.out = append(w.out, `{"reasoningContent":{"redactedContent":`...)
		w.out = append(w.out, data...)
		w.out = append(w.out, "}}"...)
	default:
		return provider.BadRequest(param, "a thinking block must be {type: thinking, thinking, signature} or {type: redacted_thinking, data}")
	}
	return nil
}

func (w *msgWriter) toolUse(v []byte, i, j int) error {
	param := func(sub string) string { return fmt.Sprintf("messages[%d].tool_calls[%d]%s", i, j, sub) }
	var id, fn []byte
	it := rawjson.Members(v)
	for it.Next() {
		switch string(it.Name()) {
		case "id":
			id = it.Value()
		case "function":
			fn = it.Value()
		}
	}
	var name, args []byte
	it = rawjson.Members(fn)
	for it.Next() {
		switch string(it.Name()) {
		case "name":
			name = it.Value()
		case "arguments":
			args = it.Value()
		}
	}
	if !rawjson.IsString(id) || !rawjson.IsString(name) {
		return provider.BadRequest(param(""), "a tool call needs an id and a function name")
	}
	var input []byte
	if rawjson.IsString(args) {
		input, w.scratch = rawjson.Unquote(args, w.scratch[:0])
	}
	input = rawjson.TrimSpace(input)
	switch {
	case len(input) == 0:
		input = []byte("{}")
	case !rawjson.IsObject(input) || !json.Valid(input):
		return provider.BadRequest(param(".function.arguments"), "tool call arguments must be a JSON object")
	}
	w.toolBlocks = true
	w.block("assistant")
	w.out = append(w.out, `{"toolUse":{"toolUseId":`...)
	w.out = append(w.out, id...)
	w.out = append(w.out, `,"name":`...)
	w.out = append(w.out, name...)
	w.out = append(w.out, `,"input":`...)
	w.out = append(w.out, input...)
	w.out = append(w.out, "}}"...)
	return nil
}

// toolResult writes a tool message as a toolResult block of a user turn.
func (w *msgWriter) toolResult(i int, m *message) error {
	if !rawjson.IsString(m.toolCallID) {
		return provider.BadRequest(fmt.Sprintf("messages[%d].tool_call_id", i), "a tool message needs tool_call_id")
	}
	w.toolBlocks = true
	w.block("user")
	w.out = append(w.out, `{"toolResult":{"toolUseId":`...)
	w.out = append(w.out, m.toolCallID...)
	w.out = append(w.out, `,"content":[`...)
	switch {
	case rawjson.IsString(m.content):
		w.out = append(w.out, `{"text":`...)
		w.out = append(w.out, m.content...)
		w.out = append(w.out, '}')
	case rawjson.IsArray(m.content):
		parts := rawjson.Elements(m.content)
		n := 0
		for j := 0; parts.Next(); j++ {
			var typ, text, image []byte
			it := rawjson.Members(parts.Value())
			for it.Next() {
				switch string(it.Name()) {
				case "type":
					typ = it.Value()
				case "text":
					text = it.Value()
				case "image_url":
					image = it.Value()
				}
			}
			if n > 0 {
				w.out = append(w.out, ',')
			}
			param := fmt.Sprintf("messages[%d].content[%d]", i, j)
			switch {
			case rawjson.Is(typ, "text") && rawjson.IsString(text):
				w.out = append(w.out, `{"text":`...)
				w.out = append(w.out, text...)
				w.out = append(w.out, '}')
			case rawjson.Is(typ, "image_url"):
				if err := w.imageBlock(image, param+".image_url"); err != nil {
					return err
				}
			default:
				return provider.BadRequest(param, "tool results can hold text and image parts")
			}
			n++
		}
		if n == 0 {
			w.out = append(w.out, `{"text":""}`...)
		}
	default:
		w.out = append(w.out, `{"text":""}`...)
	}
	w.out = append(w.out, "]}}"...)
	return nil
}

// appendSystem writes the system and developer messages as system blocks.
func appendSystem(out, msgs []byte) ([]byte, error) {
	n := 0
	open := func() {
		if n == 0 {
			out = append(out, `,"system":[`...)
		} else {
			out = append(out, ',')
		}
		n++
	}
	it := rawjson.Elements(msgs)
	for i := 0; it.Next(); i++ {
		m, _ := readMessage(it.Value())
		if !rawjson.Is(m.role, "system") && !rawjson.Is(m.role, "developer") {
			continue
		}
		text := func(raw []byte) bool {
			w := msgWriter{}
			if w.blank(raw) {
				return false
			}
			open()
			out = append(out, `{"text":`...)
			out = append(out, raw...)
			out = append(out, '}')
			return true
		}
		cache := func() {
			open()
			out = append(out, `{"cachePoint":{"type":"default"}}`...)
		}
		switch {
		case rawjson.IsString(m.content):
			if text(m.content) && !rawjson.IsNull(m.cacheControl) {
				cache()
			}
		case rawjson.IsArray(m.content):
			parts := rawjson.Elements(m.content)
			for j := 0; parts.Next(); j++ {
				var typ, t, cc []byte
				p := rawjson.Members(parts.Value())
				for p.Next() {
					switch string(p.Name()) {
					case "type":
						typ = p.Value()
					case "text":
						t = p.Value()
					case "cache_control":
						cc = p.Value()
					}
				}
				if !rawjson.Is(typ, "text") || !rawjson.IsString(t) {
					return nil, provider.BadRequest(fmt.Sprintf("messages[%d].content[%d]", i, j), "system messages can only hold text parts")
				}
				if text(t) && !rawjson.IsNull(cc) {
					cache()
				}
			}
			if !rawjson.IsNull(m.cacheControl) && n > 0 {
				cache()
			}
		}
	}
	if n > 0 {
		out = append(out, ']')
	}
	return out, nil
}
