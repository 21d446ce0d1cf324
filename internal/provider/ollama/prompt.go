package ollama

import (
	"encoding/json"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// buildGenerateChat appends the /api/generate body for a chat request to
// an ollama/ deployment: LiteLLM's "ollama/" prefix renders the messages
// into one prompt (its ollama_pt template) instead of using /api/chat,
// and this keeps that behaviour so a LiteLLM config means the same here.
func buildGenerateChat(c *provider.Call, p *prepared, dst []byte) ([]byte, error) {
	var s sorted
	if err := sortParams(c, generateChatRules, &s); err != nil {
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
	if in.tools != nil && !c.DropParams() {
		return dst, provider.UnsupportedParam(c, "tools",
			"the ollama/ prefix renders the chat into a prompt for /api/generate, which has no tools; use the ollama_chat/ prefix for tool calling")
	}
	prompt, images, err := renderPrompt(c, in.messages)
	if err != nil {
		return dst, err
	}
	b := append(dst, `{"model":`...)
	b = openai.AppendString(b, c.Deployment.Model)
	b = append(b, `,"prompt":`...)
	b = openai.AppendString(b, string(prompt))
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
	if b, err = appendCommon(c, p, b, &s, in.responseFormat, in.reasoningEffort); err != nil {
		return dst, err
	}
	return append(b, '}'), nil
}

// renderPrompt renders messages the way LiteLLM's ollama_pt does: runs of
// user and tool messages become one "### User:" block, runs of system
// messages one "### System:" block, runs of assistant messages one
// "### Assistant:" block (with their tool calls as JSON); images are
// collected for the request's "images".
func renderPrompt(c *provider.Call, msgs []message) ([]byte, []string, error) {
	var b, text []byte
	var images []string
	var err error
	for i := 0; i < len(msgs); {
		start := i
		for text = text[:0]; i < len(msgs) && isUserTurn(msgs[i].role); i++ {
			if text, images, err = collectParts(c, text, images, msgs[i].content, i); err != nil {
				return nil, nil, err
			}
		}
		b = block(b, "User", text)
		for text = text[:0]; i < len(msgs) && isSystem(msgs[i].role); i++ {
			if text, images, err = collectParts(c, text, images, msgs[i].content, i); err != nil {
				return nil, nil, err
			}
		}
		b = block(b, "System", text)
		for text = text[:0]; i < len(msgs) && msgs[i].role == "assistant"; i++ {
			if text, images, err = collectParts(c, text, images, msgs[i].content, i); err != nil {
				return nil, nil, err
			}
			if text, err = appendCallsText(text, &msgs[i], i); err != nil {
				return nil, nil, err
			}
		}
		b = block(b, "Assistant", text)
		if i == start {
			return nil, nil, provider.BadRequest("messages["+strconv.Itoa(i)+"].role", "unknown message role "+string(msgs[i].rawRole))
		}
	}
	return b, images, nil
}

func isUserTurn(role string) bool { return role == "user" || role == "tool" || role == "function" }
func isSystem(role string) bool   { return role == "system" || role == "developer" }

func block(b []byte, name string, text []byte) []byte {
	if len(text) == 0 {
		return b
	}
	b = append(b, "### "...)
	b = append(b, name...)
	b = append(b, ":\n"...)
	b = append(b, text...)
	return append(b, "\n\n"...)
}

// appendCallsText renders an assistant's tool calls into the prompt as
// LiteLLM does ("Tool Calls: " and the calls as indented JSON).
func appendCallsText(text []byte, m *message, i int) ([]byte, error) {
	if m.toolCalls == nil {
		return text, nil
	}
	type fn struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	type rendered struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function fn     `json:"function"`
	}
	var calls []rendered
	e := openArray(m.toolCalls)
	for k := 0; ; k++ {
		v, ok := e.next()
		if !ok {
			break
		}
		tc, ok := readCall(v)
		args, argsOK := appendArguments(nil, tc.args)
		if !ok || !argsOK {
			return text, provider.BadRequest("messages["+strconv.Itoa(i)+"].tool_calls["+strconv.Itoa(k)+"].function.arguments", "tool call arguments must be a JSON object")
		}
		calls = append(calls, rendered{ID: string(unquoteTo(nil, tc.id)), Type: "function",
			Function: fn{Name: string(unquoteTo(nil, tc.name)), Arguments: args}})
	}
	if e.err != nil || len(calls) == 0 {
		return text, nil
	}
	js, err := json.MarshalIndent(calls, "", "  ")
	if err != nil {
		return text, provider.BadRequest("messages["+strconv.Itoa(i)+"].tool_calls", err.Error())
	}
	text = append(text, "Tool Calls: "...)
	return append(text, js...), nil
}
