package bedrock

import (
	"testing"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// A typical chat request: a system prompt, three turns (one a tool call
// and its result) and one tool.
const benchRequest = `{"model":"claude","messages":[{"role":"system","content":"You are a helpful assistant that answers briefly."},{"role":"user","content":"What is the weather in Paris today?"},{"role":"assistant","content":null,"tool_calls":[{"id":"tooluse_abc123","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"tooluse_abc123","content":"{\"temp_c\":18,\"sky\":\"cloudy\"}"},{"role":"user","content":"Thanks. Should I take an umbrella?"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the current weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"}},"required":["city"]}}}],"max_tokens":512,"temperature":0.5}`

const benchResponse = `{"output":{"message":{"role":"assistant","content":[{"text":"Yes: it is cloudy at 18°C and showers are likely this afternoon, so an umbrella is a good idea."}]}},"stopReason":"end_turn","usage":{"inputTokens":412,"outputTokens":27,"totalTokens":439},"metrics":{"latencyMs":812}}`

// BenchmarkTranslateChat is one non-streamed chat translated both ways:
// the Converse request built, the Converse answer turned into OpenAI's.
func BenchmarkTranslateChat(b *testing.B) {
	d := testDeployment(b, "anthropic.claude-3-5-sonnet-20240620-v1:0", nil)
	c := testCall(b, d, provider.OpChat, benchRequest)
	codec := Codec{}
	resp := []byte(benchResponse)
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		req := upstream.AcquireRequest()
		if err := codec.BuildRequest(c, req); err != nil {
			b.Fatal(err)
		}
		upstream.ReleaseRequest(req)
		var err error
		if out, _, err = codec.DecodeBody(c, resp, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEvent is the per-event cost of a streamed text delta (as
// Bedrock sends it, with its "p" padding).
func BenchmarkStreamEvent(b *testing.B) {
	d := testDeployment(b, "anthropic.claude-3-5-sonnet-20240620-v1:0", nil)
	c := testCall(b, d, provider.OpChat, `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	dec := Codec{}.NewStreamDecoder(c)
	ev := sse.Event{ID: []byte(kindEvent), Name: []byte("contentBlockDelta"), Data: []byte(`{"contentBlockIndex":0,"delta":{"text":" there, how can"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGH"}`)}
	out := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(ev.Data)))
	for b.Loop() {
		var err error
		if out, _, err = dec.Event(ev, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventReader is the cost of deframing one event stream frame.
func BenchmarkEventReader(b *testing.B) {
	f := frame("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":" there, how can"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGH"}`)
	src := &repeatReader{frame: f}
	r := newEventReader(src)
	b.ReportAllocs()
	b.SetBytes(int64(len(f)))
	for b.Loop() {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

type repeatReader struct {
	frame []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.frame[r.off:])
		n += c
		r.off = (r.off + c) % len(r.frame)
	}
	return n, nil
}
