// Package ollama translates the OpenAI API to Ollama's native API, for
// LiteLLM's "ollama/" and "ollama_chat/" prefixes: chat through /api/chat
// (ollama_chat/) or through a rendered prompt on /api/generate (ollama/,
// as LiteLLM does), legacy completions through /api/generate and
// embeddings through /api/embed. Ollama streams NDJSON, one JSON object
// per line, which the package reads itself and turns into OpenAI SSE.
package ollama

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// Ops are the operations Ollama's native API serves.
var Ops = []provider.Op{provider.OpChat, provider.OpCompletion, provider.OpEmbedding}

// DefaultBase is where a local Ollama listens.
const DefaultBase = "http://localhost:11434"

// Codec is the provider.FramedCodec of Ollama's native API.
type Codec struct {
	// IDs makes completion and tool call ids; nil makes random ones.
	IDs IDs
}

var _ provider.FramedCodec = Codec{}

// prepared is what Prepare computes once per deployment.
type prepared struct {
	chatURL, generateURL, embedURL string
	// chatViaGenerate: the ollama/ prefix, whose chats LiteLLM renders
	// into a prompt for /api/generate.
	chatViaGenerate bool
	headers         [][2]string
	keepAlive       []byte   // the deployment's keep_alive, raw JSON
	options         []option // the deployment's model options (num_ctx, ...)
}

// Prepare resolves a deployment's base URL and key as LiteLLM does
// (api_base, else OLLAMA_API_BASE, else the local default; api_key, else
// OLLAMA_API_KEY, sent as a bearer token to hosted Ollama) and precomputes
// its URLs, headers and per-deployment settings (keep_alive and model
// options from litellm_params).
func Prepare(d *provider.Deployment, lookupEnv func(string) (string, bool)) error {
	if d.Provider != "ollama" && d.Provider != "ollama_chat" {
		return fmt.Errorf("provider %q is not Ollama", d.Provider)
	}
	env := func(name string) string {
		if lookupEnv == nil {
			return ""
		}
		s, _ := lookupEnv(name)
		return s
	}
	if d.APIBase == "" {
		d.APIBase = env("OLLAMA_API_BASE")
	}
	if d.APIBase == "" {
		d.APIBase = DefaultBase
	}
	if d.APIKey == "" {
		d.APIKey = provider.Secret(env("OLLAMA_API_KEY"))
	}
	base, err := url.Parse(strings.TrimSpace(d.APIBase))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("deployment %q: api_base must be an http(s) URL", d.ModelName)
	}
	root := base.Scheme + "://" + base.Host + nativeRoot(base.Path)
	query := ""
	if base.RawQuery != "" {
		query = "?" + base.RawQuery
	}
	p := &prepared{
		chatURL: root + "/api/chat" + query, generateURL: root + "/api/generate" + query, embedURL: root + "/api/embed" + query,
		chatViaGenerate: d.Provider == "ollama",
	}
	p.headers = append(p.headers, [2]string{"Content-Type", "application/json"})
	if d.APIKey != "" {
		p.headers = append(p.headers, [2]string{"Authorization", "Bearer " + d.APIKey.Reveal()})
	}
	p.headers = append(p.headers, d.Headers...)
	if err := p.readExtra(d); err != nil {
		return err
	}
	d.Private = p
	return nil
}

// nativeRoot is the path below which Ollama's /api lives. LiteLLM takes
// api_base with or without an endpoint on it (".../api/chat"), and
// configs written for Ollama's OpenAI-compatible surface end in "/v1";
// both are cut back to the server's root.
func nativeRoot(path string) string {
	path = strings.TrimRight(path, "/")
	for _, suffix := range []string{"/api/chat", "/api/generate", "/api/embed", "/api/embeddings", "/api", "/v1"} {
		if strings.HasSuffix(path, suffix) {
			return strings.TrimSuffix(path, suffix)
		}
	}
	return path
}

// ExtraOptions are the litellm_params keys an Ollama deployment reads as
// default model options, as LiteLLM's OllamaConfig takes them.
var ExtraOptions = []string{
	"num_ctx", "num_predict", "num_gpu", "num_thread", "num_gqa", "num_keep",
	"mirostat", "mirostat_eta", "mirostat_tau", "repeat_last_n", "repeat_penalty", "tfs_z",
}

// readExtra reads keep_alive and the default options from litellm_params.
func (p *prepared) readExtra(d *provider.Deployment) error {
	if v, ok := d.Extra["keep_alive"]; ok && v != nil {
		switch v.(type) {
		case string, int, int64, float64:
		default:
			return fmt.Errorf("deployment %q: keep_alive must be a duration such as \"5m\" or a number of seconds", d.ModelName)
		}
		p.keepAlive, _ = json.Marshal(v)
	}
	for _, name := range ExtraOptions {
		v, ok := d.Extra[name]
		if !ok || v == nil {
			continue
		}
		switch v.(type) {
		case int, int64, float64:
		default:
			return fmt.Errorf("deployment %q: %s must be a number", d.ModelName, name)
		}
		raw, _ := json.Marshal(v)
		p.options = append(p.options, option{name: name, val: raw, rank: rankDeployment})
	}
	return nil
}

func prep(c *provider.Call) (*prepared, error) {
	p, ok := c.Deployment.Private.(*prepared)
	if !ok {
		return nil, fmt.Errorf("ollama: deployment %q was not prepared", c.Deployment.ID)
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
	switch {
	case c.Op == provider.OpChat && p.chatViaGenerate:
		req.URL = p.generateURL
		req.Body, err = buildGenerateChat(c, p, req.Body[:0])
	case c.Op == provider.OpChat:
		req.URL = p.chatURL
		req.Body, err = buildChat(c, p, req.Body[:0])
	case c.Op == provider.OpCompletion:
		req.URL = p.generateURL
		req.Body, err = buildCompletion(c, p, req.Body[:0])
	case c.Op == provider.OpEmbedding:
		req.URL = p.embedURL
		req.Body, err = buildEmbed(c, p, req.Body[:0])
	default:
		return &provider.Error{Status: 400, Type: "invalid_request_error", Code: "unsupported_operation",
			Message: c.Deployment.Provider + " does not serve " + c.Op.String() + " requests"}
	}
	return err
}

// DecodeBody implements provider.Codec.
func (k Codec) DecodeBody(c *provider.Call, body, dst []byte) ([]byte, openai.Usage, error) {
	switch c.Op {
	case provider.OpCompletion:
		return decodeCompletion(c, k.IDs, body, dst)
	case provider.OpEmbedding:
		return decodeEmbed(c, body, dst)
	}
	return decodeChat(c, k.IDs, body, dst)
}

// NewStreamDecoder implements provider.Codec.
func (k Codec) NewStreamDecoder(c *provider.Call) provider.StreamDecoder { return newStream(c, k.IDs) }

// NewEventReader implements provider.FramedCodec: Ollama streams NDJSON.
func (Codec) NewEventReader(body io.Reader) provider.EventReader { return newLineReader(body) }
