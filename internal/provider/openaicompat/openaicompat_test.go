package openaicompat

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/provider/providertest"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

func newTestProvider(t testing.TB) func(d *provider.Deployment) (provider.Provider, error) {
	client := upstream.New(upstream.Options{})
	t.Cleanup(client.Close)
	return func(d *provider.Deployment) (provider.Provider, error) {
		if err := Prepare(d, func(string) (string, bool) { return "", false }); err != nil {
			return nil, err
		}
		return provider.NewHTTP(d.Provider, client, Codec{}, Ops...), nil
	}
}

// TestGolden replays every testdata case through a fake upstream: what the
// upstream receives and what the client gets back must match byte for byte.
func TestGolden(t *testing.T) {
	providertest.RunGolden(t, "testdata", newTestProvider(t))
}

func TestPrepareDefaults(t *testing.T) {
	env := map[string]string{"GROQ_API_KEY": "gsk-from-env", "HOSTED_VLLM_API_BASE": "http://vllm:8000/v1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct {
		d       provider.Deployment
		wantURL string
		wantErr bool
	}{
		{d: provider.Deployment{Provider: "openai", Model: "gpt-4o"}, wantURL: "https://api.openai.com/v1/chat/completions"},
		{d: provider.Deployment{Provider: "groq", Model: "llama3"}, wantURL: "https://api.groq.com/openai/v1/chat/completions"},
		{d: provider.Deployment{Provider: "deepseek", Model: "deepseek-chat"}, wantURL: "https://api.deepseek.com/chat/completions"},
		{d: provider.Deployment{Provider: "hosted_vllm", Model: "m"}, wantURL: "http://vllm:8000/v1/chat/completions"},
		{d: provider.Deployment{Provider: "azure", Model: "dep", APIBase: "https://r.openai.azure.com/"}, wantURL: "https://r.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-10-21"},
		{d: provider.Deployment{Provider: "azure", Model: "dep"}, wantErr: true},
		{d: provider.Deployment{Provider: "openai", APIBase: "ftp://x"}, wantErr: true},
	} {
		d := tc.d
		err := Prepare(&d, lookup)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tc.d.Provider, err, tc.wantErr)
			continue
		}
		if err == nil {
			if got := d.Private.(*prepared).urls[provider.OpChat]; got != tc.wantURL {
				t.Errorf("%s: url = %q, want %q", tc.d.Provider, got, tc.wantURL)
			}
		}
	}
	d := provider.Deployment{Provider: "groq", Model: "x"}
	_ = Prepare(&d, lookup)
	if d.APIKey.Reveal() != "gsk-from-env" {
		t.Errorf("groq key not taken from GROQ_API_KEY")
	}
}

// FuzzStream feeds arbitrary SSE to the passthrough decoder: it must not
// panic, must emit well-framed events, and usage must never decrease.
func FuzzStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/upstream_response.sse")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, stream []byte, wantUsage bool) {
		env := &openai.Envelope{Stream: true, IncludeUsage: wantUsage}
		c := &provider.Call{Op: provider.OpChat, Envelope: env, Deployment: &provider.Deployment{Provider: "openai"}}
		dec := Codec{}.NewStreamDecoder(c)
		r := sse.NewReader(bytes.NewReader(stream), 0)
		var out []byte
		var last int64
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			n := len(out)
			var done bool
			out, done, err = dec.Event(ev, out)
			if len(out) > n && !bytes.HasSuffix(out, []byte("\n\n")) {
				t.Fatalf("event not framed: %q", out[n:])
			}
			if u := dec.Usage().TotalTokens; u < last {
				t.Fatalf("usage decreased from %d to %d", last, u)
			} else {
				last = u
			}
			if done || err != nil {
				break
			}
		}
	})
}

// BenchmarkBuildRequest is the per-attempt cost of the passthrough request:
// envelope already parsed, body patched into a pooled request.
func BenchmarkBuildRequest(b *testing.B) {
	body, _ := os.ReadFile("testdata/stream_tool_calls/request.json")
	d := &provider.Deployment{Provider: "openai", Model: "gpt-4o", APIKey: "sk-x"}
	if err := Prepare(d, nil); err != nil {
		b.Fatal(err)
	}
	env := &openai.Envelope{}
	if err := openai.ParseEnvelope(body, env); err != nil {
		b.Fatal(err)
	}
	c := &provider.Call{Op: provider.OpChat, Deployment: d, Body: body, Envelope: env}
	b.ReportAllocs()
	for b.Loop() {
		req := upstream.AcquireRequest()
		if err := (Codec{}).BuildRequest(c, req); err != nil {
			b.Fatal(err)
		}
		upstream.ReleaseRequest(req)
	}
}

// BenchmarkStreamEvent is the per-event cost of relaying a chunk.
func BenchmarkStreamEvent(b *testing.B) {
	data := []byte(`{"id":"chatcmpl-stream1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4o-mini","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"content":" there"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	c := &provider.Call{Op: provider.OpChat, Envelope: &openai.Envelope{Stream: true}, Deployment: &provider.Deployment{Provider: "openai"}}
	dec := Codec{}.NewStreamDecoder(c)
	out := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var err error
		out, _, err = dec.Event(sse.Event{Data: data}, out[:0])
		if err != nil && !errors.Is(err, io.EOF) {
			b.Fatal(err)
		}
	}
}
