package anthropic

import (
	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
	"github.com/switchboard-gw/switchboard/internal/sse"
)

// NewStreamDecoder implements provider.Codec.
func (cd Codec) NewStreamDecoder(c *provider.Call) provider.StreamDecoder {
	return &stream{call: c, created: cd.created(), jsonMode: jsonMode(c.Body), wantUsage: c.ClientWantsUsage()}
}

// Kinds of content block, as the stream treats them.
const (
	blockOther    = iota // server tools, results: nothing for an OpenAI client
	blockText            // text deltas → content
	blockTool            // a tool_use → tool_calls
	blockJSON            // the response_format tool → content
	blockThinking        // thinking deltas → reasoning_content, then the signed block
	blockRedacted        // redacted_thinking → the block as it is
)

// block is the state of one open content block.
type block struct {
	index int64 // Anthropic's content block index
	kind  uint8
	tool  int  // the OpenAI tool index of a blockTool
	args  bool // some input was relayed
	// input is a tool_use's input given whole at its start (servers may
	// send it so instead of as deltas).
	input []byte
	// thinking, signature and data rebuild a thinking block for
	// thinking_blocks once it is complete.
	thinking, signature, data []byte
}

// stream translates Anthropic's named SSE events into chat.completion.chunk
// events. Anthropic sends no [DONE]; message_stop becomes the usage chunk
// (when asked for) and [DONE].
type stream struct {
	call      *provider.Call
	created   int64
	jsonMode  bool
	wantUsage bool

	w        openai.ChunkWriter
	started  bool
	finished bool // the finish chunk went out
	counts   counts
	tools    int  // OpenAI tool indexes handed out so far
	sawTool  bool // a real tool call went out
	stop     []byte
	blocks   []block
	scratch  []byte
}

// Usage implements provider.StreamDecoder. It is right from message_start
// on, so a stream cut short still accounts for its prompt.
func (s *stream) Usage() openai.Usage { return s.counts.usage() }

// event is the members of an Anthropic stream event the decoder reads.
type event struct {
	typ, index, delta, contentBlock, message, usage, err []byte
	d                                                    delta
}

// delta is the members of a content_block_delta's "delta", read in the
// same pass as the event: there is one per streamed token.
type delta struct {
	typ, text, partial, thinking, signature []byte
}

func readEvent(data []byte) (e event) {
	i := rawjson.SkipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return e
	}
	for i++; ; {
		name, v, ok := rawjson.NextMember(data, i)
		if !ok {
			return e
		}
		if string(name) == "delta" && data[v] == '{' {
			i = e.d.read(data, v)
			e.delta = data[v:i]
			continue
		}
		i = rawjson.Skip(data, v)
		switch string(name) {
		case "type":
			e.typ = data[v:i]
		case "index":
			e.index = data[v:i]
		case "content_block":
			e.contentBlock = data[v:i]
		case "message":
			e.message = data[v:i]
		case "usage":
			e.usage = data[v:i]
		case "error":
			e.err = data[v:i]
		}
	}
}

// read reads the delta object at b[i] and returns the index after it.
func (d *delta) read(b []byte, i int) int {
	for i++; ; {
		name, v, ok := rawjson.NextMember(b, i)
		if !ok {
			return v
		}
		i = rawjson.Skip(b, v)
		switch string(name) {
		case "type":
			d.typ = b[v:i]
		case "text":
			d.text = b[v:i]
		case "partial_json":
			d.partial = b[v:i]
		case "thinking":
			d.thinking = b[v:i]
		case "signature":
			d.signature = b[v:i]
		}
	}
}

