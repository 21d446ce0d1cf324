package messages

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/openai"
)

// chatResponse is the part of a chat.completion FromChat reads.
type chatResponse struct {
	ID      string          `json:"id"`
	Choices []chatChoice    `json:"choices"`
	Error   json.RawMessage `json:"error"`
}

type chatChoice struct {
	Message struct {
		openai.ResponseMessage
		// Reasoning is the reasoning text under the name OpenRouter and
		// newer vLLM use.
		Reasoning string `json:"reasoning"`
	} `json:"message"`
	FinishReason string `json:"finish_reason"`
	// StopReason is vLLM's: the stop string that ended the answer (or a
	// token id, or null), which is how Anthropic's stop_sequence can be
	// known at all.
	StopReason json.RawMessage `json:"stop_reason"`
}

// UpstreamError is a 2xx chat answer that carries an error instead of a
// completion; the server answers it as a 502.
type UpstreamError struct{ Message string }

func (e *UpstreamError) Error() string { return e.Message }

// FromChat converts an OpenAI chat.completion body into an Anthropic
// message. model is the name the client asked for, which Anthropic echoes;
// requestID names the message if the completion has no id.
func FromChat(body []byte, model, requestID string) ([]byte, error) {
	if out, ok := fromChatFast(body, model, requestID); ok {
		return out, nil
	}
	return fromChatSlow(body, model, requestID)
}

// fromChatSlow is FromChat with encoding/json: the reference the fast path
// writes the same bytes as, and what answers the completions it gives up
// on (failures above all, whose messages encoding/json words).
func fromChatSlow(body []byte, model, requestID string) ([]byte, error) {
	var r chatResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, &UpstreamError{Message: "the upstream answer is not a chat completion: " + err.Error()}
	}
	if msg, _, _, ok := openAIError(r.Error); ok && len(r.Choices) == 0 {
		return nil, &UpstreamError{Message: msg}
	}
	if len(r.Choices) == 0 {
		return nil, &UpstreamError{Message: "the upstream answer has no choices"}
	}
	c := &r.Choices[0]
	m := &c.Message

	b := make([]byte, 0, 256+len(body))
	id := messageID(r.ID, requestID)
	b = append(b, `{"id":`...)
	b = openai.AppendString(b, id)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = openai.AppendString(b, model)
	b = append(b, `,"content":[`...)
	n := 0
	sep := func() {
		if n > 0 {
			b = append(b, ',')
		}
		n++
	}
	thinking := false
	for _, tb := range m.ThinkingBlocks {
		if !isThinkingBlock(tb) {
			continue
		}
		sep()
		b = appendCompact(b, tb)
		thinking = true
	}
	if rc := firstNonEmpty(m.ReasoningContent, m.Reasoning); !thinking && rc != "" {
		// Unsigned: Anthropic would refuse it back, but only a Claude model
		// checks, and this reasoning did not come from one.
		sep()
		b = append(b, `{"type":"thinking","thinking":`...)
		b = openai.AppendString(b, rc)
		b = append(b, `,"signature":""}`...)
	}
	if m.Content != nil && *m.Content != "" {
		sep()
		b = append(b, `{"type":"text","text":`...)
		b = openai.AppendString(b, *m.Content)
		b = append(b, '}')
	}
	if m.Refusal != nil && *m.Refusal != "" {
		sep()
		b = append(b, `{"type":"text","text":`...)
		b = openai.AppendString(b, *m.Refusal)
		b = append(b, '}')
	}
	for i := range m.ToolCalls {
		tc := &m.ToolCalls[i]
		sep()
		b = append(b, `{"type":"tool_use","id":`...)
		b = openai.AppendString(b, toolID(tc.ID, id, i))
		b = append(b, `,"name":`...)
		b = openai.AppendString(b, tc.Function.Name)
		b = append(b, `,"input":`...)
		b = appendToolInput(b, tc.Function.Arguments)
		b = append(b, '}')
	}
	b = append(b, `],"stop_reason":`...)
	reason, seq := stopReason(c.FinishReason, len(m.ToolCalls) > 0, c.StopReason)
	if m.Refusal != nil && *m.Refusal != "" && reason == "end_turn" {
		reason = "refusal"
	}
	b = openai.AppendString(b, reason)
	b = append(b, `,"stop_sequence":`...)
	b = appendStringOrNull(b, seq)
	u, _ := openai.ScanUsage(body)
	b = append(b, `,"usage":`...)
	b = appendUsage(b, u, true)
	return append(b, '}'), nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// isThinkingBlock: only Anthropic's two thinking block types are content
