package ollama

import (
	"strconv"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

var answers = sync.Pool{New: func() any { return new(answer) }}

// releaseAnswer pools a, unless one long answer grew its buffers.
func releaseAnswer(a *answer) {
	if cap(a.content) <= keepBuffer && cap(a.thinking) <= keepBuffer {
		answers.Put(a)
	}
}

// decodeChat turns a whole /api/chat or /api/generate answer into a
// chat.completion.
func decodeChat(c *provider.Call, ids IDs, body, dst []byte) ([]byte, openai.Usage, error) {
	a := answers.Get().(*answer)
	defer releaseAnswer(a)
	if err := a.parse(body); err != nil {
		return nil, openai.Usage{}, invalidResponse(c)
	}
	if a.hasError {
		return nil, openai.Usage{}, errorInBody(c, string(a.errMsg))
	}
	u := a.usage()
	b := append(dst, `{"id":`...)
	b = openai.AppendString(b, ids.make(chatPrefix))
	b = append(b, `,"object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, created(a.createdAt), 10)
	b = append(b, `,"model":`...)
	b = openai.AppendString(b, c.ClientModel)
	b = append(b, `,"system_fingerprint":null,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	calls := a.calls[:a.ncalls]
	if len(a.content) == 0 && len(calls) > 0 {
		b = append(b, "null"...)
	} else {
		b = appendText(b, a.content)
	}
	b = append(b, `,"refusal":null`...)
	if len(calls) > 0 {
		b = append(b, `,"tool_calls":[`...)
		for i := range calls {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendCallID(b, ids, calls[i].id)
			b = append(b, `,"type":"function","function":{"name":`...)
			b = appendText(b, calls[i].name)
			b = append(b, `,"arguments":`...)
			b = appendText(b, calls[i].args)
			b = append(b, "}}"...)
		}
		b = append(b, ']')
	}
	if len(a.thinking) > 0 {
		b = append(b, `,"reasoning_content":`...)
		b = appendText(b, a.thinking)
	}
	b = append(b, `},"logprobs":null,"finish_reason":`...)
	b = openai.AppendString(b, finishReason(a.doneReason, len(calls) > 0))
	b = append(b, `}],"usage":`...)
	b = u.AppendJSON(b)
	return append(b, '}'), u, nil
}

// decodeCompletion turns a whole /api/generate answer into a
// text_completion.
func decodeCompletion(c *provider.Call, ids IDs, body, dst []byte) ([]byte, openai.Usage, error) {
	a := answers.Get().(*answer)
	defer releaseAnswer(a)
	if err := a.parse(body); err != nil {
		return nil, openai.Usage{}, invalidResponse(c)
	}
	if a.hasError {
		return nil, openai.Usage{}, errorInBody(c, string(a.errMsg))
	}
	u := a.usage()
	b := append(dst, `{"id":`...)
	b = openai.AppendString(b, ids.make(completionPrefix))
	b = append(b, `,"object":"text_completion","created":`...)
	b = strconv.AppendInt(b, created(a.createdAt), 10)
	b = append(b, `,"model":`...)
	b = openai.AppendString(b, c.ClientModel)
	b = append(b, `,"choices":[{"text":`...)
	b = appendText(b, a.content)
	b = append(b, `,"index":0,"logprobs":null,"finish_reason":`...)
	b = openai.AppendString(b, finishReason(a.doneReason, false))
	b = append(b, `}],"usage":`...)
	b = u.AppendJSON(b)
	return append(b, '}'), u, nil
}

// appendText appends text as a JSON string.
func appendText(dst, text []byte) []byte {
	return openai.AppendString(dst, string(text))
}

// appendCallID appends Ollama's id for a tool call, or a fresh one.
func appendCallID(dst []byte, ids IDs, id []byte) []byte {
	if len(id) > 0 {
		return appendText(dst, id)
	}
	return openai.AppendString(dst, ids.make(callPrefix))
}
