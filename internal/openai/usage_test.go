package openai

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// streamPayloads returns the data payloads of a recorded stream. It is a
// deliberately naive splitter (the fixtures have one data line per event)
// so that this package's tests do not depend on internal/sse.
func streamPayloads(t testing.TB, name string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "streams", name))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range bytes.Split(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n")) {
		if p, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			out = append(out, p)
		}
	}
	return out
}

func TestScanChunkStreams(t *testing.T) {
	type summary struct {
		chunks, withUsage, empty, finish, errors int
		usage                                    Usage
	}
	tests := []struct {
		file string
		want summary
	}{
		{"openai_usage.sse", summary{chunks: 6, withUsage: 1, empty: 1, finish: 1,
			usage: Usage{PromptTokens: 19, CompletionTokens: 10, TotalTokens: 29}}},
		{"openai_tools.sse", summary{chunks: 5, finish: 1}},
		{"groq.sse", summary{chunks: 4, withUsage: 1, finish: 1,
			usage: Usage{PromptTokens: 40, CompletionTokens: 9, TotalTokens: 49}}},
		{"deepseek_keepalive.sse", summary{chunks: 5, withUsage: 1, finish: 1,
			usage: Usage{PromptTokens: 13, CompletionTokens: 50, TotalTokens: 63, ReasoningTokens: 40}}},
		{"openrouter_usage.sse", summary{chunks: 4, withUsage: 1, finish: 1,
			usage: Usage{PromptTokens: 8, CompletionTokens: 2, TotalTokens: 10, CachedTokens: 4}}},
		{"openrouter_usage_crlf.sse", summary{chunks: 4, withUsage: 1, finish: 1,
			usage: Usage{PromptTokens: 8, CompletionTokens: 2, TotalTokens: 10, CachedTokens: 4}}},
		{"openrouter_error.sse", summary{chunks: 2, finish: 1, errors: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var got summary
			for _, p := range streamPayloads(t, tt.file) {
				got.chunks++
				ci := ScanChunk(p)
				if ci.HasUsage {
					got.withUsage++
					got.usage = ci.Usage
				}
				if ci.EmptyChoices {
					got.empty++
				}
				if ci.HasFinishReason {
					got.finish++
				}
				if ci.IsError {
					got.errors++
				}
				u, ok := ScanUsage(p)
				if ok != ci.HasUsage || u != ci.Usage {
					t.Errorf("ScanUsage disagrees with ScanChunk on %s", p)
				}
			}
			if got != tt.want {
				t.Fatalf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestScanUsage(t *testing.T) {
	tests := []struct {
		name string
		obj  string
		want Usage
		ok   bool
	}{
		{"full response", `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"usage: {\"prompt_tokens\":999}"},"finish_reason":"stop"}],
			"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,
			"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":7,"cache_write_tokens":3},
			"completion_tokens_details":{"reasoning_tokens":30,"audio_tokens":5,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`,
			Usage{PromptTokens: 1117, CompletionTokens: 46, TotalTokens: 1163, CachedTokens: 1024, CacheWriteTokens: 3, ReasoningTokens: 30, AudioPromptTokens: 7, AudioCompletionTokens: 5}, true},
		{"usage first", `{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"choices":[]}`,
			Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}, true},
		{"null", `{"usage":null}`, Usage{}, false},
		{"absent", `{"choices":[{"usage":{"prompt_tokens":5}}],"x":{"usage":{"prompt_tokens":5}}}`, Usage{}, false},
		{"not an object", `{"usage":5}`, Usage{}, false},
		{"empty object", `{"usage":{}}`, Usage{}, true},
		{"deepseek hit", `{"usage":{"prompt_tokens":10,"prompt_cache_hit_tokens":6,"prompt_cache_miss_tokens":4}}`,
			Usage{PromptTokens: 10, CachedTokens: 6}, true},
		{"cached_tokens wins over hit", `{"usage":{"prompt_cache_hit_tokens":6,"prompt_tokens_details":{"cached_tokens":5}}}`,
			Usage{CachedTokens: 5}, true},
		{"cached_tokens zero still wins", `{"usage":{"prompt_tokens_details":{"cached_tokens":0},"prompt_cache_hit_tokens":6}}`,
			Usage{}, true},
		{"anthropic-style names", `{"usage":{"prompt_tokens":10,"cache_read_input_tokens":4,"cache_creation_input_tokens":2}}`,
			Usage{PromptTokens: 10, CachedTokens: 4, CacheWriteTokens: 2}, true},
		{"cache_creation in details", `{"usage":{"prompt_tokens_details":{"cache_creation_input_tokens":2}}}`,
			Usage{CacheWriteTokens: 2}, true},
		{"cache_write_tokens wins", `{"usage":{"cache_creation_input_tokens":2,"prompt_tokens_details":{"cache_write_tokens":3}}}`,
			Usage{CacheWriteTokens: 3}, true},
		{"groq", `{"x_groq":{"id":"req_1","usage":{"queue_time":0.01,"prompt_tokens":40,"completion_tokens":9,"total_tokens":49}}}`,
			Usage{PromptTokens: 40, CompletionTokens: 9, TotalTokens: 49}, true},
		{"top-level wins over groq", `{"x_groq":{"usage":{"prompt_tokens":1}},"usage":{"prompt_tokens":2}}`,
			Usage{PromptTokens: 2}, true},
		{"groq when top-level null", `{"usage":null,"x_groq":{"usage":{"prompt_tokens":1}}}`,
			Usage{PromptTokens: 1}, true},
		{"numbers", `{"usage":{"prompt_tokens":12.0,"completion_tokens":1.5e1,"total_tokens":-3,"prompt_tokens_details":{"cached_tokens":"7","audio_tokens":null},"completion_tokens_details":{"reasoning_tokens":99999999999999999999999}}}`,
			Usage{PromptTokens: 12, CompletionTokens: 15, ReasoningTokens: 1<<63 - 1}, true},
		{"whitespace", " {\n \"usage\" :\n { \"prompt_tokens\" : 3 ,\n \"total_tokens\" : 4 }\n}\n", Usage{PromptTokens: 3, TotalTokens: 4}, true},
		{"escaped quotes before", `{"a":"\\","b":"\"usage\":{\"prompt_tokens\":9}","usage":{"prompt_tokens":1}}`, Usage{PromptTokens: 1}, true},
		{"not an object", `[DONE]`, Usage{}, false},
		{"empty", ``, Usage{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := ScanUsage([]byte(tt.obj))
			if u != tt.want || ok != tt.ok {
				t.Fatalf("ScanUsage(%s)\n got %+v %v\nwant %+v %v", tt.obj, u, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestScanChunk(t *testing.T) {
	tests := []struct {
		obj  string
		want ChunkInfo
	}{
		{`{"choices":[]}`, ChunkInfo{EmptyChoices: true}},
		{`{"choices":[ ]}`, ChunkInfo{EmptyChoices: true}},
		{`{"choices":[{"index":0,"delta":{"finish_reason":"stop"},"finish_reason":null}]}`, ChunkInfo{}},
		{`{"choices":[{"index":0,"finish_reason":null},{"index":1,"finish_reason":"length"}]}`, ChunkInfo{HasFinishReason: true}},
		{`{"choices":[{"text":"x","index":0,"logprobs":null,"finish_reason":"stop"}],"object":"text_completion"}`, ChunkInfo{HasFinishReason: true, Text: []byte("x")}},
		{`{"choices":[{"index":0,"delta":{"role":"assistant","content":"a\"b"}}]}`, ChunkInfo{Text: []byte(`a\"b`)}},
		{`{"choices":[{"index":0,"delta":{"content":null}}]}`, ChunkInfo{}},
		{`{"error":{"message":"boom","type":"server_error"}}`, ChunkInfo{IsError: true}},
		{`{"error":null,"choices":[]}`, ChunkInfo{EmptyChoices: true}},
		{`{"choices":[],"usage":{"prompt_tokens":1}}`, ChunkInfo{EmptyChoices: true, HasUsage: true, Usage: Usage{PromptTokens: 1}}},
		{`{"choices":[{"finish_reason":"stop"}],"usage":null}`, ChunkInfo{HasFinishReason: true}},
		{`[DONE]`, ChunkInfo{}},
	}
	for _, tt := range tests {
		got := ScanChunk([]byte(tt.obj))
		if string(got.Text) != string(tt.want.Text) {
			t.Errorf("ScanChunk(%s).Text = %q, want %q", tt.obj, got.Text, tt.want.Text)
		}
		got.Text, tt.want.Text = nil, nil
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ScanChunk(%s)\n got %+v\nwant %+v", tt.obj, got, tt.want)
		}
	}
}

func TestAppendUnescaped(t *testing.T) {
	for raw, want := range map[string]string{
		`plain`:           "plain",
		`a\nb\"c\\\u00e9`: "a\nb\"c\\é",
		`\ud83d\ude00!`:   "😀!",
		`bad\u00`:         "bad\uFFFD00",
		`trailing\`:       "trailing\uFFFD",
	} {
		if got := string(AppendUnescaped(nil, []byte(raw))); got != want {
			t.Errorf("AppendUnescaped(%s) = %q, want %q", raw, got, want)
		}
	}
}

// TestScanMalformed: truncated and garbled input must not panic or hang,
// and must not invent usage.
func TestScanMalformed(t *testing.T) {
	full := string(streamPayloads(t, "openai_usage.sse")[4])
	for i := range len(full) {
		ScanChunk([]byte(full[:i]))
		ScanUsage([]byte(full[i:]))
	}
	for _, s := range []string{`{`, `{"`, `{"usage"`, `{"usage":`, `{"usage":{`, `{"usage":{"prompt_tokens":`,
		`{"choices":[`, `{"choices":[{`, `{"choices":[}`, `{"choices":[}}}]`, `{"choices":[1,"a",{},]}`, `{"choices":[{"finish_reason"`,
		`{"a":}`, `{,,,}`, `{"a" "b"}`, `{"a":[[[[`, `{"a":"\"}`, strings.Repeat("[", 10000), `{"x_groq":{"usage":`} {
		ScanChunk([]byte(s))
		ScanUsage([]byte(s))
	}
}

func TestScanAllocs(t *testing.T) {
	p := streamPayloads(t, "openai_usage.sse")[4]
	if n := testing.AllocsPerRun(100, func() { ScanChunk(p); ScanUsage(p) }); n != 0 {
		t.Errorf("%v allocs, want 0", n)
	}
}