// an Anthropic client can take.
func isThinkingBlock(raw json.RawMessage) bool {
	var t struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(raw, &t) == nil && (t.Type == "thinking" || t.Type == "redacted_thinking")
}

func appendCompact(dst []byte, raw json.RawMessage) []byte {
	buf := bytes.NewBuffer(dst)
	if json.Compact(buf, raw) != nil {
		return append(dst, raw...)
	}
	return buf.Bytes()
}

// appendToolInput writes a tool call's arguments as Anthropic's input
// object. Arguments that are not a JSON object (a model that produced
// broken JSON, or a call cut off by max_tokens) become {}: the block
// stays valid for the client, and the stop_reason tells it what happened,
// as Anthropic's own SDK does with a cut-off input.
func appendToolInput(dst []byte, args string) []byte {
	raw := bytes.TrimSpace([]byte(args))
	if len(raw) == 0 || raw[0] != '{' || !json.Valid(raw) {
		return append(dst, "{}"...)
	}
	return appendCompact(dst, raw)
}

// stopReason maps OpenAI's finish_reason (and vLLM's stop_reason) to
// Anthropic's stop_reason and stop_sequence. A turn with tool calls is
// "tool_use" unless it was cut off: clients such as Claude Code run the
// tools only on tool_use, and some providers say "stop" after calls.
func stopReason(finish string, toolCalls bool, vllmStop json.RawMessage) (reason, sequence string) {
	switch finish {
	case "length":
		return "max_tokens", ""
	case "content_filter":
		return "refusal", ""
	case "tool_calls", "function_call":
		return "tool_use", ""
	}
	if toolCalls {
		return "tool_use", ""
	}
	if len(vllmStop) > 0 && vllmStop[0] == '"' {
		var s string
		if json.Unmarshal(vllmStop, &s) == nil && s != "" {
			return "stop_sequence", s
		}
	}
	return "end_turn", ""
}

func appendStringOrNull(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return openai.AppendString(dst, s)
}

// appendUsage writes Anthropic's usage object. OpenAI's prompt_tokens
// include cache reads and writes; Anthropic counts them apart, so
// input_tokens is what is left. withInput false leaves input and cache
// counters out, for a stream that never learned them ("no update" to an
// Anthropic client, where 0 would overwrite).
func appendUsage(dst []byte, u openai.Usage, withInput bool) []byte {
	dst = append(dst, '{')
	if withInput {
		in := max(u.PromptTokens-u.CachedTokens-u.CacheWriteTokens, 0)
		dst = append(dst, `"input_tokens":`...)
		dst = strconv.AppendInt(dst, in, 10)
		dst = append(dst, `,"cache_creation_input_tokens":`...)
		dst = strconv.AppendInt(dst, max(u.CacheWriteTokens, 0), 10)
		dst = append(dst, `,"cache_read_input_tokens":`...)
		dst = strconv.AppendInt(dst, max(u.CachedTokens, 0), 10)
		dst = append(dst, ',')
	}
	dst = append(dst, `"output_tokens":`...)
	dst = strconv.AppendInt(dst, max(u.CompletionTokens, 0), 10)
	return append(dst, '}')
}

// messageID derives Anthropic's "msg_…" id from the completion's id (or
// is the id, when the answer came from Anthropic), so logs on both sides
// can be matched; without one it is made from fallback
// (the gateway's request id), or at random.
func messageID(chatID, fallback string) string {
	const prefix = "chatcmpl-"
	if len(chatID) > len(prefix) && chatID[:len(prefix)] == prefix {
		chatID = chatID[len(prefix):]
	}
	switch {
	case strings.HasPrefix(chatID, "msg_"):
		// Anthropic's own id, kept by the translator.
		return chatID
	case chatID != "":
		return "msg_" + chatID
	case fallback != "":
		return "msg_" + fallback
	}
	return "msg_" + randomID()
}

// toolID is the tool_use id: the call's own, or one made from the message
// id and the call's position for providers that send none.
func toolID(id, msgID string, i int) string {
	if id != "" {
		return id
	}
	return "toolu_" + strings.TrimPrefix(msgID, "msg_") + "_" + strconv.Itoa(i)
}

func randomID() string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 24)
	for i := range b {
		b[i] = digits[rand.IntN(len(digits))]
	}
	return string(b)
}
