// Package openaicompat serves OpenAI and every provider that speaks its API
// (Azure, OpenRouter, Groq, Mistral, DeepSeek, vLLM, ...). Requests are
// forwarded as the client's original bytes with in-place patches (the model
// name, and stream_options.include_usage so usage is always known); answers
// are relayed as received, with usage tapped on the way through. Nothing is
// decoded and re-encoded.
package openaicompat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// Ops lists the operations OpenAI-compatible upstreams serve. Whether a given
// vendor implements one is the vendor's answer (a 404 from it is relayed).
var Ops = []provider.Op{
	provider.OpChat, provider.OpCompletion, provider.OpEmbedding, provider.OpImageGeneration,
	provider.OpSpeech, provider.OpTranscription, provider.OpTranslation, provider.OpModeration, provider.OpRerank,
}

// Codec is the provider.Codec of the OpenAI-compatible family.
type Codec struct{}

// prepared is what Prepare computes once per deployment so that building a
// request is a copy of ready strings.
type prepared struct {
	urls    [9]string
	headers [][2]string
}

// Prepare resolves a deployment's defaults (base URL, key and API version from
// the deployment, then LiteLLM's environment variables, then the vendor's
// default) and precomputes its URLs and headers. It reports configuration
// that cannot work.
func Prepare(d *provider.Deployment, lookupEnv func(string) (string, bool)) error {
	v, ok := vendors[d.Provider]
	if !ok {
		return fmt.Errorf("provider %q is not OpenAI-compatible", d.Provider)
	}
	env := func(name string) string {
		if name == "" || lookupEnv == nil {
			return ""
		}
		s, _ := lookupEnv(name)
		return s
	}
	if d.APIBase == "" {
		d.APIBase = env(v.baseEnv)
	}
	if d.APIBase == "" && d.Provider == "openai" {
		d.APIBase = env("OPENAI_API_BASE")
	}
	if d.APIBase == "" {
		d.APIBase = v.defaultBase
	}
	if d.APIBase == "" {
		return fmt.Errorf("deployment %q: provider %s needs api_base (or %s)", d.ModelName, d.Provider, v.baseEnv)
	}
	if d.APIKey == "" {
		d.APIKey = provider.Secret(env(v.keyEnv))
	}
	base, err := url.Parse(strings.TrimRight(d.APIBase, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("deployment %q: api_base must be an http(s) URL", d.ModelName)
	}
	root := base.Scheme + "://" + base.Host + base.Path
	p := &prepared{}
	p.headers = append(p.headers, [2]string{"Content-Type", "application/json"})
	if v.azure {
		if d.APIVersion == "" {
			d.APIVersion = env("AZURE_API_VERSION")
		}
		if d.APIVersion == "" {
			d.APIVersion = defaultAzureAPIVersion
		}
		if d.APIKey != "" {
			p.headers = append(p.headers, [2]string{"api-key", d.APIKey.Reveal()})
		}
	} else if d.APIKey != "" {
		p.headers = append(p.headers, [2]string{"Authorization", "Bearer " + d.APIKey.Reveal()})
	}
	if d.Organization != "" {
		p.headers = append(p.headers, [2]string{"OpenAI-Organization", d.Organization})
	}
	p.headers = append(p.headers, d.Headers...)
	for op := provider.OpChat; op <= provider.OpRerank; op++ {
		p.urls[op] = opURL(v, root, base.RawQuery, d, op)
	}
	d.Private = p
	return nil
}

// opURL builds the upstream URL of op. Azure's classic scheme names the
// deployment in the path and wants api-version; its v1 scheme (a base ending
// in /openai/v1) is plain OpenAI.
func opURL(v vendor, root, query string, d *provider.Deployment, op provider.Op) string {
	u := root + "/" + op.Path()
	if v.azure && !strings.HasSuffix(root, "/openai/v1") {
		u = root + "/openai/deployments/" + url.PathEscape(d.Model) + "/" + op.Path()
		q := url.Values{}
		if query != "" {
			q, _ = url.ParseQuery(query)
		}
		q.Set("api-version", d.APIVersion)
		return u + "?" + q.Encode()
	}
	if query != "" {
		u += "?" + query
	}
	return u
}

// BuildRequest implements provider.Codec.
func (Codec) BuildRequest(c *provider.Call, req *upstream.Request) error {
	p, ok := c.Deployment.Private.(*prepared)
	if !ok {
		return fmt.Errorf("openaicompat: deployment %q was not prepared", c.Deployment.ID)
	}
	req.URL = p.urls[c.Op]
	contentTypeAt := len(req.Header) // p.headers starts with Content-Type
	req.Header = append(req.Header, p.headers...)
	if !c.Op.JSONBody() {
		body, ct, err := patchMultipartModel(c.Body, c.ContentType, c.Deployment.Model)
		if err != nil {
			return &provider.Error{Status: 400, Type: "invalid_request_error", Message: "invalid multipart body: " + err.Error(), Cause: err}
		}
		req.Body = body
		// The multipart Content-Type (with its boundary) replaces the JSON one.
		req.Header[contentTypeAt][1] = ct
		return nil
	}
	forceUsage := c.Op == provider.OpChat || c.Op == provider.OpCompletion
	req.Body = c.Envelope.AppendPatched(req.Body[:0], c.Body, c.Deployment.Model, forceUsage)
	return nil
}

// DecodeBody implements provider.Codec: the body goes to the client as it is.
func (Codec) DecodeBody(c *provider.Call, body, _ []byte) ([]byte, openai.Usage, error) {
	if c.Op.JSONBody() && c.Op != provider.OpSpeech && !looksLikeJSONObject(body) {
		return nil, openai.Usage{}, &provider.Error{Status: 502, Type: "api_error", Code: "upstream_invalid_response",
			Message: c.Deployment.Provider + " returned a response that is not a JSON object", Retryable: true, MayHaveBeenSent: true}
	}
	if pricedByUnit(c.Op) {
		return body, mediaUsage(c.Op, body), nil
	}
	u, ok := openai.ScanUsage(body)
	if !ok && countsTokens(c.Op) {
		u = estimateBody(c, body)
	}
	return body, u, nil
}

func looksLikeJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// NewStreamDecoder implements provider.Codec.
func (Codec) NewStreamDecoder(c *provider.Call) provider.StreamDecoder {
	s := streams.Get().(*stream)
	*s = stream{call: c, wantUsage: c.ClientWantsUsage(), text: s.text[:0]}
	return s
}

// stream relays chat.completion.chunk / text_completion events unchanged,
// taps usage, and drops the usage-only chunk the gateway asked for on its
// own account when the client did not. It is pooled with its text buffer.
type stream struct {
	call      *provider.Call
	wantUsage bool
	hasUsage  bool
	usage     openai.Usage
	// text is the generated text so far (escaped), for counting tokens if
	// no usage ever arrives; an append per chunk into a reused buffer.
	text []byte
}

var streams = sync.Pool{New: func() any { return new(stream) }}

// maxKeptText bounds the buffer a pooled decoder keeps between streams.
const maxKeptText = 64 << 10

// Release implements provider.Releaser: the stream is over.
func (s *stream) Release() {
	if cap(s.text) > maxKeptText {
		s.text = nil
	}
	s.call = nil
	streams.Put(s)
}

var done = []byte("[DONE]")

func (s *stream) Event(ev sse.Event, dst []byte) ([]byte, bool, error) {
	if bytes.Equal(ev.Data, done) {
		return sse.AppendData(dst, ev.Data), true, nil
	}
	info := openai.ScanChunk(ev.Data)
	if info.IsError || bytes.Equal(ev.Name, []byte("error")) {
		return dst, false, streamError(s.call, ev.Data)
	}
	if info.HasUsage {
		s.usage, s.hasUsage = info.Usage, true
		if info.EmptyChoices && !s.wantUsage {
			return dst, false, nil
		}
	} else if len(info.Text) > 0 && !s.hasUsage {
		s.text = append(s.text, info.Text...)
	}
	return sse.AppendData(dst, ev.Data), false, nil
}

func (s *stream) Usage() openai.Usage {
	if s.hasUsage || !countsTokens(s.call.Op) {
		return s.usage
	}
	return estimateStream(s.call, s.text)
}

// upstreamError is every error body shape the family sends: OpenAI's envelope
// (OpenRouter with a numeric code), vLLM's flat {"object":"error",...}, and
// FastAPI's {"detail":...}.
type upstreamError struct {
	Error *struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Param   json.RawMessage `json:"param"`
		Code    json.RawMessage `json:"code"`
	} `json:"error"`
	Object  string          `json:"object"`
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
	Detail  json.RawMessage `json:"detail"`
}

