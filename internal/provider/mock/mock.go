// Package mock is the built-in provider behind `mock/<anything>` models. It
// answers in-process, deterministically, with configurable latency, token
// counts and stream chunking, so the gateway works out of the box with no
// provider keys and load tests measure the gateway alone.
package mock

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/sse"
)

// DefaultResponse is what a mock deployment says unless mock_response is set.
const DefaultResponse = "Hello from Switchboard's mock provider! Configure a real model in your config.yaml to get real answers."

// Settings are a mock deployment's knobs, read from litellm_params.
type Settings struct {
	Response         string        // mock_response
	Latency          time.Duration // mock_latency_ms: before the first byte
	PromptTokens     int64         // mock_prompt_tokens: 0 → estimated from the body
	CompletionTokens int64         // mock_completion_tokens: 0 → one per word of the response
	StreamChunks     int           // mock_stream_chunks: content chunks in a stream (default 6)
}

// Provider implements provider.Provider without any network.
type Provider struct {
	seq atomic.Uint64
}

// New returns the mock provider.
func New() *Provider { return &Provider{} }

// Name implements provider.Provider.
func (*Provider) Name() string { return "mock" }

// Supports implements provider.Provider.
func (*Provider) Supports(op provider.Op) bool {
	return op == provider.OpChat || op == provider.OpCompletion || op == provider.OpEmbedding || op == provider.OpModeration
}

// Prepare reads a deployment's mock settings from its parameters.
func Prepare(d *provider.Deployment, response string) error {
	s := &Settings{Response: response, StreamChunks: 6}
	if s.Response == "" {
		s.Response = DefaultResponse
	}
	for key, dst := range map[string]*int64{"mock_prompt_tokens": &s.PromptTokens, "mock_completion_tokens": &s.CompletionTokens} {
		if n, ok, err := intParam(d.Extra, key); err != nil {
			return err
		} else if ok {
			*dst = n
		}
	}
	if n, ok, err := intParam(d.Extra, "mock_latency_ms"); err != nil {
		return err
	} else if ok {
		s.Latency = time.Duration(n) * time.Millisecond
	}
	if n, ok, err := intParam(d.Extra, "mock_stream_chunks"); err != nil {
		return err
	} else if ok {
		if n < 1 {
			return fmt.Errorf("deployment %q: mock_stream_chunks must be at least 1", d.ModelName)
		}
		s.StreamChunks = int(n)
	}
	d.Private = s
	return nil
}

func intParam(extra map[string]any, key string) (int64, bool, error) {
	v, ok := extra[key]
	if !ok {
		return 0, false, nil
	}
	switch n := v.(type) {
	case int:
		if n >= 0 {
			return int64(n), true, nil
		}
	case int64:
		if n >= 0 {
			return n, true, nil
		}
	case float64:
		if n >= 0 && n == float64(int64(n)) {
			return int64(n), true, nil
		}
	}
	return 0, false, fmt.Errorf("%s must be a non-negative integer", key)
}

// Send implements provider.Provider.
func (p *Provider) Send(ctx context.Context, c *provider.Call, res *provider.Result) error {
	s, ok := c.Deployment.Private.(*Settings)
	if !ok {
		return fmt.Errorf("mock: deployment %q was not prepared", c.Deployment.ID)
	}
	start := time.Now()
	if s.Latency > 0 {
		t := time.NewTimer(s.Latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return &provider.Error{Status: provider.StatusClientClosed, Type: "client_closed", Message: "client closed the request", Cause: ctx.Err()}
		case <-t.C:
		}
	}
	usage := s.usage(c)
	id := p.seq.Add(1)
	created := time.Now().Unix()
	*res = provider.Result{Status: 200, ContentType: "application/json", Usage: usage, UpstreamLatency: time.Since(start)}
	switch c.Op {
	case provider.OpEmbedding:
		res.Body = embeddingBody(c, usage)
	case provider.OpModeration:
		res.Body = moderationBody(c, id)
	default:
		if c.Stream() {
			res.ContentType = "text/event-stream"
			res.Stream = &stream{events: s.streamEvents(c, id, created, usage), usage: usage}
		} else {
			res.Body = s.completionBody(c, id, created, usage)
		}
	}
	return nil
}