// Event implements provider.StreamDecoder.
func (s *stream) Event(ev sse.Event, dst []byte) ([]byte, bool, error) {
	e := readEvent(ev.Data)
	typ, ok := rawjson.Inner(e.typ)
	if !ok {
		typ = ev.Name
	}
	switch string(typ) {
	case "message_start":
		s.counts.update(rawjson.Member(e.message, "usage"))
		dst = s.start(dst, rawjson.Member(e.message, "id"))
	case "content_block_start":
		dst = s.blockStart(s.start(dst, nil), e)
	case "content_block_delta":
		dst = s.blockDelta(s.start(dst, nil), e)
	case "content_block_stop":
		dst = s.blockStop(s.start(dst, nil), e)
	case "message_delta":
		s.counts.update(e.usage)
		if r := rawjson.Member(e.delta, "stop_reason"); rawjson.IsString(r) {
			s.stop = append(s.stop[:0], r...)
		}
		dst = s.finish(s.start(dst, nil))
	case "message_stop":
		dst = s.finish(s.start(dst, nil))
		if s.wantUsage {
			dst = s.w.Usage(dst, s.counts.usage())
		}
		return openai.Done(dst), true, nil
	case "error":
		return dst, false, eventError(s.call, e.err)
	}
	// ping, and event types added after this was written, carry nothing
	// an OpenAI client could use.
	return dst, false, nil
}

// start writes the first chunk (the assistant role) once, naming the
// completion after Anthropic's message id.
func (s *stream) start(dst, id []byte) []byte {
	if s.started {
		return dst
	}
	s.started = true
	name := string(rawjson.AppendUnquote(nil, id))
	if len(id) == 0 || name == "" {
		name = openai.NewCompletionID()
	}
	s.w.Init(name, s.call.ClientModel, s.created, s.wantUsage)
	return s.w.Role(dst)
}

// find returns the position in s.blocks of the open block with Anthropic
// index index, or -1.
func (s *stream) find(index []byte) int {
	n, ok := count(index)
	if !ok {
		return -1
	}
	for i := len(s.blocks) - 1; i >= 0; i-- {
		if s.blocks[i].index == n {
			return i
		}
	}
	return -1
}

func (s *stream) blockStart(dst []byte, e event) []byte {
	n, ok := count(e.index)
	if !ok || s.finished {
		return dst
	}
	var typ, text, id, name, input, thinking, signature, data []byte
	for it := rawjson.Members(e.contentBlock); it.Next(); {
		switch string(it.Name()) {
		case "type":
			typ = it.Value()
		case "text":
			text = it.Value()
		case "id":
			id = it.Value()
		case "name":
			name = it.Value()
		case "input":
			input = it.Value()
		case "thinking":
			thinking = it.Value()
		case "signature":
			signature = it.Value()
		case "data":
			data = it.Value()
		}
	}
	if s.find(e.index) >= 0 {
		return dst // a repeated start; the block is already open
	}
	b := block{index: n}
	switch {
	case rawjson.Is(typ, "text"):
		b.kind = blockText
		dst = s.content(dst, text)
	case rawjson.Is(typ, "tool_use") && isJSONTool(s.jsonMode, name):
		b.kind = blockJSON
	case rawjson.Is(typ, "tool_use"):
		b.kind, b.tool = blockTool, s.tools
		s.tools++
		s.sawTool = true
		dst = s.w.ToolCallStart(dst, b.tool, string(rawjson.AppendUnquote(nil, id)), string(rawjson.AppendUnquote(nil, name)))
	case rawjson.Is(typ, "thinking"):
		b.kind = blockThinking
		b.thinking = rawjson.AppendUnquote(nil, thinking)
		b.signature = rawjson.AppendUnquote(nil, signature)
		if len(b.thinking) > 0 {
			dst = s.w.Reasoning(dst, string(b.thinking))
		}
	case rawjson.Is(typ, "redacted_thinking"):
		b.kind = blockRedacted
		b.data = rawjson.AppendUnquote(nil, data)
	}
	if (b.kind == blockTool || b.kind == blockJSON) && len(input) > 0 && input[0] == '{' {
		if i := rawjson.SkipSpace(input, 1); i < len(input) && input[i] != '}' {
			b.input = rawjson.AppendCompact(nil, input)
		}
	}
	s.blocks = append(s.blocks, b)
	return dst
}

