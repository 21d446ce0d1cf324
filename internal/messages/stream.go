package messages

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
)

// maxLine bounds one SSE line held between writes. The pipeline's own
// reader already refuses upstream events over 1 MiB; this only keeps a
// broken source from growing the buffer without end.
const maxLine = 4 << 20

type blockKind uint8

const (
	noBlock blockKind = iota
	textBlock
	thinkingBlock
	toolBlock
	wholeBlock // sent complete in its start event (redacted thinking)
)

// toolSlot ties an OpenAI tool call index (and the call's id) to its
// content block.
type toolSlot struct {
	call, block int
	id, name    string
}

// Stream converts an OpenAI chat.completion.chunk SSE stream into the
// events of an Anthropic Messages stream. Feed it the bytes as they come,
// cut anywhere, with Write; call End when the source is over. It is not
// safe for concurrent use.
//
// The events follow Anthropic's order: message_start; for each content
// block content_block_start, its deltas and content_block_stop; then
// message_delta (stop reason and usage) and message_stop. OpenAI sends
// usage in a chunk after the finish_reason, so message_delta waits for it
// (or for [DONE]); message_stop is written only on [DONE], so a stream cut
// short ends with an error event, never with a made-up message_stop.
type Stream struct {
	model     string
	requestID string

	line    []byte // a line not yet ended by '\n'
	data    []byte // the current event's data lines, joined by '\n'
	hasData bool
	errName bool // the current event is named "error"

	id        string
	started   bool
	kind      blockKind
	block     int // the open block's index when kind != noBlock
	next      int // the next block's index
	tools     []toolSlot
	calls     int  // tool calls started
	finished  bool // a finish_reason arrived
	finish    string
	stopSeq   string
	hasTools  bool
	refused   bool // a refusal delta arrived
	usage     openai.Usage
	hasUsage  bool
	deltaSent bool
	done      bool // message_stop or error written; the rest is ignored

	chunk   streamChunk   // the event being converted, kept for its memory
	choices []rawDelta    // the same for the fast path
	callBuf []rawToolCall // the tool calls of choices
	scratch []byte
}

// NewStream returns a converter for one stream. model is the name the
// client asked for; requestID names the message when the chunks carry no
// id.
func NewStream(model, requestID string) *Stream {
	return &Stream{model: model, requestID: requestID}
}

// Reset readies s for another stream, keeping its buffers.
func (s *Stream) Reset(model, requestID string) {
	*s = Stream{model: model, requestID: requestID, line: s.line[:0], data: s.data[:0], tools: s.tools[:0], chunk: s.chunk,
		choices: s.choices[:0], callBuf: s.callBuf[:0], scratch: s.scratch[:0]}
}

// Write consumes the next bytes of the OpenAI stream and appends the
// Anthropic events they complete to dst.
func (s *Stream) Write(dst, p []byte) []byte {
	for len(p) > 0 && !s.done {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(s.line)+len(p) > maxLine {
				return s.fail(dst, "api_error", "a stream event is larger than the gateway's limit")
			}
			s.line = append(s.line, p...)
			return dst
		}
		line := p[:i]
		if len(s.line) > 0 {
			if len(s.line)+len(line) > maxLine {
				return s.fail(dst, "api_error", "a stream event is larger than the gateway's limit")
			}
			s.line = append(s.line, line...)
			line = s.line
		}
		p = p[i+1:]
		dst = s.processLine(dst, bytes.TrimSuffix(line, []byte{'\r'}))
		s.line = s.line[:0]
	}
	return dst
}

// End is the end of the source. A stream that did not finish with [DONE]
// or an error event was cut: it ends with an error event.
func (s *Stream) End(dst []byte) []byte {
	if s.done {
		return dst
	}
	return s.fail(dst, "api_error", "the upstream stream ended before it was complete")
}

func (s *Stream) processLine(dst, line []byte) []byte {
	if len(line) == 0 {
		dst = s.dispatch(dst)
		s.data, s.hasData, s.errName = s.data[:0], false, false
		return dst
	}
	if line[0] == ':' {
		return dst
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if len(s.data)+len(value) > maxLine {
			return s.fail(dst, "api_error", "a stream event is larger than the gateway's limit")
		}
		if s.hasData {
			s.data = append(s.data, '\n')
		}
		s.data, s.hasData = append(s.data, value...), true
	case "event":
		s.errName = string(value) == "error"
	}
	return dst
}

// streamChunk is the part of a chat.completion.chunk the converter reads.
type streamChunk struct {
	ID      string          `json:"id"`
	Choices []streamDelta   `json:"choices"`
	Usage   present         `json:"usage"` // read with openai.ScanUsage
	Error   json.RawMessage `json:"error"`
}

// present records that a member is there and not null, without copying
// it: most chunks carry "usage":null.
type present bool

func (p *present) UnmarshalJSON(b []byte) error {
	*p = string(b) != "null"
	return nil
}

type streamDelta struct {
	Index int `json:"index"`
	Delta struct {
		openai.Delta
		Reasoning string `json:"reasoning"`
	} `json:"delta"`
	FinishReason *string         `json:"finish_reason"`
	StopReason   json.RawMessage `json:"stop_reason"`
}

