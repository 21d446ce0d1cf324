package bedrock

import (
	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
	"github.com/switchboard-gw/switchboard/internal/sse"
)

// NewStreamDecoder implements provider.Codec.
func (cd Codec) NewStreamDecoder(c *provider.Call) provider.StreamDecoder {
	s := &streamDecoder{call: c, jsonTool: jsonToolOf(c), wantUsage: c.ClientWantsUsage()}
	s.w.Init(cd.id(), c.ClientModel, cd.created(), s.wantUsage)
	return s
}

// Block kinds of a Converse stream, by contentBlockIndex. Text blocks
// have no start event: a block is known by its first delta.
const (
	blockUnknown uint8 = iota
	blockText
	blockTool     // a tool call relayed as one
	blockJSONTool // the response-format tool: its input is the content
	blockReasoning
)

type blockState struct {
	kind uint8
	tool int  // the OpenAI tool call index
	args bool // some arguments were sent
}

// maxBlocks bounds contentBlockIndex: a message has a handful of blocks,
// and the index sizes a slice.
const maxBlocks = 1024

// streamDecoder turns ConverseStream events into chat.completion.chunks.
// Converse sends usage in its metadata event, after messageStop, so the
// finish chunk goes out at messageStop and the usage chunk and [DONE] at
// metadata (or at the end of the body, if metadata never comes).
type streamDecoder struct {
	call      *provider.Call
	w         openai.ChunkWriter
	jsonTool  []byte
	wantUsage bool

	blocks    []blockState
	tools     int // OpenAI tool indexes given out
	started   bool
	stopped   bool
	jsonAsked bool // the response-format tool was called
	usage     openai.Usage
	hasUsage  bool

	scratch   []byte
	reasoning []byte // the open reasoning block's text and signature
	signature []byte
}

func (s *streamDecoder) Usage() openai.Usage { return s.usage }

func (s *streamDecoder) Event(ev sse.Event, dst []byte) ([]byte, bool, error) {
	switch string(ev.ID) {
	case kindEnd:
		if !s.stopped {
			return dst, false, truncatedStream()
		}
		return s.end(dst), true, nil
	case kindException, kindError:
		return dst, false, streamError(s.call, ev)
	}
	switch string(ev.Name) {
	case "messageStart":
		dst = s.start(dst)
	case "contentBlockStart":
		return s.blockStart(ev.Data, dst)
	case "contentBlockDelta":
		return s.blockDelta(ev.Data, dst)
	case "contentBlockStop":
		return s.blockStop(ev.Data, dst)
	case "messageStop":
		return s.messageStop(ev.Data, dst)
	case "metadata":
		var usage []byte
		it := rawjson.Members(ev.Data)
		for it.Next() {
			if string(it.Name()) == "usage" {
				usage = it.Value()
			}
		}
		if usage != nil && !s.hasUsage {
			s.usage, s.hasUsage = converseUsage(usage), true
		}
		if s.stopped {
			return s.end(dst), true, nil
		}
	}
	return dst, false, nil
}

func (s *streamDecoder) start(dst []byte) []byte {
	if s.started {
		return dst
	}
	s.started = true
	return s.w.Role(dst)
}

// end writes the usage chunk the client asked for and [DONE].
func (s *streamDecoder) end(dst []byte) []byte {
	if s.wantUsage {
		dst = s.w.Usage(dst, s.usage)
	}
	return openai.Done(dst)
}

// block returns the state of a content block, growing the table.
func (s *streamDecoder) block(index []byte) (*blockState, error) {
	i, ok := rawjson.Int(index)
	if !ok || i < 0 || i >= maxBlocks {
		return nil, invalidStream(s.call, "contentBlockIndex out of range")
	}
	for int(i) >= len(s.blocks) {
		s.blocks = append(s.blocks, blockState{})
	}
	return &s.blocks[i], nil
}

func (s *streamDecoder) blockStart(data, dst []byte) ([]byte, bool, error) {
	var index, start []byte
	it := rawjson.Members(data)
	for it.Next() {
		switch string(it.Name()) {
		case "contentBlockIndex":
			index = it.Value()
		case "start":
			start = it.Value()
		}
	}
	b, err := s.block(index)
	if err != nil {
		return dst, false, err
	}
	var id, name []byte
	sm := rawjson.Members(start)
	for sm.Next() {
		if string(sm.Name()) != "toolUse" {
			continue
		}
		tm := rawjson.Members(sm.Value())
		for tm.Next() {
			switch string(tm.Name()) {
			case "toolUseId":
				id = tm.Value()
			case "name":
				name = tm.Value()
			}
		}
	}
	if name == nil || b.kind != blockUnknown || s.stopped {
		return dst, false, nil
	}
	dst = s.start(dst)
	n, scratch := rawjson.Unquote(name, s.scratch[:0])
	s.scratch = scratch
	if s.jsonTool != nil && string(n) == string(s.jsonTool) {
		b.kind = blockJSONTool
		s.jsonAsked = true
		return dst, false, nil
	}
	b.kind, b.tool = blockTool, s.tools
	s.tools++
	// The id is unescaped after the name, which stays where it is.
	idText, scratch := rawjson.Unquote(id, s.scratch)
	s.scratch = scratch
	return s.w.ToolCallStart(dst, b.tool, unsafeString(idText), unsafeString(n)), false, nil
}

