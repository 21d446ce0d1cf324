package messages

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func BenchmarkToChat(b *testing.B) {
	for _, name := range []string{"plain_text", "tool_round_trip", "thinking_native"} {
		body, err := os.ReadFile("testdata/" + name + "/anthropic_request.json")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, _, err := ToChat(body, Options{Claude: true}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkToChatOpenAI is the typical request for a model that is not
// Claude: cache_control dropped, thinking mapped to reasoning_effort.
func BenchmarkToChatOpenAI(b *testing.B) {
	body, err := os.ReadFile("testdata/tool_round_trip/anthropic_request.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := ToChat(body, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToChatLongSession is a late turn of an agent session: 100
// rounds of tool calls and 1 KiB tool results, ~270 KB.
func BenchmarkToChatLongSession(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"model":"claude-sonnet-4-20250514","max_tokens":32000,"stream":true,"system":[{"type":"text","text":"You are an agent.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"Fix the bug."}`)
	result := strings.Repeat("line of tool output ", 50)
	for i := range 100 {
		fmt.Fprintf(&sb, `,{"role":"assistant","content":[{"type":"text","text":"Reading file %d."},{"type":"tool_use","id":"toolu_%d","name":"read_file","input":{"path":"src/file_%d.go","limit":400}}]}`, i, i, i)
		fmt.Fprintf(&sb, `,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_%d","content":[{"type":"text","text":%q}]}]}`, i, result)
	}
	sb.WriteString(`],"tools":[{"name":"read_file","description":"Read a file","input_schema":{"type":"object","properties":{"path":{"type":"string"},"limit":{"type":"integer"}},"required":["path"]}}]}`)
	body := []byte(sb.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := ToChat(body, Options{Claude: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromChat(b *testing.B) {
	body, err := os.ReadFile("testdata/parallel_tools/openai_response.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromChat(body, "claude-test", "req"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEvent is the cost of one streamed event: a text delta
// chunk in, a content_block_delta out, as the hot part of every stream.
func BenchmarkStreamEvent(b *testing.B) {
	for _, bc := range []struct{ name, event string }{
		{"text", "data: {\"id\":\"chatcmpl-b\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" the quick brown fox\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"},
		{"tool_args", "data: {\"id\":\"chatcmpl-b\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"location\\\": \\\"Par\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ev := []byte(bc.event)
			s := NewStream("claude-test", "req")
			out := s.Write(nil, []byte("data: {\"id\":\"chatcmpl-b\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}\n\n"))
			b.ReportAllocs()
			b.SetBytes(int64(len(ev)))
			for b.Loop() {
				out = s.Write(out[:0], ev)
			}
			if len(out) == 0 {
				b.Fatal("no output")
			}
		})
	}
}
