// Package cohere translates the OpenAI surface to Cohere's v2 API, behind
// LiteLLM's `cohere/` and `cohere_chat/` prefixes: chat (POST /v2/chat,
// plain and SSE), embeddings (POST /v2/embed) and rerank (POST /v2/rerank).
//
// Cohere v2 was modelled on OpenAI, so most values (strings, schemas, tool
// arguments, numbers) are the same JSON on both sides: requests are walked
// in place (scan.go) and those values copied, not decoded and encoded again.
// Answers are written by hand, never through encoding/json, and the stream
// decoder reads each event with the same walker, which does not allocate.
package cohere

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// Ops lists what Cohere serves through this package.
var Ops = []provider.Op{provider.OpChat, provider.OpEmbedding, provider.OpRerank}

// Handles reports whether a provider prefix is served by this package:
// LiteLLM routes both `cohere/` and `cohere_chat/` to Cohere's chat API.
func Handles(provider string) bool { return provider == "cohere" || provider == "cohere_chat" }

// defaultBase is cohere-go's default environment.
const defaultBase = "https://api.cohere.com"

// Codec is the provider.Codec of Cohere v2.
type Codec struct {
	// Now stamps the "created" of translated answers; nil means time.Now.
	// Golden tests fix it, since Cohere's answers carry no timestamp.
	Now func() time.Time
}

func (c Codec) created() int64 {
	if c.Now != nil {
		return c.Now().Unix()
	}
	return time.Now().Unix()
}

// prepared is what Prepare computes once per deployment.
type prepared struct {
	chatURL, embedURL, rerankURL string
	headers                      [][2]string
}

// Prepare resolves the deployment's base URL and key the way LiteLLM and
// Cohere's SDKs do (api_base, else COHERE_API_BASE, else CO_API_URL, else
// https://api.cohere.com; api_key, else COHERE_API_KEY, else CO_API_KEY)
// and precomputes its URLs and headers.
func Prepare(d *provider.Deployment, lookupEnv func(string) (string, bool)) error {
	env := func(name string) string {
		if lookupEnv == nil {
			return ""
		}
		s, _ := lookupEnv(name)
		return s
	}
	for _, name := range []string{"COHERE_API_BASE", "CO_API_URL"} {
		if d.APIBase == "" {
			d.APIBase = env(name)
		}
	}
	if d.APIBase == "" {
		d.APIBase = defaultBase
	}
	for _, name := range []string{"COHERE_API_KEY", "CO_API_KEY"} {
		if d.APIKey == "" {
			d.APIKey = provider.Secret(env(name))
		}
	}
	base, err := url.Parse(strings.TrimRight(d.APIBase, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("deployment %q: api_base must be an http(s) URL", d.ModelName)
	}
	root := base.Scheme + "://" + base.Host + trimEndpoint(base.Path)
	query := ""
	if base.RawQuery != "" {
		query = "?" + base.RawQuery
	}
	p := &prepared{
		chatURL:   root + "/v2/chat" + query,
		embedURL:  root + "/v2/embed" + query,
		rerankURL: root + "/v2/rerank" + query,
		headers:   [][2]string{{"Content-Type", "application/json"}},
	}
	if d.APIKey != "" {
		p.headers = append(p.headers, [2]string{"Authorization", "Bearer " + d.APIKey.Reveal()})
	}
	p.headers = append(p.headers, d.Headers...)
	d.Private = p
	return nil
}

// trimEndpoint cuts an API version or endpoint off a configured base path:
// LiteLLM's documentation and older releases use full endpoint URLs as
// api_base (https://api.cohere.ai/v1/chat, …/v2/rerank), and the SDKs'
// CO_API_URL is sometimes set with a version.
func trimEndpoint(path string) string {
	for _, suffix := range []string{"/chat", "/generate", "/embed", "/rerank"} {
		if p, ok := strings.CutSuffix(path, suffix); ok && (strings.HasSuffix(p, "/v1") || strings.HasSuffix(p, "/v2")) {
			path = p
			break
		}
	}
	for _, suffix := range []string{"/v1", "/v2"} {
		if p, ok := strings.CutSuffix(path, suffix); ok {
			return p
		}
	}
	return path
}

// BuildRequest implements provider.Codec.
func (Codec) BuildRequest(c *provider.Call, req *upstream.Request) error {
	p, ok := c.Deployment.Private.(*prepared)
	if !ok {
		return fmt.Errorf("cohere: deployment %q was not prepared", c.Deployment.ID)
	}
	var err error
	switch c.Op {
	case provider.OpChat:
		req.URL = p.chatURL
		req.Body, err = appendChatRequest(req.Body[:0], c)
	case provider.OpEmbedding:
		req.URL = p.embedURL
		req.Body, err = appendEmbedRequest(req.Body[:0], c)
	case provider.OpRerank:
		req.URL = p.rerankURL
		req.Body, err = appendRerankRequest(req.Body[:0], c)
	default:
		return unsupportedOp(c)
	}
	if err != nil {
		return err
	}
	req.Header = append(req.Header, p.headers...)
	if c.Op == provider.OpChat && c.Stream() {
		req.Header = append(req.Header, [2]string{"Accept", "text/event-stream"})
	}
	return nil
}

// DecodeBody implements provider.Codec.
func (k Codec) DecodeBody(c *provider.Call, body, dst []byte) ([]byte, openai.Usage, error) {
	switch c.Op {
	case provider.OpChat:
		return appendChatResponse(dst, c, body, k.created())
	case provider.OpEmbedding:
		return appendEmbedResponse(dst, c, body)
	case provider.OpRerank:
		return appendRerankResponse(dst, c, body)
	}
	return nil, openai.Usage{}, unsupportedOp(c)
}

// NewStreamDecoder implements provider.Codec.
func (k Codec) NewStreamDecoder(c *provider.Call) provider.StreamDecoder {
	return &stream{call: c, created: k.created(), wantUsage: c.ClientWantsUsage()}
}

func unsupportedOp(c *provider.Call) *provider.Error {
	return &provider.Error{Status: 400, Type: "invalid_request_error",
		Message: "cohere does not serve " + c.Op.String() + " requests through this gateway"}
}

// invalidResponse is a 2xx answer that is not what Cohere documents.
func invalidResponse(c *provider.Call, err error) *provider.Error {
	return &provider.Error{Status: 502, Type: "api_error", Code: "upstream_invalid_response",
		Message:   "cohere returned a response that could not be read for model " + c.Deployment.ModelName,
		Retryable: true, MayHaveBeenSent: true, Cause: err}
}
