package ollama

import (
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// buildChat appends the /api/chat body for an OpenAI chat request.
func buildChat(c *provider.Call, p *prepared, dst []byte) ([]byte, error) {
	var s sorted
	if err := sortParams(c, chatRules, &s); err != nil {
		return dst, err
	}
	var in chatInput
	if err := readChat(c, &in); err != nil {
		return dst, err
	}
	if err := checkN(c, in.n); err != nil {
		return dst, err
	}
	if err := checkLogprobs(c, in.logprobs, in.topLogprobs); err != nil {
		return dst, err
	}
	sendTools, err := toolChoice(c, &in)
	if err != nil {
		return dst, err
	}

	b := append(dst, `{"model":`...)
	b = openai.AppendString(b, c.Deployment.Model)
	b = append(b, `,"messages":[`...)
	var scratch []byte
	for i := range in.messages {
		if i > 0 {
			b = append(b, ',')
		}
		if b, scratch, err = appendMessage(c, b, scratch, in.messages, i); err != nil {
			return dst, err
		}
	}
	b = append(b, ']')
	if sendTools && in.tools != nil {
		if b, err = appendTools(c, b, in.tools); err != nil {
			return dst, err
		}
	}
	if b, err = appendCommon(c, p, b, &s, in.responseFormat, in.reasoningEffort); err != nil {
		return dst, err
	}
	return append(b, '}'), nil
}

// appendMessage appends msgs[i] as an Ollama message. scratch is a buffer
// the caller keeps across messages.
func appendMessage(c *provider.Call, b, scratch []byte, msgs []message, i int) ([]byte, []byte, error) {
	m := &msgs[i]
	role := m.role
	switch role {
	case "":
		return b, scratch, provider.BadRequest("messages["+strconv.Itoa(i)+"].role", "unknown message role "+string(m.rawRole))
	case "developer":
		role = "system"
	case "function":
		role = "tool"
	}
	b = append(b, `{"role":"`...)
	b = append(b, role...)
	b = append(b, `","content":`...)
	b, scratch, images, err := appendContent(c, b, scratch, m.content, i)
	if err != nil {
		return b, scratch, err
	}
	if len(images) > 0 {
		b = append(b, `,"images":[`...)
		for k, img := range images {
			if k > 0 {
				b = append(b, ',')
			}
			b = openai.AppendString(b, img)
		}
		b = append(b, ']')
	}
	if m.reasoning != nil && role == "assistant" {
		b = append(b, `,"thinking":`...)
		b = append(b, m.reasoning...)
	}
	if m.toolCalls != nil {
		if b, err = appendToolCalls(b, m.toolCalls, i); err != nil {
			return b, scratch, err
		}
	}
	if role == "tool" {
		if name := toolName(msgs, i); name != nil {
			b = append(b, `,"tool_name":`...)
			b = append(b, name...)
		}
		if m.toolCallID != nil {
			b = append(b, `,"tool_call_id":`...)
			b = append(b, m.toolCallID...)
		}
	}
	return append(b, '}'), scratch, nil
}
