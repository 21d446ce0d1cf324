package anthropic

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// message is one entry of the client's "messages", as raw values.
type message struct {
	role, content, toolCalls, toolCallID, thinkingBlocks, cacheControl []byte
}

func readMessage(v []byte) (m message) {
	for it := rawjson.Members(v); it.Next(); {
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
		}
	}
	return m
}

func isSystem(role []byte) bool { return rawjson.Is(role, "system") || rawjson.Is(role, "developer") }

// system hoists every system and developer message, wherever it stands,
// into the top-level "system": a plain string for the common case of one
// string, text blocks otherwise so that cache_control survives.
func (b *builder) system() *provider.Error {
	var stack [4]message
	sys := stack[:0]
	for it := rawjson.Elements(b.p.messages); it.Next(); {
		// role comes first in practice, so most messages cost one member.
		if v := it.Value(); isSystem(rawjson.Member(v, "role")) {
			sys = append(sys, readMessage(v))
		}
	}
	switch {
	case len(sys) == 0:
		return nil
	case len(sys) == 1 && rawjson.IsString(sys[0].content) && rawjson.IsNull(sys[0].cacheControl):
		if hasText(sys[0].content) {
			b.out = append(b.out, `,"system":`...)
			b.out = append(b.out, sys[0].content...)
		}
		return nil
	}
	start := len(b.out)
	b.out = append(b.out, `,"system":[`...)
	n := 0
	block := func(text, cc []byte) {
		if !hasText(text) {
			return // Anthropic refuses empty text blocks
		}
		if n > 0 {
			b.out = append(b.out, ',')
		}
		n++
		b.out = append(b.out, `{"type":"text","text":`...)
		b.out = append(b.out, text...)
		if !rawjson.IsNull(cc) {
			b.out = append(b.out, `,"cache_control":`...)
			b.out = append(b.out, cc...)
		}
		b.out = append(b.out, '}')
	}
	for _, m := range sys {
		if rawjson.IsString(m.content) {
			block(m.content, m.cacheControl)
			continue
		}
		for it := rawjson.Elements(m.content); it.Next(); {
			part := it.Value()
			if typ := rawjson.Member(part, "type"); !rawjson.Is(typ, "text") {
				return provider.BadRequest("messages", "anthropic accepts only text in system messages")
			}
			block(rawjson.Member(part, "text"), rawjson.Member(part, "cache_control"))
		}
	}
	if n == 0 {
		b.out = b.out[:start]
		return nil
	}
	b.out = append(b.out, ']')
	return nil
}

// turn prepares the output for one more content block in a turn of role.
// Consecutive messages of one role become one turn (Anthropic requires
// alternation), and tool results become user turns, so a run of tool
// messages and the user message after them share a single user turn with
// the tool_result blocks first.
func (b *builder) turn(role string) {
	switch {
	case b.inResult:
		// A block of a tool_result's own content list.
		if b.resultBlocks > 0 {
			b.out = append(b.out, ',')
		}
		b.resultBlocks++
	case b.role == role:
		b.out = append(b.out, ',')
	default:
		if b.role != "" {
			b.out = append(b.out, "]}"...)
		}
		if b.turns > 0 {
			b.out = append(b.out, ',')
		}
		b.out = append(b.out, `{"role":"`...)
		b.out = append(b.out, role...)
		b.out = append(b.out, `","content":[`...)
		b.role = role
		b.turns++
	}
	b.blockCC = false
}

// cacheControl ends the block just written with cc, when given.
func (b *builder) cacheControl(cc []byte) {
	if rawjson.IsNull(cc) {
		return
	}
	b.out = b.out[:len(b.out)-1]
	b.out = append(b.out, `,"cache_control":`...)
	b.out = append(b.out, cc...)
	b.out = append(b.out, '}')
	b.blockCC = true
}

func (b *builder) messages() *provider.Error {
	i := 0
	for it := rawjson.Elements(b.p.messages); it.Next(); i++ {
		if e := b.message(i, readMessage(it.Value())); e != nil {
			return e
		}
	}
	if b.role != "" {
		b.out = append(b.out, "]}"...)
	}
	return nil
}

func (b *builder) message(i int, m message) *provider.Error {
	before := len(b.out) // grows only when a block is written
	var e *provider.Error
	switch {
	case isSystem(m.role):
		return nil
	case rawjson.Is(m.role, "user"):
		e = b.content("user", i, m.content, true)
	case rawjson.Is(m.role, "assistant"):
		e = b.assistant(i, m)
	case rawjson.Is(m.role, "tool"):
		e = b.toolResult(i, m)
	case rawjson.Is(m.role, "function"):
		return provider.BadRequest("messages", "messages["+strconv.Itoa(i)+"]: role function is not supported by anthropic; send tools and tool messages")
	default:
		return provider.BadRequest("messages", "messages["+strconv.Itoa(i)+"]: unknown role "+string(m.role))
	}
	if e != nil {
		return e
	}
	// A message-level cache_control (LiteLLM's form for string content)
	// marks the cache breakpoint after the message: its last block.
	if len(b.out) != before && !b.blockCC {
		b.cacheControl(m.cacheControl)
	}
	return nil
}

