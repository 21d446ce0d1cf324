package main

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider/providertest"
)

// TestAnswersWithoutTokenUsageArePriced: an image is priced per image from
// the embedded table, and a stream from an upstream that ignores
// stream_options.include_usage is priced by counting its tokens locally —
// neither is free.
func TestAnswersWithoutTokenUsageArePriced(t *testing.T) {
	images := providertest.NewUpstream(t, providertest.Reply{Body: []byte(`{"created":1,"data":[{"url":"https://example.com/a.png"},{"url":"https://example.com/b.png"}]}`)})
	var events [][]byte
	for _, s := range []string{chunk("Hello", ""), chunk(" there", ""), chunk("", "stop"), "data: [DONE]\n\n"} {
		events = append(events, []byte(s))
	}
	chat := providertest.NewUpstream(t, providertest.Reply{Events: events})
	cfg := fmt.Sprintf(`model_list:
  - model_name: painter
    litellm_params: {model: openai/dall-e-3, api_base: %s/v1, api_key: sk-up-000}
  - model_name: local
    litellm_params: {model: hosted_vllm/gpt-4o, api_base: %s/v1, input_cost_per_token: 0.001, output_cost_per_token: 0.002}
general_settings:
  master_key: %s
`, images.URL, chat.URL, masterKey)
	g := start(t, cfg, nil)

	spendOf := func(key string, want float64) float64 {
		var info struct{ Info struct{ Spend float64 } }
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			g.getJSON(t, "/key/info", key, &info)
			if info.Info.Spend >= want {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return info.Info.Spend
	}

	painter := g.newKey(t, `{"key_alias":"painter"}`)
	resp := post(t, g.url+"/v1/images/generations", painter, `{"model":"painter","prompt":"a fox","n":2}`)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("images: %d", resp.StatusCode)
	}
	if got := spendOf(painter, 0.08); got != 0.08 {
		t.Errorf("two dall-e-3 images cost %v, want 0.08", got)
	}

	talker := g.newKey(t, `{"key_alias":"talker"}`)
	resp = post(t, g.url+"/v1/chat/completions", talker, `{"model":"local","stream":true,"messages":[{"role":"user","content":"hello world"}]}`)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Prompt: 3 + 3 + "user" 1 + "hello world" 2 = 9 tokens; output
	// "Hello there" = 2 tokens (o200k): 9×0.001 + 2×0.002.
	if got := spendOf(talker, 0.013); got != 0.013 {
		t.Errorf("stream without usage cost %v, want 0.013 (counted locally)", got)
	}
}
