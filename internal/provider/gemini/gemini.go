// Package gemini translates the OpenAI chat and embeddings API to Google's
// Gemini models, on the Gemini API (the "gemini/" prefix: an API key,
// generativelanguage.googleapis.com) and on Vertex AI ("vertex_ai/": a
// service account, {location}-aiplatform.googleapis.com). Both speak the
// same GenerateContent body; they differ in URL and authentication (an
// x-goog-api-key header, or an OAuth access token added by a Signer).
package gemini

import (
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// Ops are the operations the Gemini providers serve.
var Ops = []provider.Op{provider.OpChat, provider.OpEmbedding}

// Handles reports whether this package serves model on provider. Vertex AI
// also hosts partner models (Claude, Llama, Mistral) with their own wire
// formats; only Google's Gemini family and its embedding models are
// translated here.
func Handles(providerName, model string) bool {
	switch providerName {
	case "gemini":
		return true
	case "vertex_ai":
		m := strings.TrimPrefix(model, "gemini/")
		return strings.HasPrefix(m, "gemini") || strings.HasPrefix(m, "gemma") || strings.HasPrefix(m, "learnlm") ||
			strings.Contains(m, "embedding") || isEndpointID(m)
	}
	return false
}

// Codec is the provider.Codec of both Gemini schemes. The zero value is
// ready; tests pin its clock and ids.
type Codec struct {
	clock func() int64  // "created", in Unix seconds
	ids   func() string // completion ids when Gemini gives no responseId
}

func (cd Codec) now() int64 {
	if cd.clock != nil {
		return cd.clock()
	}
	return time.Now().Unix()
}

// base is what completion and tool call ids are made of: Gemini's
// responseId (a raw JSON string body), or a fresh random one.
func (cd Codec) base(responseID []byte) string {
	switch {
	case len(responseID) > 0:
		return string(responseID)
	case cd.ids != nil:
		return cd.ids()
	}
	return openai.NewCompletionID()[len("chatcmpl-"):]
}

func prep(c *provider.Call) (*prepared, error) {
	p, ok := c.Deployment.Private.(*prepared)
	if !ok {
		return nil, fmt.Errorf("gemini: deployment %q was not prepared", c.Deployment.ID)
	}
	return p, nil
}

// BuildRequest implements provider.Codec.
func (Codec) BuildRequest(c *provider.Call, req *upstream.Request) error {
	p, err := prep(c)
	if err != nil {
		return err
	}
	req.Header = append(req.Header, p.headers...)
	switch c.Op {
	case provider.OpChat:
		req.URL = p.chatURL
		if c.Stream() {
			req.URL = p.streamURL
		}
		req.Body, err = buildChat(c, p, req.Body[:0])
	case provider.OpEmbedding:
		req.URL = p.embedURL
		req.Body, err = buildEmbedding(c, p, req.Body[:0])
	default:
		return provider.BadRequest("", c.Deployment.Provider+" does not serve "+c.Op.String())
	}
	return err
}

// DecodeBody implements provider.Codec.
func (cd Codec) DecodeBody(c *provider.Call, body, dst []byte) ([]byte, openai.Usage, error) {
	if c.Op == provider.OpEmbedding {
		return decodeEmbedding(c, body, dst)
	}
	return cd.decodeChat(c, body, dst)
}

// NewStreamDecoder implements provider.Codec.
func (cd Codec) NewStreamDecoder(c *provider.Call) provider.StreamDecoder {
	return &stream{codec: cd, call: c, wantUsage: c.ClientWantsUsage()}
}