func (s *stream) blockDelta(dst []byte, e event) []byte {
	i := s.find(e.index)
	if i < 0 || s.finished {
		return dst
	}
	b := &s.blocks[i]
	typ, text, partial, thinking, signature := e.d.typ, e.d.text, e.d.partial, e.d.thinking, e.d.signature
	switch {
	case rawjson.Is(typ, "text_delta") && b.kind == blockText:
		dst = s.content(dst, text)
	case rawjson.Is(typ, "input_json_delta") && b.kind == blockTool:
		if s.scratch = rawjson.AppendUnquote(s.scratch[:0], partial); len(s.scratch) > 0 {
			b.args = true
			dst = s.w.ToolCallArgs(dst, b.tool, string(s.scratch))
		}
	case rawjson.Is(typ, "input_json_delta") && b.kind == blockJSON:
		if s.scratch = rawjson.AppendUnquote(s.scratch[:0], partial); len(s.scratch) > 0 {
			b.args = true
			dst = s.w.Content(dst, string(s.scratch))
		}
	case rawjson.Is(typ, "thinking_delta") && b.kind == blockThinking:
		if s.scratch = rawjson.AppendUnquote(s.scratch[:0], thinking); len(s.scratch) > 0 {
			b.thinking = append(b.thinking, s.scratch...)
			dst = s.w.Reasoning(dst, string(s.scratch))
		}
	case rawjson.Is(typ, "signature_delta") && b.kind == blockThinking:
		b.signature = rawjson.AppendUnquote(b.signature, signature)
	}
	// citations_delta and deltas of server tool blocks have no OpenAI form.
	return dst
}

func (s *stream) blockStop(dst []byte, e event) []byte {
	i := s.find(e.index)
	if i < 0 || s.finished {
		return dst
	}
	b := &s.blocks[i]
	switch b.kind {
	case blockTool:
		// A tool without parameters streams no input; its arguments must
		// still parse on the client ("{}", as LiteLLM sends).
		if !b.args {
			dst = s.w.ToolCallArgs(dst, b.tool, string(orEmptyObject(b.input)))
		}
	case blockJSON:
		if !b.args {
			dst = s.w.Content(dst, string(orEmptyObject(b.input)))
		}
	case blockThinking:
		s.scratch = append(s.scratch[:0], `{"type":"thinking","thinking":`...)
		s.scratch = rawjson.AppendQuoteBytes(s.scratch, b.thinking)
		s.scratch = append(s.scratch, `,"signature":`...)
		s.scratch = rawjson.AppendQuoteBytes(s.scratch, b.signature)
		s.scratch = append(s.scratch, '}')
		dst = s.w.ThinkingBlock(dst, s.scratch)
	case blockRedacted:
		s.scratch = append(s.scratch[:0], `{"type":"redacted_thinking","data":`...)
		s.scratch = rawjson.AppendQuoteBytes(s.scratch, b.data)
		s.scratch = append(s.scratch, '}')
		dst = s.w.ThinkingBlock(dst, s.scratch)
	}
	// The block is done: forget it, and its buffers.
	s.blocks = append(s.blocks[:i], s.blocks[i+1:]...)
	return dst
}

func orEmptyObject(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}

// content writes a text delta given as a JSON string literal.
func (s *stream) content(dst, lit []byte) []byte {
	if s.scratch = rawjson.AppendUnquote(s.scratch[:0], lit); len(s.scratch) > 0 {
		dst = s.w.Content(dst, string(s.scratch))
	}
	return dst
}

// finish writes the finish chunk once, at message_delta (or message_stop
// if no message_delta came).
func (s *stream) finish(dst []byte) []byte {
	if s.finished {
		return dst
	}
	s.finished = true
	return s.w.Finish(dst, finishReason(s.stop, s.sawTool))
}
