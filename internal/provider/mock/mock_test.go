package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/sse"
)

func call(t *testing.T, op provider.Op, body string, extra map[string]any) *provider.Call {
	t.Helper()
	d := &provider.Deployment{ID: "m1", ModelName: "demo", Provider: "mock", Extra: extra}
	if err := Prepare(d, "one two three four five"); err != nil {
		t.Fatal(err)
	}
	env := &openai.Envelope{}
	if err := openai.ParseEnvelope([]byte(body), env); err != nil {
		t.Fatal(err)
	}
	return &provider.Call{Op: op, Deployment: d, Body: []byte(body), Envelope: env, ClientModel: "demo"}
}

func TestNonStreamed(t *testing.T) {
	p := New()
	for _, op := range []provider.Op{provider.OpChat, provider.OpCompletion, provider.OpEmbedding, provider.OpModeration} {
		res := &provider.Result{}
		err := p.Send(context.Background(), call(t, op, `{"model":"demo","messages":[]}`, map[string]any{"mock_prompt_tokens": 11}), res)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(res.Body, &v); err != nil {
			t.Fatalf("%s: invalid JSON %s", op, res.Body)
		}
		if op == provider.OpChat && (res.Usage.PromptTokens != 11 || res.Usage.CompletionTokens != 5) {
			t.Errorf("usage = %+v", res.Usage)
		}
	}
}

// TestStream checks every event is valid JSON in the chunk shape the SDKs
// accumulate, the text reassembles, and usage appears only when asked for.
func TestStream(t *testing.T) {
	for _, tc := range []struct {
		op        provider.Op
		body      string
		wantUsage bool
	}{
		{provider.OpChat, `{"model":"demo","stream":true}`, false},
		{provider.OpChat, `{"model":"demo","stream":true,"stream_options":{"include_usage":true}}`, true},
		{provider.OpCompletion, `{"model":"demo","stream":true}`, false},
	} {
		res := &provider.Result{}
		err := New().Send(context.Background(), call(t, tc.op, tc.body, map[string]any{"mock_stream_chunks": 3}), res)
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		for err == nil {
			out, err = res.Stream.Next(out)
		}
		if !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		r := sse.NewReader(bytes.NewReader(out), 0)
		var text strings.Builder
		sawUsage, sawDone := false, false
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			if string(ev.Data) == "[DONE]" {
				sawDone = true
				continue
			}
			var chunk struct {
				Choices []struct {
					Delta struct{ Content string } `json:"delta"`
					Text  string                   `json:"text"`
				} `json:"choices"`
				Usage *struct {
					TotalTokens int `json:"total_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(ev.Data, &chunk); err != nil {
				t.Fatalf("invalid chunk %s: %v", ev.Data, err)
			}
			for _, c := range chunk.Choices {
				text.WriteString(c.Delta.Content + c.Text)
			}
			sawUsage = sawUsage || chunk.Usage != nil
		}
		if text.String() != "one two three four five" || !sawDone || sawUsage != tc.wantUsage {
			t.Errorf("%s %s: text %q done %v usage %v", tc.op, tc.body, text.String(), sawDone, sawUsage)
		}
	}
}

func TestLatencyHonoursCancel(t *testing.T) {
	c := call(t, provider.OpChat, `{"model":"demo"}`, map[string]any{"mock_latency_ms": 5000})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := New().Send(ctx, c, &provider.Result{})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

func TestPrepareRejectsBadSettings(t *testing.T) {
	for _, extra := range []map[string]any{{"mock_latency_ms": -1}, {"mock_stream_chunks": 0}, {"mock_prompt_tokens": "many"}} {
		if err := Prepare(&provider.Deployment{Extra: extra}, ""); err == nil {
			t.Errorf("Prepare(%v) accepted", extra)
		}
	}
}
