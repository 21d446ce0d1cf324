package messages

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// The fast FromChat: the completion as raw values, written out as
// fromChatSlow writes it. It gives up (ok false) on anything fromChatSlow
// would refuse or that it is not sure to write byte for byte the same.

// rawChoice is a chat completion choice as raw values: literals (nil for
// absent or null) for the members decoded into strings.
type rawChoice struct {
	content, refusal, reasoningContent, reasoning []byte
	toolCalls, thinkingBlocks                     []byte // arrays, or nil
	finishReason                                  []byte
	stopReason                                    []byte // any value
}

var choiceNames = []string{"message", "finish_reason", "stop_reason"}

var responseMessageNames = []string{"role", "content", "refusal", "tool_calls", "reasoning_content",
	"thinking_blocks", "reasoning"}

func readChoice(v []byte) (c rawChoice, ok bool) {
	if !rawjson.IsObject(v) {
		return c, false
	}
	var seen uint8
	for it := rawjson.Members(v); it.Next(); {
		val := it.Value()
		var bit uint8
		switch string(it.Name()) {
		case "message":
			bit = 1 << 0
			if seen&bit == 0 && !isNull(val) {
				if !rawjson.IsObject(val) || !readResponseMessage(val, &c) {
					return c, false
				}
			}
		case "finish_reason":
			bit = 1 << 1
			if c.finishReason, ok = strField(val); !ok {
				return c, false
			}
		case "stop_reason":
			bit = 1 << 2
			c.stopReason = val
		default:
			if !strictName(it.Name(), choiceNames...) {
				return c, false
			}
			continue
		}
		if seen&bit != 0 {
			return c, false
		}
		seen |= bit
	}
	return c, true
}

