package rawjson

import (
	"testing"
)

// A typical chat request, and a stream event of the kind translators read
// once per token.
var (
	benchRequest = []byte(`{"model":"claude","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What's the weather in Paris?"},{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"18C and sunny"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the current weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}],"max_tokens":256,"temperature":0.5}`)
	benchEvent   = []byte(`{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":" Language"}}}}`)
	benchUsage   = []byte(`{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`)
)

var sink int

// BenchmarkMembers reads the top level of a chat request and the role of
// each message, as a translator starts.
func BenchmarkMembers(b *testing.B) {
	b.SetBytes(int64(len(benchRequest)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for it := Members(benchRequest); it.Next(); {
			if string(it.Name()) == "messages" {
				for m := Elements(it.Value()); m.Next(); {
					if Is(Member(m.Value(), "role"), "user") {
						n++
					}
				}
			}
		}
		sink += n
	}
}

// BenchmarkPath is a stream event's text looked up three objects deep.
func BenchmarkPath(b *testing.B) {
	b.SetBytes(int64(len(benchEvent)))
	b.ReportAllocs()
	for b.Loop() {
		sink += len(Path(benchEvent, "delta", "message", "content", "text"))
	}
}

// BenchmarkUsage reads the counts of a usage object nested in a response:
// with Iter, each nested object is skipped by the walk around it and then
// walked itself; in one pass, threading the index through NextMember.
func BenchmarkUsage(b *testing.B) {
	b.Run("iter", func(b *testing.B) {
		b.SetBytes(int64(len(benchUsage)))
		b.ReportAllocs()
		for b.Loop() {
			var total int64
			for it := Members(benchUsage); it.Next(); {
				if string(it.Name()) != "usage" {
					continue
				}
				for u := Members(it.Value()); u.Next(); {
					if v := u.Value(); v[0] == '{' {
						for d := Members(v); d.Next(); {
							total += Count(d.Value())
						}
					} else {
						total += Count(v)
					}
				}
			}
			sink += int(total)
		}
	})
	b.Run("one-pass", func(b *testing.B) {
		b.SetBytes(int64(len(benchUsage)))
		b.ReportAllocs()
		for b.Loop() {
			var total int64
			// counts adds up the numbers of the object at i, nested
			// objects included, and returns the index past it.
			var counts func(i int) int
			counts = func(i int) int {
				for i++; ; {
					_, v, ok := NextMember(benchUsage, i)
					if !ok {
						return v
					}
					if benchUsage[v] == '{' {
						i = counts(v)
						continue
					}
					i = Skip(benchUsage, v)
					total += Count(benchUsage[v:i])
				}
			}
			for i := 1; ; {
				name, v, ok := NextMember(benchUsage, i)
				if !ok {
					break
				}
				if string(name) == "usage" {
					i = counts(v)
				} else {
					i = Skip(benchUsage, v)
				}
			}
			sink += int(total)
		}
	})
}

func BenchmarkIs(b *testing.B) {
	plain, escaped := []byte(`"tool_use"`), []byte(`"tool\u005fuse"`)
	b.ReportAllocs()
	for b.Loop() {
		if Is(plain, "tool_use") && Is(escaped, "tool_use") && !Is(plain, "text") {
			sink++
		}
	}
}

func BenchmarkAppendUnquote(b *testing.B) {
	for _, c := range []struct{ name, v string }{
		{"plain", `"It is 18 degrees and cloudy in Paris, with light rain expected this afternoon."`},
		{"escapes", `"line one\nline \"two\"\t\\ and \u00e9t\u00e9 \ud83d\ude00"`},
	} {
		v := []byte(c.v)
		dst := make([]byte, 0, 256)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendUnquote(dst[:0], v)
			}
		})
	}
}

func BenchmarkAppendQuote(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"ascii", "The model `gpt-4o` does not exist or you do not have access to it."},
		{"escapes", "line one\nline \"two\"\t\\ and a \u2028 separator"},
		{"unicode", "模型不存在。请检查模型名称是否正确，然后重试。😀"},
	} {
		dst := make([]byte, 0, 256)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.s)))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendQuote(dst[:0], c.s)
			}
		})
	}
}

func BenchmarkAppendCompact(b *testing.B) {
	v := []byte("{\n  \"type\": \"object\",\n  \"properties\": {\n    \"location\": {\"type\": \"string\", \"description\": \"City name, e.g. \\\"Paris\\\"\"}\n  },\n  \"required\": [\"location\"]\n}")
	dst := make([]byte, 0, 256)
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendCompact(dst[:0], v)
	}
}

func BenchmarkCount(b *testing.B) {
	vs := [][]byte{[]byte("1117"), []byte("46.0"), []byte("1.5e3"), []byte("null")}
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range vs {
			sink += int(Count(v))
		}
	}
}