func (s *Stream) dispatch(dst []byte) []byte {
	if !s.hasData || s.done {
		return dst
	}
	data := bytes.TrimSpace(s.data)
	if bytes.Equal(data, []byte("[DONE]")) {
		return s.complete(dst)
	}
	if s.errName {
		msg, typ, code, ok := openAIErrorBody(data)
		if !ok {
			msg = string(data)
		}
		return s.fail(dst, typeFromOpenAI(typ, code), msg)
	}
	if out, ok := s.dispatchFast(dst, data); ok {
		return out
	}
	return s.dispatchSlow(dst, data)
}

// dispatchSlow converts a chunk with encoding/json: the reference
// dispatchFast writes the same events as, and what converts the chunks it
// gives up on (a broken one above all, which ends the stream).
func (s *Stream) dispatchSlow(dst, data []byte) []byte {
	// The chunk is decoded into the previous one's memory; its choices are
	// zeroed first, as encoding/json leaves absent members alone.
	c := &s.chunk
	clear(c.Choices[:cap(c.Choices)])
	*c = streamChunk{Choices: c.Choices[:0]}
	if err := json.Unmarshal(data, c); err != nil {
		return s.fail(dst, "api_error", "the upstream sent a stream event that is not a chat completion chunk")
	}
	if len(c.Error) > 0 {
		if msg, typ, code, ok := openAIError(c.Error); ok {
			return s.fail(dst, typeFromOpenAI(typ, code), msg)
		}
	}
	if !s.started {
		dst = s.start(dst, c.ID)
	}
	if s.deltaSent {
		// After message_delta only message_stop may follow.
		return dst
	}
	for i := range c.Choices {
		if c.Choices[i].Index == 0 {
			dst = s.choice(dst, &c.Choices[i])
		}
	}
	if c.Usage {
		if u, ok := openai.ScanUsage(data); ok {
			s.usage, s.hasUsage = u, true
		}
		if s.finished && s.hasUsage {
			dst = s.messageDelta(dst)
		}
	}
	return dst
}

// openAIErrorBody reads an error event's data: an envelope
// {"error":{…}}, or the error object itself.
func openAIErrorBody(data []byte) (message, typ, code string, ok bool) {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &env) == nil && len(env.Error) > 0 {
		return openAIError(env.Error)
	}
	return openAIError(data)
}

func (s *Stream) choice(dst []byte, c *streamDelta) []byte {
	d := &c.Delta
	if r := firstNonEmpty(d.ReasoningContent, d.Reasoning); r != "" {
		dst = s.open(dst, thinkingBlock, "", "")
		dst = s.delta(dst, `{"type":"thinking_delta","thinking":`, r)
	}
	for _, tb := range d.ThinkingBlocks {
		dst = s.thinkingBlock(dst, tb)
	}
	if d.Content != nil && *d.Content != "" {
		dst = s.open(dst, textBlock, "", "")
		dst = s.delta(dst, `{"type":"text_delta","text":`, *d.Content)
	}
	if d.Refusal != nil && *d.Refusal != "" {
		dst = s.open(dst, textBlock, "", "")
		dst = s.delta(dst, `{"type":"text_delta","text":`, *d.Refusal)
		s.refused = true
	}
	for i := range d.ToolCalls {
		tc := &d.ToolCalls[i]
		call := i
		if tc.Index != nil {
			call = *tc.Index
		}
		dst = s.toolCall(dst, call, tc.ID, tc.Function.Name, tc.Function.Arguments)
	}
	if c.FinishReason != nil && *c.FinishReason != "" {
		s.finished, s.finish = true, *c.FinishReason
		if reason, seq := stopReason(s.finish, false, c.StopReason); reason == "stop_sequence" {
			s.stopSeq = seq
		}
		dst = s.close(dst)
	}
	return dst
}

// thinkingBlock handles a complete thinking block sent in a delta (how
// translators hand over Anthropic's signature). If its text was streamed
// already, only the signature is new.
func (s *Stream) thinkingBlock(dst []byte, raw json.RawMessage) []byte {
	var tb struct {
		Type      string `json:"type"`
		Thinking  string `json:"thinking"`
		Signature string `json:"signature"`
	}
	if json.Unmarshal(raw, &tb) != nil {
		return dst
	}
	switch tb.Type {
	case "thinking":
		if s.kind != thinkingBlock {
			dst = s.open(dst, thinkingBlock, "", "")
			if tb.Thinking != "" {
				dst = s.delta(dst, `{"type":"thinking_delta","thinking":`, tb.Thinking)
			}
		}
		if tb.Signature != "" {
			dst = s.delta(dst, `{"type":"signature_delta","signature":`, tb.Signature)
		}
		return s.close(dst)
	case "redacted_thinking":
		dst = s.close(dst)
		dst = s.blockStart(dst, raw)
		return s.close(dst)
	}
	return dst
}