func (s *streamDecoder) blockDelta(data, dst []byte) ([]byte, bool, error) {
	var index, delta []byte
	it := rawjson.Members(data)
	for it.Next() {
		switch string(it.Name()) {
		case "contentBlockIndex":
			index = it.Value()
		case "delta":
			delta = it.Value()
		}
	}
	b, err := s.block(index)
	if err != nil || s.stopped {
		return dst, false, err
	}
	dm := rawjson.Members(delta)
	for dm.Next() {
		switch string(dm.Name()) {
		case "text":
			text, scratch := rawjson.Unquote(dm.Value(), s.scratch[:0])
			s.scratch = scratch
			if len(text) == 0 || b.kind != blockUnknown && b.kind != blockText {
				continue
			}
			b.kind = blockText
			dst = s.start(dst)
			dst = s.w.Content(dst, unsafeString(text))
		case "toolUse":
			var input []byte
			tm := rawjson.Members(dm.Value())
			for tm.Next() {
				if string(tm.Name()) == "input" {
					input = tm.Value()
				}
			}
			frag, scratch := rawjson.Unquote(input, s.scratch[:0])
			s.scratch = scratch
			if len(frag) == 0 {
				continue
			}
			switch b.kind {
			case blockTool:
				b.args = true
				dst = s.w.ToolCallArgs(dst, b.tool, unsafeString(frag))
			case blockJSONTool:
				dst = s.w.Content(dst, unsafeString(frag))
			}
		case "reasoningContent":
			if b.kind != blockUnknown && b.kind != blockReasoning {
				continue
			}
			b.kind = blockReasoning
			dst = s.start(dst)
			dst = s.reasoningDelta(dm.Value(), dst)
		}
	}
	return dst, false, nil
}

// reasoningDelta relays reasoning text as it comes, and keeps it with its
// signature for the thinking block sent when the block ends.
func (s *streamDecoder) reasoningDelta(v, dst []byte) []byte {
	rm := rawjson.Members(v)
	for rm.Next() {
		if !rawjson.IsString(rm.Value()) {
			continue
		}
		val, scratch := rawjson.Unquote(rm.Value(), s.scratch[:0])
		s.scratch = scratch
		switch string(rm.Name()) {
		case "text":
			if len(val) > 0 {
				s.reasoning = append(s.reasoning, val...)
				dst = s.w.Reasoning(dst, unsafeString(val))
			}
		case "signature":
			s.signature = append(s.signature, val...)
		case "redactedContent":
			block := appendRedactedBlock(nil, val)
			dst = s.w.ThinkingBlock(dst, block)
		}
	}
	return dst
}

func (s *streamDecoder) blockStop(data, dst []byte) ([]byte, bool, error) {
	var index []byte
	it := rawjson.Members(data)
	for it.Next() {
		if string(it.Name()) == "contentBlockIndex" {
			index = it.Value()
		}
	}
	b, err := s.block(index)
	if err != nil || s.stopped {
		return dst, false, err
	}
	switch b.kind {
	case blockTool:
		if !b.args {
			// A call without arguments still needs valid JSON for them.
			b.args = true
			dst = s.w.ToolCallArgs(dst, b.tool, "{}")
		}
	case blockReasoning:
		if len(s.reasoning) > 0 || len(s.signature) > 0 {
			var sig []byte
			if len(s.signature) > 0 {
				sig = s.signature
			}
			dst = s.w.ThinkingBlock(dst, appendThinkingBlock(nil, s.reasoning, sig))
		}
		s.reasoning, s.signature = s.reasoning[:0], s.signature[:0]
	}
	return dst, false, nil
}

func (s *streamDecoder) messageStop(data, dst []byte) ([]byte, bool, error) {
	if s.stopped {
		return dst, false, nil
	}
	var stop []byte
	it := rawjson.Members(data)
	for it.Next() {
		if string(it.Name()) == "stopReason" {
			stop = it.Value()
		}
	}
	reason, _ := rawjson.Inner(stop)
	finish := finishReason(reason)
	switch {
	case s.tools > 0:
		finish = "tool_calls"
	case s.jsonAsked && finish == "tool_calls":
		finish = "stop"
	}
	dst = s.start(dst)
	dst = s.w.Finish(dst, finish)
	s.stopped = true
	if s.hasUsage {
		// Metadata came first: nothing more is awaited.
		return s.end(dst), true, nil
	}
	return dst, false, nil
}

// truncatedStream is a stream whose body ended before messageStop, in
// the shape the shared pump gives every cut stream.
func truncatedStream() *provider.Error {
	return &provider.Error{Status: 502, Type: "api_error", Code: "upstream_stream_truncated",
		Message: "the upstream stream ended before it was complete", MayHaveBeenSent: true, Cause: provider.ErrTruncated}
}

func invalidStream(c *provider.Call, what string) *provider.Error {
	e := invalidResponse(c, "invalid ConverseStream event: "+what)
	e.Retryable = false
	return e
}
