// Package anthropic translates OpenAI chat completions to Anthropic's
// Messages API (POST /v1/messages) and its answers and SSE streams back to
// chat.completion objects and chunks, following LiteLLM's conventions for
// what OpenAI has no word for: reasoning_content and thinking_blocks for
// extended thinking, cache_control on messages, parts and tools for prompt
// caching, and a forced "json_tool_call" tool for response_format.
package anthropic

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

const (
	defaultBase  = "https://api.anthropic.com"
	messagesPath = "/v1/messages"
	// apiVersion is the only version of the Messages API; the official
	// SDKs hard-code it.
	apiVersion = "2023-06-01"
)

// Codec is the provider.Codec of Anthropic's Messages API. The zero value
// is ready to use.
type Codec struct {
	// now stamps "created" on answers; nil means time.Now. Tests pin it so
	// that golden files are stable.
	now func() time.Time
}

func (c Codec) created() int64 {
	if c.now != nil {
		return c.now().Unix()
	}
	return time.Now().Unix()
}

// prepared is what Prepare computes once per deployment.
type prepared struct {
	url     string
	headers [][2]string
}

// Prepare resolves a deployment's defaults the way LiteLLM does (api_base,
// then ANTHROPIC_API_BASE, then ANTHROPIC_BASE_URL, then Anthropic's own;
// api_key, then ANTHROPIC_API_KEY) and precomputes its URL and headers.
// extra_headers (anthropic-beta, typically) go out on every request.
func Prepare(d *provider.Deployment, lookupEnv func(string) (string, bool)) error {
	env := func(name string) string {
		if lookupEnv == nil {
			return ""
		}
		s, _ := lookupEnv(name)
		return s
	}
	base := d.APIBase
	for _, name := range []string{"ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"} {
		if base == "" {
			base = env(name)
		}
	}
	if base == "" {
		base = defaultBase
	}
	d.APIBase = base
	if d.APIKey == "" {
		d.APIKey = provider.Secret(env("ANTHROPIC_API_KEY"))
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("deployment %q: api_base must be an http(s) URL", d.ModelName)
	}
	// LiteLLM appends /v1/messages unless the base already ends with it,
	// so a base written for LiteLLM reaches the same URL here.
	full := strings.TrimRight(base, "/")
	if !strings.HasSuffix(full, messagesPath) {
		full += messagesPath
	}
	p := &prepared{url: full}
	defaults := [][2]string{{"Content-Type", "application/json"}, {"anthropic-version", apiVersion}}
	if d.APIKey != "" {
		defaults = append(defaults, [2]string{"x-api-key", d.APIKey.Reveal()})
	}
	// An extra_headers entry replaces a default of the same name (as in
	// LiteLLM) rather than going out next to it.
	for _, h := range defaults {
		if !hasHeader(d.Headers, h[0]) {
			p.headers = append(p.headers, h)
		}
	}
	p.headers = append(p.headers, d.Headers...)
	d.Private = p
	return nil
}

func hasHeader(hs [][2]string, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return true
		}
	}
	return false
}

func preparedOf(d *provider.Deployment) (*prepared, error) {
	p, ok := d.Private.(*prepared)
	if !ok {
		return nil, fmt.Errorf("anthropic: deployment %q was not prepared", d.ID)
	}
	return p, nil
}
