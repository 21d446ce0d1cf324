package messages

import (
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// The fast path of Stream: a chunk as raw values, converted into the
// events dispatchSlow writes for it. The chunk is read whole before any
// state changes, so that giving up (on anything dispatchSlow would treat
// as a broken chunk, or that the fast path is not sure to convert the
// same) leaves the chunk to dispatchSlow untouched.

// rawDelta is one choice of a chunk as raw values: literals (nil for
// absent or null) for the members decoded into strings.
type rawDelta struct {
	index                                         int64
	reasoningContent, reasoning, content, refusal []byte
	thinkingBlocks                                []byte // an array, or nil
	calls, callsEnd                               int    // its tool calls in Stream.calls
	finishReason                                  []byte
	stopReason                                    []byte // any value
}

var streamDeltaNames = []string{"index", "delta", "finish_reason", "stop_reason"}

var deltaNames = []string{"role", "content", "refusal", "tool_calls", "reasoning_content", "thinking_blocks", "reasoning"}

// The chunk is read in one pass, each reader taking the index of the
// value it reads and returning the index after it (openai.Valid has
// checked the whole chunk, so ends are where the readers expect them).

func (s *Stream) readStreamDelta(b []byte, i int) (d rawDelta, end int, ok bool) {
	if b[i] != '{' {
		return d, i, false
	}
	d.calls, d.callsEnd = len(s.callBuf), len(s.callBuf)
	var seen uint8
	for i++; ; {
		name, v, more := rawjson.NextMember(b, i)
		if !more {
			return d, v, true
		}
		var end int
		if string(name) == "delta" && b[v] == '{' {
			if end, ok = s.readDelta(b, v, &d); !ok {
				return d, end, false
			}
		} else {
			end = rawjson.Skip(b, v)
		}
		val := b[v:end]
		var bit uint8
		switch string(name) {
		case "index":
			bit = 1 << 0
			if !isNull(val) {
				if d.index, ok = rawjson.Int(val); !ok {
					return d, end, false
				}
			}
		case "delta":
			bit = 1 << 1
			if !isNull(val) && !rawjson.IsObject(val) {
				return d, end, false
			}
		case "finish_reason":
			bit = 1 << 2
			if d.finishReason, ok = strField(val); !ok {
				return d, end, false
			}
		case "stop_reason":
			bit = 1 << 3
			d.stopReason = val
		default:
			if !strictName(name, streamDeltaNames...) {
				return d, end, false
			}
		}
		if seen&bit != 0 {
			return d, end, false
		}
		seen |= bit
		i = end
	}
}

func (s *Stream) readDelta(b []byte, i int, d *rawDelta) (end int, ok bool) {
	var seen uint8
	for i++; ; {
		name, v, more := rawjson.NextMember(b, i)
		if !more {
			return v, true
		}
		var dst *[]byte
		var bit uint8
		switch string(name) {
		case "role":
			dst, bit = nil, 1<<0
		case "content":
			dst, bit = &d.content, 1<<1
		case "refusal":
			dst, bit = &d.refusal, 1<<2
		case "reasoning_content":
			dst, bit = &d.reasoningContent, 1<<3
		case "reasoning":
			dst, bit = &d.reasoning, 1<<4
		case "tool_calls":
			if seen&(1<<5) != 0 {
				return i, false
			}
			seen |= 1 << 5
			switch {
			case b[v] == '[':
				for j := v + 1; ; {
					e, more := rawjson.NextElement(b, j)
					if !more {
						i = e
						break
					}
					tc, end, ok := readToolCallAt(b, e)
					if !ok {
						return i, false
					}
					s.callBuf = append(s.callBuf, tc)
					j = end
				}
				d.callsEnd = len(s.callBuf)
			case isNull(b[v:]):
				i = v + 4
			default:
				return i, false
			}
			continue
		case "thinking_blocks":
			if seen&(1<<6) != 0 {
				return i, false
			}
			seen |= 1 << 6
			i = rawjson.Skip(b, v)
			val := b[v:i]
			if isNull(val) {
				continue
			}
			if !rawjson.IsArray(val) {
				return i, false
			}
			for e := rawjson.Elements(val); e.Next(); {
				if _, ok := readThinkingBlock(e.Value()); !ok {
					return i, false
				}
			}
			d.thinkingBlocks = val
			continue
		default:
			if !strictName(name, deltaNames...) {
				return i, false
			}
			i = rawjson.Skip(b, v)
			continue
		}
		if seen&bit != 0 {
			return i, false
		}
		seen |= bit
		i = rawjson.Skip(b, v)
		lit, ok := strField(b[v:i])
		if !ok {
			return i, false
		}
		if dst != nil {
			*dst = lit
		}
	}
}

// rawThinking is a thinking block sent in a delta, as Stream.thinkingBlock
// decodes it; typ is nil when it does not decode (the block is ignored).
type rawThinking struct{ typ, thinking, signature []byte }

func readThinkingBlock(v []byte) (tb rawThinking, ok bool) {
	if !rawjson.IsObject(v) {
		return rawThinking{}, true
	}
	var seen uint8
	valid := true
	for it := rawjson.Members(v); it.Next(); {
		var dst *[]byte
		var bit uint8
		switch string(it.Name()) {
		case "type":
			dst, bit = &tb.typ, 1
		case "thinking":
			dst, bit = &tb.thinking, 2
		case "signature":
			dst, bit = &tb.signature, 4
		default:
			if !strictName(it.Name(), "type", "thinking", "signature") {
				return tb, false
			}
			continue
		}
		if seen&bit != 0 {
			return tb, false
		}
		seen |= bit
		lit, isString := strField(it.Value())
		valid = valid && isString
		*dst = lit
	}
	if !valid {
		return rawThinking{}, true
	}
	return tb, true
}

// dispatchFast converts a chunk; ok is false when it leaves the chunk to
// dispatchSlow, having changed nothing.
func (s *Stream) dispatchFast(dst, data []byte) (out []byte, ok bool) {
	if !rawjson.IsObject(data) || !openai.Valid(data) {
		return dst, false
	}
	var id []byte
	usage := false
	var seen uint8
	s.choices, s.callBuf = s.choices[:0], s.callBuf[:0]
	for i := 1; ; {
		name, v, more := rawjson.NextMember(data, i)
		if !more {
			break
		}
		var bit uint8
		switch string(name) {
		case "id":
			bit = 1
			i = rawjson.Skip(data, v)
			if id, ok = strField(data[v:i]); !ok {
				return dst, false
			}
		case "choices":
			bit = 2
			switch {
			case data[v] == '[':
				for j := v + 1; ; {
					e, more := rawjson.NextElement(data, j)
					if !more {
						i = e
						break
					}
					d, end, ok := s.readStreamDelta(data, e)
					if !ok {
						return dst, false
					}
					if d.index == 0 {
						s.choices = append(s.choices, d)
					}
					j = end
				}
			case isNull(data[v:]):
				i = v + 4
			default:
				return dst, false
			}
		case "usage":
			bit = 4
			i = rawjson.Skip(data, v)
			usage = !isNull(data[v:i])
		case "error":
			bit = 8
			i = rawjson.Skip(data, v)
			if !isNull(data[v:i]) {
				return dst, false
			}
		default:
			if !strictName(name, "id", "choices", "usage", "error") {
				return dst, false
			}
			i = rawjson.Skip(data, v)
			continue
		}
		if seen&bit != 0 {
			return dst, false
		}
		seen |= bit
	}

	if !s.started {
		var text []byte
		text, s.scratch = unquoteTo(id, s.scratch[:0])
		dst = s.start(dst, string(text))
	}
	if s.deltaSent {
		return dst, true
	}
	for i := range s.choices {
		dst = s.choiceFast(dst, &s.choices[i])
	}
	if usage {
		if u, ok := openai.ScanUsage(data); ok {
			s.usage, s.hasUsage = u, true
		}
		if s.finished && s.hasUsage {
			dst = s.messageDelta(dst)
		}
	}
	return dst, true
}

func (s *Stream) choiceFast(dst []byte, c *rawDelta) []byte {
	if r := c.reasoningContent; !empty(r) || !empty(c.reasoning) {
		if empty(r) {
			r = c.reasoning
		}
		dst = s.open(dst, thinkingBlock, "", "")
		dst = s.deltaLit(dst, s.block, `{"type":"thinking_delta","thinking":`, r)
	}
	for it := rawjson.Elements(c.thinkingBlocks); it.Next(); {
		dst = s.thinkingBlockFast(dst, it.Value())
	}
	if !empty(c.content) {
		dst = s.open(dst, textBlock, "", "")
		dst = s.deltaLit(dst, s.block, `{"type":"text_delta","text":`, c.content)
	}
	if !empty(c.refusal) {
		dst = s.open(dst, textBlock, "", "")
		dst = s.deltaLit(dst, s.block, `{"type":"text_delta","text":`, c.refusal)
		s.refused = true
	}
	for i := c.calls; i < c.callsEnd; i++ {
		dst = s.toolCallFast(dst, i-c.calls, &s.callBuf[i])
	}
	if !empty(c.finishReason) {
		s.finished = true
		switch f := c.finishReason; {
		case is(f, "length"):
			s.finish = "length"
		case is(f, "content_filter"):
			s.finish = "content_filter"
		case is(f, "tool_calls"):
			s.finish = "tool_calls"
		case is(f, "function_call"):
			s.finish = "function_call"
		default:
			// Every other reason maps as "stop" does.
			s.finish = "stop"
		}
		if reason, seq := rawStopReason(c.finishReason, false, c.stopReason); reason == "stop_sequence" {
			var text []byte
			text, s.scratch = unquoteTo(seq, s.scratch[:0])
			s.stopSeq = string(text)
		}
		dst = s.close(dst)
	}
	return dst
}

// thinkingBlockFast is thinkingBlock for a block readThinkingBlock took.
func (s *Stream) thinkingBlockFast(dst, raw []byte) []byte {
	tb, _ := readThinkingBlock(raw)
	switch {
	case is(tb.typ, "thinking"):
		if s.kind != thinkingBlock {
			dst = s.open(dst, thinkingBlock, "", "")
			if !empty(tb.thinking) {
				dst = s.deltaLit(dst, s.block, `{"type":"thinking_delta","thinking":`, tb.thinking)
			}
		}
		if !empty(tb.signature) {
			dst = s.deltaLit(dst, s.block, `{"type":"signature_delta","signature":`, tb.signature)
		}
		return s.close(dst)
	case is(tb.typ, "redacted_thinking"):
		dst = s.close(dst)
		dst = s.blockStart(dst, raw)
		return s.close(dst)
	}
	return dst
}

// toolCallFast is toolCall for the i-th tool call of a delta, which
// readToolCall took.
func (s *Stream) toolCallFast(dst []byte, i int, tc *rawToolCall) []byte {
	call := i
	if tc.hasIndex {
		call = int(tc.index)
	}
	slot := -1
	for i := range s.tools {
		if s.tools[i].call == call {
			slot = i
			break
		}
	}
	if slot < 0 || !empty(tc.id) && !is(tc.id, s.tools[slot].id) || empty(tc.id) && !empty(tc.name) && !is(tc.name, s.tools[slot].name) {
		// A new id (or, without ids, a new name) under a known index is a
		// new call (see toolCall). One string holds its id and name.
		b := appendTextOf(s.scratch[:0], tc.id)
		n := len(b)
		b = appendTextOf(b, tc.name)
		s.scratch = b
		both := string(b)
		id, name := toolID(both[:n], s.id, s.calls), both[n:]
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
	if empty(tc.arguments) {
		return dst
	}
	return s.deltaLit(dst, block, `{"type":"input_json_delta","partial_json":`, tc.arguments)
}

// deltaLit is deltaAt for text given as a literal.
func (s *Stream) deltaLit(dst []byte, index int, head string, lit []byte) []byte {
	dst = append(dst, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"delta":`...)
	dst = append(dst, head...)
	dst = appendText(dst, lit, false)
	return append(dst, "}}\n\n"...)
}

// appendTextOf appends the text of the literal lit (nil: "").
func appendTextOf(dst, lit []byte) []byte {
	if len(lit) < 2 {
		return dst
	}
	return rawjson.AppendUnescape(dst, lit[1:len(lit)-1])
}
