package openai

import (
	"encoding/json"
	"testing"
)

func benchParse(b *testing.B, body []byte, fresh bool) {
	var e Envelope
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if fresh {
			e = Envelope{}
		}
		if err := ParseEnvelope(body, &e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEnvelope(b *testing.B) {
	b.Run("1KB", func(b *testing.B) { benchParse(b, readRequest(b, "chat_1k.json"), false) })
	// A fresh Envelope pays for the Model and User strings.
	b.Run("1KB-fresh", func(b *testing.B) { benchParse(b, readRequest(b, "chat_1k.json"), true) })
	b.Run("tools", func(b *testing.B) { benchParse(b, readRequest(b, "chat_tools.json"), false) })
	b.Run("pretty", func(b *testing.B) { benchParse(b, readRequest(b, "pretty.json"), false) })
	// Allocates the two metadata tags.
	b.Run("100KB", func(b *testing.B) { benchParse(b, readRequest(b, "chat_image_100k.json"), false) })
}

// BenchmarkEncodingJSONValid is a yardstick only: encoding/json merely
// validating the same bodies.
func BenchmarkEncodingJSONValid(b *testing.B) {
	for _, name := range []string{"chat_1k.json", "chat_image_100k.json"} {
		body := readRequest(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if !json.Valid(body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

func BenchmarkAppendPatched(b *testing.B) {
	for _, name := range []string{"chat_1k.json", "chat_image_100k.json"} {
		body := readRequest(b, name)
		var e Envelope
		if err := ParseEnvelope(body, &e); err != nil {
			b.Fatal(err)
		}
		dst := make([]byte, 0, len(body)+128)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				dst = e.AppendPatched(dst[:0], body, "gpt-4o-mini-2024-07-18", true)
			}
		})
	}
}

func BenchmarkScanChunk(b *testing.B) {
	chunks := streamPayloads(b, "openai_usage.sse")
	for _, c := range []struct {
		name string
		obj  []byte
	}{{"content", chunks[1]}, {"finish", chunks[3]}, {"usage", chunks[4]}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.obj)))
			b.ReportAllocs()
			for b.Loop() {
				ScanChunk(c.obj)
			}
		})
	}
}

func BenchmarkScanUsage(b *testing.B) {
	resp := []byte(`{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"The image shows a wooden boardwalk path running through a lush green field or meadow. The sky is bright blue with some scattered clouds, giving the scene a serene and peaceful atmosphere. Trees and shrubs are visible in the background.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"}`)
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ScanUsage(resp); !ok {
			b.Fatal("no usage")
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"ascii", "The model `gpt-4o` does not exist or you do not have access to it."},
		{"escapes", "line one\nline \"two\"\t\\ and a \u2028 separator"},
		{"unicode", "模型不存在。请检查模型名称是否正确，然后重试。😀"},
	} {
		b.Run(c.name, func(b *testing.B) {
			dst := make([]byte, 0, 256)
			b.SetBytes(int64(len(c.s)))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendString(dst[:0], c.s)
			}
		})
	}
}

func BenchmarkErrorAppendJSON(b *testing.B) {
	e := &Error{Status: 429, Message: "Rate limit reached for key sk-...abc: 60 requests per minute. Retry after 12s.", Type: "rate_limit_error", Code: "rate_limit_exceeded"}
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		dst = e.AppendJSON(dst[:0])
	}
}