func (s *Stream) toolCall(dst []byte, call int, id, name, args string) []byte {
	slot := -1
	for i := range s.tools {
		if s.tools[i].call == call {
			slot = i
			break
		}
	}
	// A new id (or, without ids, a new name) under a known index is a new
	// call: some OpenAI-compatible servers number every whole call 0.
	// Fragments that repeat their call's id or name are not.
	if slot < 0 || id != "" && id != s.tools[slot].id || id == "" && name != "" && name != s.tools[slot].name {
		id = toolID(id, s.id, s.calls)
		s.calls++
		dst = s.open(dst, toolBlock, id, name)
		t := toolSlot{call: call, block: s.block, id: id, name: name}
		if slot < 0 {
			slot = len(s.tools)
			s.tools = append(s.tools, t)
		} else {
			s.tools[slot] = t
		}
		s.hasTools = true
	}
	block := s.tools[slot].block
	if args == "" {
		return dst
	}
	// A call's arguments go to its own block, even in the rare stream that
	// goes back to an earlier call: losing them would be worse, and
	// Anthropic's SDKs place deltas by index.
	return s.deltaAt(dst, block, `{"type":"input_json_delta","partial_json":`, args)
}

func (s *Stream) start(dst []byte, chatID string) []byte {
	s.started, s.id = true, messageID(chatID, s.requestID)
	dst = append(dst, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"...)
	dst = openai.AppendString(dst, s.id)
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = openai.AppendString(dst, s.model)
	// Usage is not known until the end; LiteLLM starts at zero too, and
	// message_delta carries the real counts (clients take them from there).
	return append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}`+"\n\n"...)
}

// open makes sure a block of kind is open: text and thinking continue the
// open block of their kind; anything else closes it and starts a new one.
func (s *Stream) open(dst []byte, kind blockKind, id, name string) []byte {
	if s.kind == kind && kind != toolBlock {
		return dst
	}
	dst = s.close(dst)
	s.kind, s.block = kind, s.next
	s.next++
	dst = append(dst, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(s.block), 10)
	switch kind {
	case textBlock:
		dst = append(dst, `,"content_block":{"type":"text","text":""}}`...)
	case thinkingBlock:
		dst = append(dst, `,"content_block":{"type":"thinking","thinking":"","signature":""}}`...)
	default:
		dst = append(dst, `,"content_block":{"type":"tool_use","id":`...)
		dst = openai.AppendString(dst, id)
		dst = append(dst, `,"name":`...)
		dst = openai.AppendString(dst, name)
		dst = append(dst, `,"input":{}}}`...)
	}
	return append(dst, "\n\n"...)
}

// blockStart writes a whole block (redacted thinking) as its start event.
func (s *Stream) blockStart(dst []byte, raw json.RawMessage) []byte {
	index := s.next
	s.next++
	dst = append(dst, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"content_block":`...)
	dst = appendCompact(dst, raw)
	dst = append(dst, "}\n\n"...)
	s.kind, s.block = wholeBlock, index
	return dst
}

func (s *Stream) delta(dst []byte, head, text string) []byte {
	return s.deltaAt(dst, s.block, head, text)
}

func (s *Stream) deltaAt(dst []byte, index int, head, text string) []byte {
	dst = append(dst, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"delta":`...)
	dst = append(dst, head...)
	dst = openai.AppendString(dst, text)
	return append(dst, "}}\n\n"...)
}

// close stops the open block, if any.
func (s *Stream) close(dst []byte) []byte {
	if s.kind == noBlock {
		return dst
	}
	s.kind = noBlock
	dst = append(dst, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(s.block), 10)
	return append(dst, "}\n\n"...)
}

func (s *Stream) messageDelta(dst []byte) []byte {
	dst = s.close(dst)
	s.deltaSent = true
	reason, _ := stopReason(s.finish, s.hasTools, nil)
	switch {
	case reason != "end_turn":
	case s.refused:
		reason = "refusal"
	case s.stopSeq != "":
		reason = "stop_sequence"
	}
	dst = append(dst, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"...)
	dst = openai.AppendString(dst, reason)
	dst = append(dst, `,"stop_sequence":`...)
	if reason == "stop_sequence" {
		dst = appendStringOrNull(dst, s.stopSeq)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `},"usage":`...)
	dst = appendUsage(dst, s.usage, s.hasUsage)
	return append(dst, "}\n\n"...)
}

// complete handles [DONE]: whatever is still open is closed, message_delta
// goes out if no usage chunk sent it, then message_stop.
func (s *Stream) complete(dst []byte) []byte {
	if !s.started {
		dst = s.start(dst, "")
	}
	if !s.deltaSent {
		dst = s.messageDelta(dst)
	}
	s.done = true
	return append(dst, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
}

// fail ends the stream with Anthropic's error event.
func (s *Stream) fail(dst []byte, typ, message string) []byte {
	if message == "" {
		message = "upstream error"
	}
	s.done = true
	s.line, s.data = s.line[:0], s.data[:0]
	dst = append(dst, "event: error\ndata: "...)
	dst = AppendError(dst, typ, message)
	return append(dst, "\n\n"...)
}