// content writes a message's content (a string or parts) as blocks.
func (b *builder) content(role string, i int, content []byte, media bool) *provider.Error {
	if rawjson.IsString(content) {
		if hasText(content) {
			b.turn(role)
			b.textBlock(content)
		}
		return nil
	}
	for it := rawjson.Elements(content); it.Next(); {
		if e := b.part(role, i, it.Value(), media); e != nil {
			return e
		}
	}
	return nil
}

func (b *builder) textBlock(text []byte) {
	b.out = append(b.out, `{"type":"text","text":`...)
	b.out = append(b.out, text...)
	b.out = append(b.out, '}')
}

// part writes one content part.
func (b *builder) part(role string, i int, part []byte, media bool) *provider.Error {
	var typ, text, imageURL, file, cc []byte
	for it := rawjson.Members(part); it.Next(); {
		switch string(it.Name()) {
		case "type":
			typ = it.Value()
		case "text", "refusal":
			text = it.Value()
		case "image_url":
			imageURL = it.Value()
		case "file":
			file = it.Value()
		case "cache_control":
			cc = it.Value()
		}
	}
	where := "messages[" + strconv.Itoa(i) + "]"
	switch {
	case rawjson.Is(typ, "text") || rawjson.Is(typ, "refusal"):
		if !hasText(text) {
			return nil
		}
		b.turn(role)
		b.textBlock(text)
	case rawjson.Is(typ, "image_url") && media:
		url := imageURL
		if !rawjson.IsString(url) {
			url = rawjson.Member(imageURL, "url")
		}
		b.turn(role)
		if e := b.mediaBlock(where, url, rawjson.Member(imageURL, "format"), false); e != nil {
			return e
		}
	case rawjson.Is(typ, "file") && media:
		b.turn(role)
		if id := rawjson.Member(file, "file_id"); rawjson.IsString(id) {
			b.out = append(b.out, `{"type":"document","source":{"type":"file","file_id":`...)
			b.out = append(b.out, id...)
			b.out = append(b.out, "}}"...)
			break
		}
		if e := b.mediaBlock(where, rawjson.Member(file, "file_data"), rawjson.Member(file, "format"), true); e != nil {
			return e
		}
	case rawjson.Is(typ, "input_audio"):
		return b.unsupported("messages", where+": anthropic does not accept audio input")
	default:
		return provider.BadRequest("messages", where+": content part type "+string(typ)+" is not supported by anthropic in this message")
	}
	b.cacheControl(cc)
	return nil
}

// mediaBlock writes an image (or, for a PDF, a document) from a data: URL
// (base64 source) or an http(s) URL (url source). format is LiteLLM's
// explicit MIME type, which wins over the data URL's.
func (b *builder) mediaBlock(where string, url, format []byte, file bool) *provider.Error {
	if !rawjson.IsString(url) {
		return provider.BadRequest("messages", where+": image_url.url must be a string")
	}
	raw, _ := rawjson.Inner(url)
	if bytes.IndexByte(raw, '\\') >= 0 {
		raw = b.unquoted(url)
	}
	if bytes.HasPrefix(raw, []byte("http://")) || bytes.HasPrefix(raw, []byte("https://")) {
		kind := "image"
		if file || bytes.HasSuffix(bytes.ToLower(raw), []byte(".pdf")) {
			kind = "document"
		}
		b.out = append(b.out, `{"type":"`...)
		b.out = append(b.out, kind...)
		b.out = append(b.out, `","source":{"type":"url","url":`...)
		b.out = rawjson.AppendQuoteBytes(b.out, raw)
		b.out = append(b.out, "}}"...)
		return nil
	}
	mime, data, ok := splitDataURL(raw)
	if !ok {
		return provider.BadRequest("messages", where+": anthropic accepts images as https URLs or base64 data: URLs")
	}
	if hasText(format) {
		var tmp [64]byte // raw may live in b.scratch: decode elsewhere
		mime = rawjson.AppendUnquote(tmp[:0], format)
	}
	kind := "image"
	if !bytes.HasPrefix(mime, []byte("image/")) {
		kind = "document"
	}
	b.out = append(b.out, `{"type":"`...)
	b.out = append(b.out, kind...)
	b.out = append(b.out, `","source":{"type":"base64","media_type":`...)
	b.out = rawjson.AppendQuoteBytes(b.out, mime)
	b.out = append(b.out, `,"data":`...)
	b.out = rawjson.AppendQuoteBytes(b.out, data)
	b.out = append(b.out, "}}"...)
	return nil
}

