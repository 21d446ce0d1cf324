package messages

import (
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// The fast ToChat: the request as raw values, written out as the chat
// request toChatSlow encodes. It gives up (ok false) on anything toChatSlow
// would refuse or that it is not sure to write byte for byte the same.

// rawRequest holds the members ToChat translates, as raw values (nil when
// absent).
type rawRequest struct {
	model, messages, system, maxTokens, temperature, topP, stopSequences,
	stream, tools, toolChoice, metadata, thinking, outputConfig []byte
}

// member returns where the translated member called name is kept, and its
// bit in the set of members seen, or nil.
func (r *rawRequest) member(name []byte) (*[]byte, uint16) {
	switch string(name) {
	case "model":
		return &r.model, 1 << 0
	case "messages":
		return &r.messages, 1 << 1
	case "system":
		return &r.system, 1 << 2
	case "max_tokens":
		return &r.maxTokens, 1 << 3
	case "temperature":
		return &r.temperature, 1 << 4
	case "top_p":
		return &r.topP, 1 << 5
	case "stop_sequences":
		return &r.stopSequences, 1 << 6
	case "stream":
		return &r.stream, 1 << 7
	case "tools":
		return &r.tools, 1 << 8
	case "tool_choice":
		return &r.toolChoice, 1 << 9
	case "metadata":
		return &r.metadata, 1 << 10
	case "thinking":
		return &r.thinking, 1 << 11
	case "output_config":
		return &r.outputConfig, 1 << 12
	}
	return nil, 0
}

var translatedNames = []string{"model", "messages", "system", "max_tokens", "temperature", "top_p",
	"stop_sequences", "stream", "tools", "tool_choice", "metadata", "thinking", "output_config"}

// rawBlock is a content block as raw values: literals (nil for absent or
// null) for the members decoded into strings, raw values for the others.
type rawBlock struct {
	typ, text, title, id, name, toolUseID, thinking []byte
	input, content, cacheControl                    []byte
	isError                                         bool
	hasSource                                       bool
	src                                             rawSource
	raw                                             []byte // the whole block
}

type rawSource struct{ typ, mediaType, data, url, fileID []byte }

var blockNames = []string{"type", "text", "source", "title", "id", "name", "input", "tool_use_id", "content",
	"is_error", "thinking", "cache_control"}

var sourceNames = []string{"type", "media_type", "data", "url", "file_id"}

// readBlockAt reads the content block at d[i], in one pass, as
// encoding/json decodes it into block; ok is false where that would fail,
// or where its result is not certain (a duplicate or case-folded member).
// end is the index after the block.
func readBlockAt(d []byte, i int) (b rawBlock, end int, ok bool) {
	start := i
	if d[i] != '{' {
		return b, i, false
	}
	var seen uint16
	for i++; ; {
		name, v, more := rawjson.NextMember(d, i)
		if !more {
			b.raw = d[start:v]
			return b, v, true
		}
		i = rawjson.Skip(d, v)
		val := d[v:i]
		var dst *[]byte
		var bit uint16
		switch string(name) {
		case "type":
			dst, bit = &b.typ, 1<<0
		case "text":
			dst, bit = &b.text, 1<<1
		case "title":
			dst, bit = &b.title, 1<<2
		case "id":
			dst, bit = &b.id, 1<<3
		case "name":
			dst, bit = &b.name, 1<<4
		case "tool_use_id":
			dst, bit = &b.toolUseID, 1<<5
		case "thinking":
			dst, bit = &b.thinking, 1<<6
		case "input":
			if seen&(1<<7) != 0 {
				return b, i, false
			}
			seen |= 1 << 7
			b.input = val
			continue
		case "content":
			if seen&(1<<8) != 0 {
				return b, i, false
			}
			seen |= 1 << 8
			b.content = val
			continue
		case "cache_control":
			if seen&(1<<9) != 0 {
				return b, i, false
			}
			seen |= 1 << 9
			b.cacheControl = val
			continue
		case "is_error":
			if seen&(1<<10) != 0 {
				return b, i, false
			}
			seen |= 1 << 10
			if b.isError, ok = boolField(val); !ok {
				return b, i, false
			}
			continue
		case "source":
			if seen&(1<<11) != 0 {
				return b, i, false
			}
			seen |= 1 << 11
			switch {
			case isNull(val):
			case rawjson.IsObject(val):
				if b.src, ok = readSource(val); !ok {
					return b, i, false
				}
				b.hasSource = true
			default:
				return b, i, false
			}
			continue
		default:
			if !strictName(name, blockNames...) {
				return b, i, false
			}
			continue
		}
		if seen&bit != 0 {
			return b, i, false
		}
		seen |= bit
		if *dst, ok = strField(val); !ok {
			return b, i, false
		}
	}
}

// readBlocks reads the array of blocks at d[i] into dst.
func readBlocks(dst []rawBlock, d []byte, i int) ([]rawBlock, bool) {
	for i++; ; {
		e, more := rawjson.NextElement(d, i)
		if !more {
			return dst, true
		}
		b, end, ok := readBlockAt(d, e)
		if !ok {
			return dst, false
		}
		dst = append(dst, b)
		i = end
	}
}

func readSource(v []byte) (s rawSource, ok bool) {
	var seen uint8
	for it := rawjson.Members(v); it.Next(); {
		var dst *[]byte
		var bit uint8
		switch string(it.Name()) {
		case "type":
			dst, bit = &s.typ, 1<<0
		case "media_type":
			dst, bit = &s.mediaType, 1<<1
		case "data":
			dst, bit = &s.data, 1<<2
		case "url":
			dst, bit = &s.url, 1<<3
		case "file_id":
			dst, bit = &s.fileID, 1<<4
		default:
			if !strictName(it.Name(), sourceNames...) {
				return s, false
			}
			continue
		}
		if seen&bit != 0 {
			return s, false
		}
		seen |= bit
		if *dst, ok = strField(it.Value()); !ok {
			return s, false
		}
	}
	return s, true
}

// chatWriter writes the chat request.
type chatWriter struct {
	b      []byte
	claude bool
	n      int // messages written
}

func toChatFast(body []byte, opt Options) (out []byte, stream, ok bool) {
	if !rawjson.IsObject(rawjson.TrimSpace(body)) || !openai.Valid(body) {
		return nil, false, false
	}
	var r rawRequest
	var seen uint16
	var extraStack [4][2][]byte
	extra := extraStack[:0]
	for it := rawjson.Members(body); it.Next(); {
		name := it.Name()
		if dst, bit := r.member(name); dst != nil {
			if seen&bit != 0 {
				return nil, false, false
			}
			seen |= bit
			*dst = it.Value()
			continue
		}
		if refused[string(name)] || !strictName(name, translatedNames...) {
			return nil, false, false
		}
		extra = append(extra, [2][]byte{name, it.Value()})
	}

	// The members decoded into typed fields.
	if !isStr(r.model) || empty(r.model) || !rawjson.IsArray(r.messages) {
		return nil, false, false
	}
	maxTokens, isInt := rawjson.Int(r.maxTokens)
	if !isInt || maxTokens < 1 {
		return nil, false, false
	}
	if r.stream != nil {
		if stream, ok = boolField(r.stream); !ok {
			return nil, false, false
		}
	}
	for _, v := range [...][]byte{r.temperature, r.topP} {
		if v != nil && !isNull(v) && !rawjson.IsNumber(v) {
			return nil, false, false
		}
	}
	stops := 0
	if r.stopSequences != nil && !isNull(r.stopSequences) {
		if !rawjson.IsArray(r.stopSequences) {
			return nil, false, false
		}
		for it := rawjson.Elements(r.stopSequences); it.Next(); {
			if !isStr(it.Value()) {
				return nil, false, false
			}
			stops++
		}
	}
	var userID []byte
	if r.metadata != nil && !isNull(r.metadata) {
		if !rawjson.IsObject(r.metadata) {
			return nil, false, false
		}
		seenUser := false
		for it := rawjson.Members(r.metadata); it.Next(); {
			if string(it.Name()) != "user_id" {
				if !strictName(it.Name(), "user_id") {
					return nil, false, false
				}
				continue
			}
			if seenUser {
				return nil, false, false
			}
			seenUser = true
			if userID, ok = strField(it.Value()); !ok {
				return nil, false, false
			}
		}
	}
	for _, v := range [...][]byte{r.tools, r.toolChoice} {
		if v != nil && !isNull(v) && !rawjson.IsArray(v) && !rawjson.IsObject(v) {
			return nil, false, false
		}
	}
	if rawjson.IsObject(r.tools) || rawjson.IsArray(r.toolChoice) {
		return nil, false, false
	}

	w := chatWriter{b: make([]byte, 0, len(body)+len(body)/4+256), claude: opt.Claude}
	w.b = append(w.b, `{"model":`...)
	w.b = appendText(w.b, r.model, false)
	w.b = append(w.b, `,"messages":[`...)
	if r.system != nil && !isNull(r.system) {
		if !w.system(r.system) {
			return nil, false, false
		}
	}
	for i := 1; ; {
		e, more := rawjson.NextElement(r.messages, i)
		if !more {
			break
		}
		if i, ok = w.message(r.messages, e); !ok {
			return nil, false, false
		}
	}
	w.b = append(w.b, ']')
	if stream {
		w.b = append(w.b, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	w.b = append(w.b, `,"max_tokens":`...)
	w.b = strconv.AppendInt(w.b, maxTokens, 10)
	for _, m := range [...]struct {
		name string
		v    []byte
	}{{`,"temperature":`, r.temperature}, {`,"top_p":`, r.topP}} {
		if m.v != nil && !isNull(m.v) {
			w.b = append(w.b, m.name...)
			if w.b, ok = appendFloat(w.b, m.v); !ok {
				return nil, false, false
			}
		}
	}
	if stops > 0 {
		w.b = append(w.b, `,"stop":[`...)
		for it, i := rawjson.Elements(r.stopSequences), 0; it.Next(); i++ {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = appendText(w.b, it.Value(), false)
		}
		w.b = append(w.b, ']')
	}
	if !empty(userID) && (opt.Claude || textLen(userID) <= maxOpenAIUser) {
		w.b = append(w.b, `,"user":`...)
		w.b = appendText(w.b, userID, false)
	}
	if rawjson.IsArray(r.tools) && !w.tools(r.tools) {
		return nil, false, false
	}
	if rawjson.IsObject(r.toolChoice) && !w.toolChoice(r.toolChoice) {
		return nil, false, false
	}
	if !opt.Claude && !w.reasoning(r.thinking, r.outputConfig) {
		return nil, false, false
	}
	w.b = append(w.b, '}')
	// Members forwarded under their own names: for a Claude model,
	// thinking and output_config, then whatever ToChat does not know.
	native := 0
	if opt.Claude {
		for _, v := range [...][]byte{r.thinking, r.outputConfig} {
			if v != nil && !isNull(v) {
				native++
			}
		}
	}
	if native > 0 || len(extra) > 0 {
		w.b = w.b[:len(w.b)-1]
		if opt.Claude {
			if r.thinking != nil && !isNull(r.thinking) {
				w.b = append(w.b, `,"thinking":`...)
				w.b = append(w.b, r.thinking...)
			}
			if r.outputConfig != nil && !isNull(r.outputConfig) {
				w.b = append(w.b, `,"output_config":`...)
				w.b = append(w.b, r.outputConfig...)
			}
		}
		for _, m := range extra {
			w.b = append(w.b, ',', '"')
			w.b = append(w.b, m[0]...)
			w.b = append(w.b, '"', ':')
			w.b = append(w.b, m[1]...)
		}
		w.b = append(w.b, '}')
	}
	return w.b, stream, true
}

// open starts a message with its role and opens its content.
func (w *chatWriter) open(role string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = append(w.b, `{"role":"`...)
	w.b = append(w.b, role...)
	w.b = append(w.b, `","content":`...)
}

// Blocks are read into arrays on the stack (of the function writing them),
// for as long as there are at most 8 of them: stored in the chatWriter or
// through a pointer, they would be moved to the heap.
type blockStack [8]rawBlock

func (w *chatWriter) system(v []byte) bool {
	if isStr(v) {
		w.open("system")
		w.b = appendText(w.b, v, false)
		w.b = append(w.b, '}')
		return true
	}
	if !rawjson.IsArray(v) {
		return false
	}
	var stack blockStack
	blocks, ok := readBlocks(stack[:0], v, 0)
	if !ok {
		return false
	}
	for i := range blocks {
		if !is(blocks[i].typ, "text") {
			return false
		}
	}
	w.open("system")
	w.textContent(blocks, len(blocks))
	w.b = append(w.b, '}')
	return true
}

// textContent writes the text blocks among blocks, n of them, as message
// content: one plain string when that loses nothing, else text parts,
// which keep cache_control.
func (w *chatWriter) textContent(blocks []rawBlock, n int) {
	if n == 1 {
		for i := range blocks {
			if b := &blocks[i]; is(b.typ, "text") && (!w.claude || b.cacheControl == nil) {
				w.b = appendText(w.b, b.text, false)
				return
			}
		}
	}
	w.b = append(w.b, '[')
	k := 0
	for i := range blocks {
		b := &blocks[i]
		if !is(b.typ, "text") {
			continue
		}
		if k > 0 {
			w.b = append(w.b, ',')
		}
		k++
		w.b = append(w.b, `{"type":"text"`...)
		if !empty(b.text) {
			w.b = append(w.b, `,"text":`...)
			w.b = appendText(w.b, b.text, true)
		}
		w.cacheControl(b.cacheControl, true)
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, ']')
}

// cacheControl writes a cache_control member, for a Claude model only.
func (w *chatWriter) cacheControl(v []byte, html bool) {
	if w.claude && v != nil {
		w.b = append(w.b, `,"cache_control":`...)
		w.b = appendCompactTo(w.b, v, html)
	}
}

// message writes the message at d[i] and returns the index after it.
func (w *chatWriter) message(d []byte, i int) (end int, ok bool) {
	if d[i] != '{' {
		return i, false
	}
	var stack blockStack
	var blocks []rawBlock
	var role, content []byte
	var seen uint8
	for i++; ; {
		name, v, more := rawjson.NextMember(d, i)
		if !more {
			end = v
			break
		}
		switch string(name) {
		case "role":
			i = rawjson.Skip(d, v)
			if seen&1 != 0 || !isStr(d[v:i]) {
				return i, false
			}
			seen |= 1
			role = d[v:i]
		case "content":
			if seen&2 != 0 {
				return i, false
			}
			seen |= 2
			if d[v] == '[' {
				// Read now, in the same pass.
				if blocks, ok = readBlocks(stack[:0], d, v); !ok {
					return i, false
				}
			}
			i = rawjson.Skip(d, v)
			content = d[v:i]
		default:
			if !strictName(name, "role", "content") {
				return i, false
			}
			i = rawjson.Skip(d, v)
		}
	}
	var r string
	switch {
	case is(role, "user"):
		r = "user"
	case is(role, "system"):
		r = "system"
	case is(role, "assistant"):
		r = "assistant"
	default:
		return end, false
	}
	switch {
	case isStr(content):
		w.open(r)
		w.b = appendText(w.b, content, false)
		w.b = append(w.b, '}')
		return end, true
	case !rawjson.IsArray(content):
		return end, false
	case r == "assistant":
		return end, w.assistant(blocks)
	}
	return end, w.user(r, blocks)
}

// partKind is what a user block becomes: a text part, or another.
type partKind uint8

const (
	otherPart partKind = iota
	textPart
)

// checkPart checks a block as userPart would convert it.
func checkPart(b *rawBlock) (partKind, bool) {
	switch {
	case is(b.typ, "text"):
		return textPart, true
	case is(b.typ, "image"):
		s := &b.src
		ok := b.hasSource && (is(s.typ, "base64") || is(s.typ, "url") || is(s.typ, "file"))
		return otherPart, ok
	case is(b.typ, "document"):
		if !b.hasSource {
			return otherPart, false
		}
		switch s := &b.src; {
		case is(s.typ, "text"):
			return textPart, true
		case is(s.typ, "base64"), is(s.typ, "file"):
			return otherPart, true
		}
	}
	return otherPart, false
}

// partText is the text of a block that checkPart calls a text part.
func partText(b *rawBlock) []byte {
	if is(b.typ, "text") {
		return b.text
	}
	return b.src.data
}

// part writes a block checked by checkPart as a content part.
func (w *chatWriter) part(b *rawBlock) {
	if k, _ := checkPart(b); k == textPart {
		w.b = append(w.b, `{"type":"text"`...)
		if t := partText(b); !empty(t) {
			w.b = append(w.b, `,"text":`...)
			w.b = appendText(w.b, t, true)
		}
	} else {
		s := &b.src
		switch {
		case is(b.typ, "image") && is(s.typ, "base64"):
			w.b = append(w.b, `{"type":"image_url","image_url":{"url":"data:`...)
			w.b = appendLitInner(w.b, s.mediaType, true)
			w.b = append(w.b, ";base64,"...)
			w.b = appendLitInner(w.b, s.data, true)
			w.b = append(w.b, `"}`...)
		case is(b.typ, "image") && is(s.typ, "url"):
			w.b = append(w.b, `{"type":"image_url","image_url":{"url":`...)
			w.b = appendText(w.b, s.url, true)
			w.b = append(w.b, '}')
		case is(s.typ, "file"):
			w.b = append(w.b, `{"type":"file","file":{`...)
			if !empty(s.fileID) {
				w.b = append(w.b, `"file_id":`...)
				w.b = appendText(w.b, s.fileID, true)
			}
			w.b = append(w.b, '}')
		default: // a base64 document
			w.b = append(w.b, `{"type":"file","file":{"file_data":"data:`...)
			if empty(s.mediaType) {
				w.b = append(w.b, "application/pdf"...)
			} else {
				w.b = appendLitInner(w.b, s.mediaType, true)
			}
			w.b = append(w.b, ";base64,"...)
			w.b = appendLitInner(w.b, s.data, true)
			w.b = append(w.b, '"')
			if !empty(b.title) {
				w.b = append(w.b, `,"filename":`...)
				w.b = appendText(w.b, b.title, true)
			}
			w.b = append(w.b, '}')
		}
	}
	w.cacheControl(b.cacheControl, true)
	w.b = append(w.b, '}')
}

// appendLitInner appends the encoded text of a literal (nil: "") without
// its quotes, to be joined with other text in one string.
func appendLitInner(dst, lit []byte, html bool) []byte {
	if len(lit) < 2 {
		return dst
	}
	return appendInner(dst, lit[1:len(lit)-1], html)
}

// user writes a user (or system) turn: its tool_result blocks as role
// "tool" messages, then the rest of the turn as one message.
func (w *chatWriter) user(role string, blocks []rawBlock) bool {
	var (
		rest, restCache int
		first           *rawBlock
		firstKind       partKind
	)
	for i := range blocks {
		b := &blocks[i]
		if is(b.typ, "tool_result") {
			if !w.toolResult(b) {
				return false
			}
			continue
		}
		k, ok := checkPart(b)
		if !ok {
			return false
		}
		if rest == 0 {
			first, firstKind = b, k
		}
		rest++
		if b.cacheControl != nil {
			restCache++
		}
	}
	if rest == 0 {
		return len(blocks) > 0
	}
	w.open(role)
	if rest == 1 && firstKind == textPart && (!w.claude || restCache == 0) {
		w.b = appendText(w.b, partText(first), false)
		w.b = append(w.b, '}')
		return true
	}
	w.b = append(w.b, '[')
	k := 0
	for i := range blocks {
		b := &blocks[i]
		if is(b.typ, "tool_result") {
			continue
		}
		if k > 0 {
			w.b = append(w.b, ',')
		}
		k++
		w.part(b)
	}
	w.b = append(w.b, "]}"...)
	return true
}

// toolResult writes a tool_result block as a role "tool" message.
// OpenAI has no is_error, so an error result says so in its text.
func (w *chatWriter) toolResult(b *rawBlock) bool {
	if empty(b.toolUseID) {
		return false
	}
	const prefix = "Error: "
	c := b.content
	var kind partKind
	var stack blockStack
	var parts []rawBlock
	switch {
	case c == nil || isNull(c) || isStr(c):
	case rawjson.IsArray(c):
		var ok bool
		if parts, ok = readBlocks(stack[:0], c, 0); !ok {
			return false
		}
		for i := range parts {
			if kind, ok = checkPart(&parts[i]); !ok {
				return false
			}
		}
	default:
		return false
	}
	w.open("tool")
	plain := !rawjson.IsArray(c) ||
		len(parts) == 1 && kind == textPart && (parts[0].cacheControl == nil || !w.claude && !b.isError) ||
		len(parts) == 0 && b.isError && !w.claude
	switch {
	case plain:
		w.b = append(w.b, '"')
		if b.isError {
			w.b = append(w.b, prefix...)
		}
		switch {
		case isStr(c):
			w.b = appendLitInner(w.b, c, false)
		case len(parts) == 1:
			w.b = appendLitInner(w.b, partText(&parts[0]), false)
		}
		w.b = append(w.b, '"')
	default:
		w.b = append(w.b, '[')
		if b.isError {
			w.b = append(w.b, `{"type":"text","text":"`+prefix+`"}`...)
		}
		for i := range parts {
			if i > 0 || b.isError {
				w.b = append(w.b, ',')
			}
			w.part(&parts[i])
		}
		w.b = append(w.b, ']')
	}
	w.b = append(w.b, `,"tool_call_id":`...)
	w.b = appendText(w.b, b.toolUseID, false)
	w.cacheControl(b.cacheControl, false)
	w.b = append(w.b, '}')
	return true
}

func isThinking(b *rawBlock) bool { return is(b.typ, "thinking") || is(b.typ, "redacted_thinking") }

// assistant writes an assistant turn, or nothing for a turn that held
// only thinking this model cannot take back.
func (w *chatWriter) assistant(blocks []rawBlock) bool {
	var (
		texts, calls, thinking, dropped int
		reasoning                       bool
		cache                           []byte
	)
	for i := range blocks {
		b := &blocks[i]
		switch {
		case is(b.typ, "text"):
			texts++
		case is(b.typ, "tool_use"):
			if empty(b.id) || empty(b.name) {
				return false
			}
			if b.input != nil && !isNull(b.input) && !rawjson.IsObject(b.input) {
				return false
			}
			calls++
			if b.cacheControl != nil {
				cache = b.cacheControl
			}
		case isThinking(b):
			if !w.claude {
				dropped++
				continue
			}
			thinking++
			reasoning = reasoning || !empty(b.thinking)
		default:
			return false
		}
	}
	if texts == 0 && calls == 0 && dropped > 0 && thinking == 0 {
		return true
	}
	w.open("assistant")
	switch {
	case texts > 0:
		w.textContent(blocks, texts)
	case calls > 0:
		w.b = append(w.b, "null"...)
	default:
		w.b = append(w.b, `""`...)
	}
	if calls > 0 {
		w.b = append(w.b, `,"tool_calls":[`...)
		k := 0
		for i := range blocks {
			b := &blocks[i]
			if !is(b.typ, "tool_use") {
				continue
			}
			if k > 0 {
				w.b = append(w.b, ',')
			}
			k++
			w.b = append(w.b, `{"id":`...)
			w.b = appendText(w.b, b.id, false)
			w.b = append(w.b, `,"type":"function","function":{"name":`...)
			w.b = appendText(w.b, b.name, false)
			w.b = append(w.b, `,"arguments":`...)
			if b.input == nil || isNull(b.input) {
				w.b = append(w.b, `"{}"`...)
			} else {
				w.b = appendQuotedCompact(w.b, b.input)
			}
			w.b = append(w.b, "}}"...)
		}
		w.b = append(w.b, ']')
	}
	if reasoning {
		w.b = append(w.b, `,"reasoning_content":"`...)
		for i := range blocks {
			if b := &blocks[i]; isThinking(b) {
				w.b = appendLitInner(w.b, b.thinking, false)
			}
		}
		w.b = append(w.b, '"')
	}
	if thinking > 0 {
		w.b = append(w.b, `,"thinking_blocks":[`...)
		k := 0
		for i := range blocks {
			if b := &blocks[i]; isThinking(b) {
				if k > 0 {
					w.b = append(w.b, ',')
				}
				k++
				w.b = rawjson.AppendCompact(w.b, b.raw)
			}
		}
		w.b = append(w.b, ']')
	}
	w.cacheControl(cache, false)
	w.b = append(w.b, '}')
	return true
}

var toolNames = []string{"type", "name", "description", "input_schema", "strict", "cache_control"}

func (w *chatWriter) tools(v []byte) bool {
	start := len(w.b)
	w.b = append(w.b, `,"tools":[`...)
	n := 0
	for it := rawjson.Elements(v); it.Next(); n++ {
		t := it.Value()
		if !rawjson.IsObject(t) {
			return false
		}
		var typ, name, desc, schema, strict, cache []byte
		var seen uint8
		for mt := rawjson.Members(t); mt.Next(); {
			val := mt.Value()
			var dst *[]byte
			var bit uint8
			str := true
			switch string(mt.Name()) {
			case "type":
				dst, bit = &typ, 1<<0
			case "name":
				dst, bit = &name, 1<<1
			case "description":
				dst, bit = &desc, 1<<2
			case "input_schema":
				dst, bit, str = &schema, 1<<3, false
			case "strict":
				if _, ok := boolField(val); !ok {
					return false
				}
				dst, bit, str = &strict, 1<<4, false
			case "cache_control":
				dst, bit, str = &cache, 1<<5, false
			default:
				if !strictName(mt.Name(), toolNames...) {
					return false
				}
				continue
			}
			if seen&bit != 0 {
				return false
			}
			seen |= bit
			if !str {
				*dst = val
				continue
			}
			var ok bool
			if *dst, ok = strField(val); !ok {
				return false
			}
		}
		if !empty(typ) && !is(typ, "custom") || empty(name) {
			return false
		}
		if n > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, `{"type":"function","function":{"name":`...)
		w.b = appendText(w.b, name, false)
		if !empty(desc) {
			w.b = append(w.b, `,"description":`...)
			w.b = appendText(w.b, desc, false)
		}
		w.b = append(w.b, `,"parameters":`...)
		if schema == nil || isNull(schema) {
			w.b = append(w.b, `{"type":"object","properties":{}}`...)
		} else {
			w.b = rawjson.AppendCompact(w.b, schema)
		}
		if strict != nil && !isNull(strict) {
			w.b = append(w.b, `,"strict":`...)
			w.b = append(w.b, strict...)
		}
		w.b = append(w.b, '}')
		w.cacheControl(cache, false)
		w.b = append(w.b, '}')
	}
	if n == 0 {
		w.b = w.b[:start]
	} else {
		w.b = append(w.b, ']')
	}
	return true
}

func (w *chatWriter) toolChoice(v []byte) bool {
	var typ, name []byte
	var parallel, ok bool
	var seen uint8
	for it := rawjson.Members(v); it.Next(); {
		val := it.Value()
		var dst *[]byte
		var bit uint8
		switch string(it.Name()) {
		case "type":
			dst, bit = &typ, 1<<0
		case "name":
			dst, bit = &name, 1<<1
		case "disable_parallel_tool_use":
			if seen&(1<<2) != 0 {
				return false
			}
			seen |= 1 << 2
			if parallel, ok = boolField(val); !ok {
				return false
			}
			continue
		default:
			if !strictName(it.Name(), "type", "name", "disable_parallel_tool_use") {
				return false
			}
			continue
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if *dst, ok = strField(val); !ok {
			return false
		}
	}
	switch {
	case is(typ, "auto"):
		w.b = append(w.b, `,"tool_choice":"auto"`...)
	case is(typ, "any"):
		w.b = append(w.b, `,"tool_choice":"required"`...)
	case is(typ, "none"):
		w.b = append(w.b, `,"tool_choice":"none"`...)
	case is(typ, "tool"):
		if empty(name) {
			return false
		}
		w.b = append(w.b, `,"tool_choice":{"type":"function","function":{"name":`...)
		w.b = appendText(w.b, name, false)
		w.b = append(w.b, "}}"...)
	default:
		return false
	}
	if parallel {
		w.b = append(w.b, `,"parallel_tool_calls":false`...)
	}
	return true
}

// strAndRaw reads an object of two known members, a string (or null) and
// a value of any type, exactly as the encoding/json fallback would accept
// it: ok is false for another type, a duplicate, or a name encoding/json
// would fold onto one of the two (the fallback decides those).
func strAndRaw(obj []byte, strName, rawName string) (str, raw []byte, ok bool) {
	if !rawjson.IsObject(obj) {
		return nil, nil, false
	}
	var seen uint8
	for it := rawjson.Members(obj); it.Next(); {
		switch string(it.Name()) {
		case strName:
			if seen&1 != 0 {
				return nil, nil, false
			}
			seen |= 1
			if str, ok = strField(it.Value()); !ok {
				return nil, nil, false
			}
		case rawName:
			if seen&2 != 0 {
				return nil, nil, false
			}
			seen |= 2
			raw = it.Value()
		default:
			if !strictName(it.Name(), strName, rawName) {
				return nil, nil, false
			}
		}
	}
	return str, raw, true
}

// reasoning writes thinking and output_config for a non-Claude model as
// reasoning() maps them.
func (w *chatWriter) reasoning(thinking, outputConfig []byte) bool {
	effort := ""
	if thinking != nil && !isNull(thinking) {
		typ, budget, ok := strAndRaw(thinking, "type", "budget_tokens")
		if !ok {
			return false
		}
		var n int64
		if budget != nil && !isNull(budget) {
			if n, ok = rawjson.Int(budget); !ok {
				return false
			}
		}
		switch {
		case is(typ, "enabled"):
			switch {
			case n >= 10000:
				effort = "high"
			case n >= 5000:
				effort = "medium"
			default:
				effort = "low"
			}
		case is(typ, "adaptive"):
			effort = "medium"
		case is(typ, "disabled"):
		default:
			return false
		}
	}
	var schema []byte
	format := false
	if outputConfig != nil && !isNull(outputConfig) {
		eff, fmtv, ok := strAndRaw(outputConfig, "effort", "format")
		if !ok {
			return false
		}
		switch {
		case empty(eff):
		case is(eff, "low"):
			effort = "low"
		case is(eff, "medium"):
			effort = "medium"
		case is(eff, "high"), is(eff, "max"):
			effort = "high"
		default:
			return false
		}
		if fmtv != nil && !isNull(fmtv) {
			typ, sch, ok := strAndRaw(fmtv, "type", "schema")
			if !ok {
				return false
			}
			schema = sch
			if !is(typ, "json_schema") || schema == nil {
				return false
			}
			format = true
		}
	}
	if format {
		w.b = append(w.b, `,"response_format":{"type":"json_schema","json_schema":{"name":"response","schema":`...)
		w.b = rawjson.AppendCompact(w.b, schema)
		w.b = append(w.b, "}}"...)
	}
	if effort != "" {
		w.b = append(w.b, `,"reasoning_effort":"`...)
		w.b = append(w.b, effort...)
		w.b = append(w.b, '"')
	}
	return true
}