func (s *Settings) usage(c *provider.Call) openai.Usage {
	u := openai.Usage{PromptTokens: s.PromptTokens, CompletionTokens: s.CompletionTokens}
	if u.PromptTokens == 0 {
		// A rough but deterministic stand-in for a tokenizer: ~4 bytes a token.
		u.PromptTokens = int64(len(c.Body)/4) + 1
	}
	if u.CompletionTokens == 0 {
		u.CompletionTokens = int64(len(strings.Fields(s.Response)))
	}
	if c.Op == provider.OpEmbedding || c.Op == provider.OpModeration {
		u.CompletionTokens = 0
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

func appendUsage(b []byte, u openai.Usage) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = fmt.Appendf(b, "%d", u.PromptTokens)
	b = append(b, `,"completion_tokens":`...)
	b = fmt.Appendf(b, "%d", u.CompletionTokens)
	b = append(b, `,"total_tokens":`...)
	b = fmt.Appendf(b, "%d}", u.TotalTokens)
	return b
}

func (s *Settings) completionBody(c *provider.Call, id uint64, created int64, u openai.Usage) []byte {
	b := make([]byte, 0, 256+len(s.Response))
	if c.Op == provider.OpCompletion {
		b = fmt.Appendf(b, `{"id":"cmpl-mock-%d","object":"text_completion","created":%d,"model":`, id, created)
		b = openai.AppendString(b, c.ClientModel)
		b = append(b, `,"choices":[{"index":0,"text":`...)
		b = openai.AppendString(b, s.Response)
		b = append(b, `,"logprobs":null,"finish_reason":"stop"}],"usage":`...)
	} else {
		b = fmt.Appendf(b, `{"id":"chatcmpl-mock-%d","object":"chat.completion","created":%d,"model":`, id, created)
		b = openai.AppendString(b, c.ClientModel)
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
		b = openai.AppendString(b, s.Response)
		b = append(b, `,"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":`...)
	}
	b = appendUsage(b, u)
	return append(b, '}')
}

// streamEvents precomputes the whole stream: a role chunk, the response split
// into StreamChunks content chunks, a finish chunk, the usage chunk when asked
// for, and [DONE].
func (s *Settings) streamEvents(c *provider.Call, id uint64, created int64, u openai.Usage) [][]byte {
	chat := c.Op == provider.OpChat
	head := make([]byte, 0, 128)
	if chat {
		head = fmt.Appendf(head, `{"id":"chatcmpl-mock-%d","object":"chat.completion.chunk","created":%d,"model":`, id, created)
	} else {
		head = fmt.Appendf(head, `{"id":"cmpl-mock-%d","object":"text_completion","created":%d,"model":`, id, created)
	}
	head = openai.AppendString(head, c.ClientModel)
	// event builds one chunk; role is set on the first chat chunk only, and
	// text is nil for the finish chunk (an empty delta).
	event := func(role bool, text *string, finish string) []byte {
		b := append([]byte(nil), head...)
		b = append(b, `,"choices":[{"index":0,`...)
		if chat {
			b = append(b, `"delta":{`...)
			if role {
				b = append(b, `"role":"assistant"`...)
			}
			if text != nil {
				if role {
					b = append(b, ',')
				}
				b = append(b, `"content":`...)
				b = openai.AppendString(b, *text)
			}
			b = append(b, '}')
		} else {
			t := ""
			if text != nil {
				t = *text
			}
			b = append(b, `"text":`...)
			b = openai.AppendString(b, t)
		}
		b = append(b, `,"logprobs":null,"finish_reason":`...)
		if finish == "" {
			b = append(b, "null"...)
		} else {
			b = openai.AppendString(b, finish)
		}
		b = append(b, "}]"...)
		if c.ClientWantsUsage() {
			b = append(b, `,"usage":null`...)
		}
		return sse.AppendData(nil, append(b, '}'))
	}
	var out [][]byte
	empty := ""
	if chat {
		out = append(out, event(true, &empty, ""))
	}
	for _, piece := range split(s.Response, s.StreamChunks) {
		out = append(out, event(false, &piece, ""))
	}
	out = append(out, event(false, nil, "stop"))
	if c.ClientWantsUsage() {
		b := append([]byte(nil), head...)
		b = append(b, `,"choices":[],"usage":`...)
		b = appendUsage(b, u)
		out = append(out, sse.AppendData(nil, append(b, '}')))
	}
	return append(out, sse.AppendData(nil, []byte("[DONE]")))
}

// split cuts s into n pieces at word boundaries where it can.
func split(s string, n int) []string {
	words := strings.SplitAfter(s, " ")
	if n > len(words) {
		n = len(words)
	}
	out := make([]string, 0, n)
	per := (len(words) + n - 1) / n
	for i := 0; i < len(words); i += per {
		out = append(out, strings.Join(words[i:min(i+per, len(words))], ""))
	}
	return out
}

type stream struct {
	events [][]byte
	next   int
	usage  openai.Usage
}

func (s *stream) Next(dst []byte) ([]byte, error) {
	if s.next >= len(s.events) {
		return dst, io.EOF
	}
	dst = append(dst, s.events[s.next]...)
	s.next++
	if s.next == len(s.events) {
		return dst, io.EOF
	}
	return dst, nil
}

func (s *stream) Usage() openai.Usage { return s.usage }
func (s *stream) Close()              {}

func embeddingBody(c *provider.Call, u openai.Usage) []byte {
	b := []byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[`)
	// A fixed small vector derived from the body length keeps it deterministic.
	seed := len(c.Body)
	for i := 0; i < 8; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "%.6f", float64((seed*(i+7))%1000)/1000-0.5)
	}
	b = append(b, `]}],"model":`...)
	b = openai.AppendString(b, c.ClientModel)
	b = fmt.Appendf(b, `,"usage":{"prompt_tokens":%d,"total_tokens":%d}}`, u.PromptTokens, u.PromptTokens)
	return b
}

func moderationBody(c *provider.Call, id uint64) []byte {
	b := fmt.Appendf(nil, `{"id":"modr-mock-%d","model":`, id)
	b = openai.AppendString(b, c.ClientModel)
	return append(b, `,"results":[{"flagged":false,"categories":{},"category_scores":{}}]}`...)
}
