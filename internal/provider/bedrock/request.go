package bedrock

import (
	"fmt"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// BuildRequest implements provider.Codec.
func (Codec) BuildRequest(c *provider.Call, req *upstream.Request) error {
	p, ok := c.Deployment.Private.(*prepared)
	if !ok {
		return fmt.Errorf("bedrock: deployment %q was not prepared", c.Deployment.ID)
	}
	req.Header = append(req.Header, p.headers...)
	switch c.Op {
	case provider.OpChat:
		req.URL = p.converse
		if c.Stream() {
			req.URL = p.stream
			req.Header = append(req.Header, [2]string{"Accept", "application/vnd.amazon.eventstream"})
		} else {
			req.Header = append(req.Header, [2]string{"Accept", "application/json"})
		}
		body, err := buildConverse(c, p, req.Body[:0])
		if err != nil {
			return err
		}
		req.Body = body
		return nil
	case provider.OpEmbedding:
		req.URL = p.invoke
		req.Header = append(req.Header, [2]string{"Accept", "application/json"})
		body, err := buildEmbedding(c, p, req.Body[:0])
		if err != nil {
			return err
		}
		req.Body = body
		return nil
	}
	return provider.BadRequest("", "bedrock does not serve "+c.Op.String()+" requests")
}

// buildConverse writes the Converse request for an OpenAI chat request.
func buildConverse(c *provider.Call, p *prepared, dst []byte) ([]byte, error) {
	if err := provider.SortParams(c, chatParamKind, nil); err != nil {
		return nil, err
	}
	params := readChatParams(c.Body)
	if !rawjson.IsArray(params.messages) {
		return nil, provider.BadRequest("messages", "messages must be an array of messages")
	}
	if err := params.checkValues(c, p.family); err != nil {
		return nil, err
	}
	think, err := thinkingFor(&params, p.family)
	if err != nil {
		return nil, err
	}
	rf, err := readResponseFormat(params.responseFormat)
	if err != nil {
		return nil, err
	}

	w := msgWriter{out: append(dst, `{"messages":[`...)}
	if err := w.messages(params.messages); err != nil {
		return nil, err
	}
	if w.role != "" {
		w.out = append(w.out, "]}"...)
	}
	w.out = append(w.out, ']')
	if w.role == "" {
		return nil, provider.BadRequest("messages", "bedrock needs at least one user or assistant message with content")
	}
	out := w.out
	if out, err = appendSystem(out, params.messages); err != nil {
		return nil, err
	}
	out = appendInferenceConfig(out, &params, think)
	if out, err = appendToolConfig(out, &params, rf, think.enabled(), w.toolBlocks); err != nil {
		return nil, err
	}
	out = appendAdditionalFields(out, &params, p.family, think)
	for i, v := range params.native {
		if v == nil || i == additionalFieldsIndex {
			continue
		}
		out = append(out, ',', '"')
		out = append(out, nativeMembers[i]...)
		out = append(out, '"', ':')
		out = append(out, v...)
	}
	return append(out, '}'), nil
}