// DecodeError implements provider.Codec.
func (Codec) DecodeError(c *provider.Call, status int, _ *upstream.Response, body []byte) *provider.Error {
	e := decodeError(c, status, body)
	e.Retryable = provider.RetryableStatus(status)
	e.MayHaveBeenSent = true
	return e
}

func decodeError(c *provider.Call, status int, body []byte) *provider.Error {
	e := &provider.Error{Status: status, Type: provider.TypeForStatus(status)}
	if status < 400 {
		// Redirects are not followed (they could carry credentials elsewhere).
		e.Status, e.Type = 502, "api_error"
	}
	var ue upstreamError
	msg := ""
	if json.Unmarshal(body, &ue) == nil {
		switch {
		case ue.Error != nil:
			msg, e.Code, e.Param = ue.Error.Message, rawString(ue.Error.Code), rawString(ue.Error.Param)
			if ue.Error.Type != "" {
				e.Type = ue.Error.Type
			}
		case ue.Message != "":
			msg, e.Code = ue.Message, rawString(ue.Code)
			if ue.Type != "" {
				e.Type = ue.Type
			}
		case len(ue.Detail) > 0:
			msg = rawString(ue.Detail)
			if msg == "" {
				msg = string(ue.Detail)
			}
		}
	}
	if msg == "" {
		msg = fmt.Sprintf("upstream answered HTTP %d", status)
	}
	if isContextWindowError(e.Code, msg) {
		e.Code = "context_length_exceeded"
	}
	e.Message = c.Deployment.Provider + ": " + provider.Redact(msg, c.Deployment.APIKey)
	return e
}

// streamError turns an error event received mid-stream into an *Error; the
// pipeline writes it to the client as the stream's last event.
func streamError(c *provider.Call, data []byte) *provider.Error {
	e := decodeError(c, 502, data)
	if e.Type == "" || e.Type == "invalid_request_error" {
		e.Type = "api_error"
	}
	e.MayHaveBeenSent = true
	return e
}

func isContextWindowError(code, msg string) bool {
	if code == "context_length_exceeded" {
		return true
	}
	m := strings.ToLower(msg)
	return strings.Contains(m, "maximum context length") || strings.Contains(m, "context window") || strings.Contains(m, "too many tokens")
}

// rawString renders a JSON scalar as a string ("" for null/absent).
func rawString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}