// splitDataURL splits "data:<mime>;base64,<data>".
func splitDataURL(u []byte) (mime, data []byte, ok bool) {
	rest, found := bytes.CutPrefix(u, []byte("data:"))
	if !found {
		return nil, nil, false
	}
	meta, data, found := bytes.Cut(rest, []byte(","))
	if !found {
		return nil, nil, false
	}
	mime, found = bytes.CutSuffix(meta, []byte(";base64"))
	if !found || len(mime) == 0 {
		return nil, nil, false
	}
	return mime, data, true
}

// assistant writes an assistant turn: its thinking blocks first (Anthropic
// wants them replayed, signed and unchanged, before the tool use they led
// to), then its text, then its tool calls.
func (b *builder) assistant(i int, m message) *provider.Error {
	for it := rawjson.Elements(m.thinkingBlocks); it.Next(); {
		tb := it.Value()
		typ := rawjson.Member(tb, "type")
		if !rawjson.Is(typ, "thinking") && !rawjson.Is(typ, "redacted_thinking") {
			return provider.BadRequest("messages", "messages["+strconv.Itoa(i)+"].thinking_blocks: type must be thinking or redacted_thinking")
		}
		b.turn("assistant")
		b.out = append(b.out, tb...)
	}
	if e := b.content("assistant", i, m.content, false); e != nil {
		return e
	}
	j := 0
	for it := rawjson.Elements(m.toolCalls); it.Next(); j++ {
		if e := b.toolUse(i, j, it.Value()); e != nil {
			return e
		}
	}
	return nil
}

func (b *builder) toolUse(i, j int, tc []byte) *provider.Error {
	fn := rawjson.Member(tc, "function")
	where := "messages[" + strconv.Itoa(i) + "].tool_calls[" + strconv.Itoa(j) + "]"
	name := rawjson.Member(fn, "name")
	if !rawjson.IsString(name) {
		return provider.BadRequest("messages", where+".function.name must be a string")
	}
	b.turn("assistant")
	b.out = append(b.out, `{"type":"tool_use","id":`...)
	b.out = appendToolID(b.out, rawjson.Member(tc, "id"), &b.scratch)
	b.out = append(b.out, `,"name":`...)
	b.out = append(b.out, name...)
	b.out = append(b.out, `,"input":`...)
	args := bytes.TrimSpace(b.unquoted(rawjson.Member(fn, "arguments")))
	switch {
	case len(args) == 0:
		b.out = append(b.out, "{}"...)
	case args[0] == '{' && json.Valid(args):
		b.out = rawjson.AppendCompact(b.out, args)
	default:
		return provider.BadRequest("messages", where+".function.arguments must be a JSON object, which anthropic needs as the tool input")
	}
	b.out = append(b.out, '}')
	return nil
}

// toolResult writes a tool message as a tool_result block of a user turn.
func (b *builder) toolResult(i int, m message) *provider.Error {
	b.turn("user")
	b.out = append(b.out, `{"type":"tool_result","tool_use_id":`...)
	b.out = appendToolID(b.out, m.toolCallID, &b.scratch)
	switch {
	case rawjson.IsString(m.content):
		// An empty result is sent without content, which Anthropic accepts
		// (an empty text block it would refuse).
		if hasText(m.content) {
			b.out = append(b.out, `,"content":`...)
			b.out = append(b.out, m.content...)
		}
	case !rawjson.IsNull(m.content):
		b.out = append(b.out, `,"content":[`...)
		b.inResult, b.resultBlocks = true, 0
		for it := rawjson.Elements(m.content); it.Next(); {
			if e := b.part("user", i, it.Value(), true); e != nil {
				return e
			}
		}
		b.inResult = false
		b.out = append(b.out, ']')
	}
	b.out = append(b.out, '}')
	b.blockCC = false
	return nil
}

// appendToolID writes a tool call id as Anthropic accepts it
// (^[a-zA-Z0-9_-]+$): OpenAI's call_… ids pass unchanged; ids minted by
// other providers have their other characters replaced by '_', the same
// way on the tool_use and on its tool_result, so the pair still matches.
func appendToolID(dst, id []byte, scratch *[]byte) []byte {
	if !rawjson.IsString(id) {
		return append(dst, `"toolu_missing"`...)
	}
	raw, _ := rawjson.Inner(id)
	clean := len(raw) > 0
	for _, c := range raw {
		if !isAlnum(c) && c != '_' && c != '-' {
			clean = false
			break
		}
	}
	if clean {
		return append(dst, id...)
	}
	*scratch = rawjson.AppendUnquote((*scratch)[:0], id)
	dst = append(dst, '"')
	if len(*scratch) == 0 {
		dst = append(dst, "toolu_empty"...)
	}
	for _, c := range *scratch {
		if !isAlnum(c) && c != '_' && c != '-' {
			c = '_'
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}