func readResponseMessage(v []byte, c *rawChoice) bool {
	var seen uint8
	for it := rawjson.Members(v); it.Next(); {
		val := it.Value()
		var dst *[]byte
		var bit uint8
		switch string(it.Name()) {
		case "role":
			dst, bit = nil, 1<<0
		case "content":
			dst, bit = &c.content, 1<<1
		case "refusal":
			dst, bit = &c.refusal, 1<<2
		case "reasoning_content":
			dst, bit = &c.reasoningContent, 1<<3
		case "reasoning":
			dst, bit = &c.reasoning, 1<<4
		case "tool_calls":
			if seen&(1<<5) != 0 || !isNull(val) && !rawjson.IsArray(val) {
				return false
			}
			seen |= 1 << 5
			if !isNull(val) {
				for e := rawjson.Elements(val); e.Next(); {
					if !checkToolCall(e.Value()) {
						return false
					}
				}
				c.toolCalls = val
			}
			continue
		case "thinking_blocks":
			if seen&(1<<6) != 0 || !isNull(val) && !rawjson.IsArray(val) {
				return false
			}
			seen |= 1 << 6
			if !isNull(val) {
				c.thinkingBlocks = val
			}
			continue
		default:
			if !strictName(it.Name(), responseMessageNames...) {
				return false
			}
			continue
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		lit, ok := strField(val)
		if !ok {
			return false
		}
		if dst != nil {
			*dst = lit
		}
	}
	return true
}

// rawToolCall is a tool call as raw values.
type rawToolCall struct {
	id, name, arguments []byte
	index               int64
	hasIndex            bool
}

var toolCallNames = []string{"index", "id", "type", "function"}

// readToolCall reads a tool call as encoding/json decodes it into
// openai.ToolCall; ok is false where that would fail or be uncertain.
func readToolCall(v []byte) (tc rawToolCall, ok bool) {
	tc, _, ok = readToolCallAt(v, 0)
	return tc, ok
}

// readToolCallAt is readToolCall for the value at b[i], in one pass; end
// is the index after it.
func readToolCallAt(b []byte, i int) (tc rawToolCall, end int, ok bool) {
	if b[i] != '{' {
		return tc, i, false
	}
	var seen uint8
	for i++; ; {
		name, v, more := rawjson.NextMember(b, i)
		if !more {
			return tc, v, true
		}
		var bit uint8
		switch string(name) {
		case "index":
			bit = 1 << 0
			i = rawjson.Skip(b, v)
			if val := b[v:i]; !isNull(val) {
				if tc.index, ok = rawjson.Int(val); !ok {
					return tc, i, false
				}
				tc.hasIndex = true
			}
		case "id":
			bit = 1 << 1
			i = rawjson.Skip(b, v)
			if tc.id, ok = strField(b[v:i]); !ok {
				return tc, i, false
			}
		case "type":
			bit = 1 << 2
			i = rawjson.Skip(b, v)
			if _, ok = strField(b[v:i]); !ok {
				return tc, i, false
			}
		case "function":
			bit = 1 << 3
			if isNull(b[v:]) {
				i = v + 4
				break
			}
			if b[v] != '{' {
				return tc, v, false
			}
			var fseen uint8
			for i = v + 1; ; {
				fname, fv, more := rawjson.NextMember(b, i)
				if !more {
					i = fv
					break
				}
				i = rawjson.Skip(b, fv)
				var dst *[]byte
				var fbit uint8
				switch string(fname) {
				case "name":
					dst, fbit = &tc.name, 1
				case "arguments":
					dst, fbit = &tc.arguments, 2
				default:
					if !strictName(fname, "name", "arguments") {
						return tc, i, false
					}
					continue
				}
				if fseen&fbit != 0 {
					return tc, i, false
				}
				fseen |= fbit
				if *dst, ok = strField(b[fv:i]); !ok {
					return tc, i, false
				}
			}
		default:
			if !strictName(name, toolCallNames...) {
				return tc, v, false
			}
			i = rawjson.Skip(b, v)
			continue
		}
		if seen&bit != 0 {
			return tc, i, false
		}
		seen |= bit
	}
}

func checkToolCall(v []byte) bool {
	_, ok := readToolCall(v)
	return ok
}

// unquoteTo returns the text of the literal lit (nil: ""): its inside when
// it holds no escape, else decoded into buf.
func unquoteTo(lit, buf []byte) (text, grown []byte) {
	if len(lit) < 2 {
		return nil, buf
	}
	s := lit[1 : len(lit)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, buf
	}
	n := len(buf)
	buf = rawjson.AppendUnescape(buf, s)
	return buf[n:], buf
}

// thinkingBlockType reports a thinking block of the kinds an Anthropic
// client takes (isThinkingBlock); ok is false when that is uncertain.
func thinkingBlockType(v []byte) (keep, ok bool) {
	if !rawjson.IsObject(v) {
		return false, true // encoding/json fails on it: not kept
	}
	var typ []byte
	seen := false
	for it := rawjson.Members(v); it.Next(); {
		if string(it.Name()) != "type" {
			if !strictName(it.Name(), "type") {
				return false, false
			}
			continue
		}
		if seen {
			return false, false
		}
		seen = true
		typ = it.Value()
	}
	if !isStr(typ) {
		return false, true
	}
	return is(typ, "thinking") || is(typ, "redacted_thinking"), true
}

func fromChatFast(body []byte, model, requestID string) (out []byte, ok bool) {
	if !rawjson.IsObject(rawjson.TrimSpace(body)) || !openai.Valid(body) {
		return nil, false
	}
	var idLit, choices []byte
	var seen uint8
	for it := rawjson.Members(body); it.Next(); {
		val := it.Value()
		var bit uint8
		switch string(it.Name()) {
		case "id":
			bit = 1
			if idLit, ok = strField(val); !ok {
				return nil, false
			}
		case "choices":
			bit = 2
			if !rawjson.IsArray(val) {
				return nil, false
			}
			choices = val
		case "error":
			bit = 4
		default:
			if !strictName(it.Name(), "id", "choices", "error") {
				return nil, false
			}
			continue
		}
		if seen&bit != 0 {
			return nil, false
		}
		seen |= bit
	}
	var c rawChoice
	n := 0
	for it := rawjson.Elements(choices); it.Next(); n++ {
		ci, ok := readChoice(it.Value())
		if !ok {
			return nil, false
		}
		if n == 0 {
			c = ci
		}
	}
	if n == 0 {
		return nil, false
	}

	var stack [256]byte
	scratch := stack[:0]
	var chatID []byte
	chatID, scratch = unquoteTo(idLit, scratch)
	var idStack [64]byte
	id := appendMessageID(idStack[:0], chatID, requestID)

	b := make([]byte, 0, 256+len(body))
	b = append(b, `{"id":`...)
	b = rawjson.AppendQuoteBytes(b, id)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = openai.AppendString(b, model)
	b = append(b, `,"content":[`...)
	blocks := 0
	sep := func() {
		if blocks > 0 {
			b = append(b, ',')
		}
		blocks++
	}
	thinking := false
	for it := rawjson.Elements(c.thinkingBlocks); it.Next(); {
		keep, sure := thinkingBlockType(it.Value())
		if !sure {
			return nil, false
		}
		if keep {
			sep()
			b = rawjson.AppendCompact(b, it.Value())
			thinking = true
		}
	}
	if rc := c.reasoningContent; !thinking && (!empty(rc) || !empty(c.reasoning)) {
		if empty(rc) {
			rc = c.reasoning
		}
		sep()
		b = append(b, `{"type":"thinking","thinking":`...)
		b = appendText(b, rc, false)
		b = append(b, `,"signature":""}`...)
	}
	for _, text := range [...][]byte{c.content, c.refusal} {
		if !empty(text) {
			sep()
			b = append(b, `{"type":"text","text":`...)
			b = appendText(b, text, false)
			b = append(b, '}')
		}
	}
	calls := 0
	for it := rawjson.Elements(c.toolCalls); it.Next(); calls++ {
		tc, _ := readToolCall(it.Value())
		sep()
		b = append(b, `{"type":"tool_use","id":`...)
		if empty(tc.id) {
			var tb [80]byte
			t := append(tb[:0], "toolu_"...)
			t = append(t, bytes.TrimPrefix(id, []byte("msg_"))...)
			t = append(t, '_')
			t = strconv.AppendInt(t, int64(calls), 10)
			b = rawjson.AppendQuoteBytes(b, t)
		} else {
			b = appendText(b, tc.id, false)
		}
		b = append(b, `,"name":`...)
		b = appendText(b, tc.name, false)
		b = append(b, `,"input":`...)
		var args []byte
		args, scratch = unquoteTo(tc.arguments, scratch[:0])
		args = bytes.TrimSpace(args)
		switch {
		case len(args) == 0 || args[0] != '{':
			b = append(b, "{}"...)
		case openai.Valid(args):
			b = rawjson.AppendCompact(b, args)
		case json.Valid(args):
			return nil, false // valid, but not by the rules of the fast path
		default:
			b = append(b, "{}"...)
		}
		b = append(b, '}')
	}
	b = append(b, `],"stop_reason":`...)
	reason, seq := rawStopReason(c.finishReason, calls > 0, c.stopReason)
	if !empty(c.refusal) && reason == "end_turn" {
		reason = "refusal"
	}
	b = append(b, '"')
	b = append(b, reason...)
	b = append(b, `","stop_sequence":`...)
	if seq != nil {
		b = appendText(b, seq, false)
	} else {
		b = append(b, "null"...)
	}
	u, _ := openai.ScanUsage(body)
	b = append(b, `,"usage":`...)
	b = appendUsage(b, u, true)
	return append(b, '}'), true
}

// rawStopReason is stopReason for a finish_reason literal (nil: none) and
// a raw stop_reason; the sequence is a literal, nil for none.
func rawStopReason(finish []byte, toolCalls bool, vllmStop []byte) (reason string, sequence []byte) {
	switch {
	case is(finish, "length"):
		return "max_tokens", nil
	case is(finish, "content_filter"):
		return "refusal", nil
	case is(finish, "tool_calls"), is(finish, "function_call"):
		return "tool_use", nil
	}
	if toolCalls {
		return "tool_use", nil
	}
	if isStr(vllmStop) && !empty(vllmStop) {
		return "stop_sequence", vllmStop
	}
	return "end_turn", nil
}

// appendMessageID appends messageID's id, from the completion's id as
// text.
func appendMessageID(dst, chatID []byte, fallback string) []byte {
	const prefix = "chatcmpl-"
	if len(chatID) > len(prefix) && string(chatID[:len(prefix)]) == prefix {
		chatID = chatID[len(prefix):]
	}
	switch {
	case bytes.HasPrefix(chatID, []byte("msg_")):
		return append(dst, chatID...)
	case len(chatID) > 0:
		return append(append(dst, "msg_"...), chatID...)
	case fallback != "":
		return append(append(dst, "msg_"...), fallback...)
	}
	return append(append(dst, "msg_"...), randomID()...)
}
