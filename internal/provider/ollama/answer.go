package ollama

import (
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
)

// answer is one object Ollama sends back: a whole non-streamed response or
// one NDJSON line of a stream, from /api/chat (fields under "message") or
// /api/generate (the same fields at the top level, the text in
// "response"). Its buffers are reused from one line to the next.
type answer struct {
	content    []byte // message.content or response, unescaped
	thinking   []byte // message.thinking or thinking, unescaped
	calls      []toolCall
	ncalls     int
	createdAt  []byte // the raw inside of created_at
	doneReason []byte // the raw inside of done_reason
	done       bool
	promptEval int64
	eval       int64
	hasCounts  bool
	hasError   bool
	errMsg     []byte // error, unescaped (or the raw value if not a string)
}

// toolCall is one of Ollama's tool calls, always whole.
type toolCall struct {
	id   []byte // unescaped; "" when Ollama gave none
	name []byte // unescaped
	args []byte // a JSON object, raw
}

func (a *answer) reset() {
	a.content, a.thinking = a.content[:0], a.thinking[:0]
	a.ncalls = 0
	a.createdAt, a.doneReason, a.errMsg = nil, nil, a.errMsg[:0]
	a.done, a.hasCounts, a.hasError = false, false, false
	a.promptEval, a.eval = 0, 0
}

// parse reads one Ollama object.
func (a *answer) parse(b []byte) error {
	a.reset()
	m := openObject(b)
	for {
		k, ok := m.key()
		if !ok {
			break
		}
		if string(k) == "message" && m.isObject() {
			sub := m.enter()
			if err := a.parseMessage(&sub); err != nil {
				return err
			}
			m.leave(&sub)
			continue
		}
		v, ok := m.value()
		if !ok {
			break
		}
		switch string(k) {
		case "response":
			if isString(v) {
				a.content = appendUnquoted(a.content, v)
			}
		case "thinking":
			if isString(v) {
				a.thinking = appendUnquoted(a.thinking, v)
			}
		case "tool_calls":
			if err := a.parseCalls(v); err != nil {
				return err
			}
		case "done":
			a.done = string(v) == "true"
		case "done_reason":
			if isString(v) {
				a.doneReason = v[1 : len(v)-1]
			}
		case "created_at":
			if isString(v) {
				a.createdAt = v[1 : len(v)-1]
			}
		case "prompt_eval_count":
			a.promptEval, _ = parseCount(v)
			a.hasCounts = true
		case "eval_count":
			a.eval, _ = parseCount(v)
			a.hasCounts = true
		case "error":
			if isNull(v) {
				continue
			}
			a.hasError = true
			if isString(v) {
				a.errMsg = appendUnquoted(a.errMsg, v)
			} else {
				a.errMsg = append(a.errMsg, v...)
			}
		}
	}
	return m.err
}

func (a *answer) parseMessage(m *members) error {
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case "content":
			if isString(v) {
				a.content = appendUnquoted(a.content, v)
			}
		case "thinking":
			if isString(v) {
				a.thinking = appendUnquoted(a.thinking, v)
			}
		case "tool_calls":
			if err := a.parseCalls(v); err != nil {
				return err
			}
		}
	}
	return m.err
}

func (a *answer) parseCalls(v []byte) error {
	if isNull(v) {
		return nil
	}
	e := openArray(v)
	for {
		item, ok := e.next()
		if !ok {
			break
		}
		if a.ncalls == len(a.calls) {
			a.calls = append(a.calls, toolCall{})
		}
		tc := &a.calls[a.ncalls]
		tc.id, tc.name, tc.args = tc.id[:0], tc.name[:0], nil
		if err := tc.parse(item); err != nil {
			return err
		}
		a.ncalls++
	}
	return e.err
}

var emptyArgs = []byte("{}")

func (tc *toolCall) parse(v []byte) error {
	m := openObject(v)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case "id":
			if isString(v) {
				tc.id = appendUnquoted(tc.id, v)
			}
		case "function":
			f := openObject(v)
			for {
				k, v, ok := f.next()
				if !ok {
					break
				}
				switch string(k) {
				case "name":
					if isString(v) {
						tc.name = appendUnquoted(tc.name, v)
					}
				case "arguments":
					tc.args = v
				}
			}
			if f.err != nil {
				return f.err
			}
		}
	}
	if m.err != nil {
		return m.err
	}
	switch {
	case len(tc.args) == 0 || isNull(tc.args):
		tc.args = emptyArgs
	case tc.args[0] != '{':
		// Arguments are an object on Ollama's wire; anything else cannot
		// be what the model meant to call with.
		return errSyntax
	}
	return nil
}

// finishReason maps Ollama's done_reason (stop, length, load, unload) to
// OpenAI's, as LiteLLM does: length stays, tool calls win over stop, and
// anything else is stop.
func finishReason(doneReason []byte, sawCalls bool) string {
	switch {
	case string(doneReason) == "length":
		return "length"
	case sawCalls:
		return "tool_calls"
	}
	return "stop"
}

// usage is the answer's token counts in OpenAI terms. Ollama reports no
// cache or reasoning split: prompt_eval_count is the prompt, eval_count
// the output (thinking included).
func (a *answer) usage() openai.Usage {
	return openai.Usage{PromptTokens: a.promptEval, CompletionTokens: a.eval, TotalTokens: a.promptEval + a.eval}
}

// created is created_at as Unix seconds, or now when it is missing or
// unreadable.
func created(raw []byte) int64 {
	if len(raw) > 0 {
		if t, err := time.Parse(time.RFC3339Nano, string(raw)); err == nil {
			return t.Unix()
		}
	}
	return time.Now().Unix()
}
