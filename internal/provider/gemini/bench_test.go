package gemini

import (
	"testing"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// benchChat is a typical request: a system prompt, three turns, one tool.
const benchChat = `{"model":"gem","messages":[{"role":"system","content":"You are a helpful assistant that answers briefly."},` +
	`{"role":"user","content":"What's the weather like in Paris today?"},` +
	`{"role":"assistant","content":"Let me check that for you."},` +
	`{"role":"user","content":"Thanks, and please use Celsius."}],` +
	`"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city"]}}}],` +
	`"temperature":0.7,"max_tokens":256}`

const benchAnswer = `{
  "candidates": [
    {
      "content": {
        "parts": [
          {
            "text": "It is 21°C and sunny in Paris today, with a light breeze from the west."
          }
        ],
        "role": "model"
      },
      "finishReason": "STOP",
      "index": 0
    }
  ],
  "usageMetadata": {
    "promptTokenCount": 64,
    "candidatesTokenCount": 19,
    "totalTokenCount": 83,
    "promptTokensDetails": [
      {
        "modality": "TEXT",
        "tokenCount": 64
      }
    ]
  },
  "modelVersion": "gemini-2.5-flash",
  "responseId": "b1xjaMqWGvWFz7IPjMyNmQo"
}`

// BenchmarkTranslateChat is one non-streamed exchange's translation cost:
// the OpenAI request to Gemini's, and Gemini's answer back.
func BenchmarkTranslateChat(b *testing.B) {
	d := testDeployment(b, "gemini-2.5-flash")
	c := call(b, d, provider.OpChat, benchChat)
	answer := []byte(benchAnswer)
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		req := upstream.AcquireRequest()
		if err := testCodec.BuildRequest(c, req); err != nil {
			b.Fatal(err)
		}
		upstream.ReleaseRequest(req)
		var err error
		out, _, err = testCodec.DecodeBody(c, answer, out[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEvent is the per-event cost of a streamed text delta, as
// Gemini sends them.
func BenchmarkStreamEvent(b *testing.B) {
	data := []byte(`{"candidates": [{"content": {"parts": [{"text": " jumps over the lazy dog, and then it rests in the shade."}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 9}]},"modelVersion": "gemini-2.5-flash","responseId": "mH3QZ7uMLqGWmecPg4K8sQI"}`)
	c := &provider.Call{Op: provider.OpChat, Envelope: &openai.Envelope{Stream: true, IncludeUsage: true}, ClientModel: "gem", Deployment: &provider.Deployment{Provider: "gemini"}}
	dec := testCodec.NewStreamDecoder(c)
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var err error
		out, _, err = dec.Event(sse.Event{Data: data}, out[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
}
