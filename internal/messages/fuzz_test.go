package messages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzStream feeds the converter arbitrary OpenAI-side bytes, cut at an
// arbitrary point, and checks that what comes out is always a well-formed
// Anthropic stream: framed events with JSON data, blocks started in order
// and stopped once, deltas that fit their block, one message_delta, usage
// that never goes down, and exactly one final event (message_stop or
// error) — and that the cut does not change the output.
func FuzzStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/openai_stream.sse")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(len(b)/2))
	}
	f.Add([]byte("data: [DONE]\n\n"), uint16(3))
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}},{\"index\":0,\"id\":\"a\"}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"x\"}}]}}]}\n\ndata: [DONE]\n\n"), uint16(40))
	f.Add([]byte("event: error\ndata: not json\n\n"), uint16(1))
	f.Add([]byte("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":-1}}\n\ndata: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"prompt_tokens_details\":{\"cached_tokens\":9}}}\n\ndata: [DONE]\n\n"), uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		at := int(cut) % (len(in) + 1)
		s := NewStream("m", "req")
		out := s.Write(nil, in[:at])
		out = s.Write(out, in[at:])
		out = s.End(out)
		if err := validStream(out); err != nil {
			t.Fatalf("%v\ninput %q\noutput:\n%s", err, in, out)
		}
		if whole := NewStream("m", "req"); !bytes.Equal(whole.End(whole.Write(nil, in)), out) {
			t.Fatalf("cutting the input at %d changed the output", at)
		}
	})
}

type streamEvent struct {
	Type         string `json:"type"`
	Index        *int   `json:"index"`
	ContentBlock *struct {
		Type string `json:"type"`
	} `json:"content_block"`
	Delta *struct {
		Type string `json:"type"`
	} `json:"delta"`
	Message *struct {
		Usage map[string]int64 `json:"usage"`
	} `json:"message"`
	Usage map[string]int64 `json:"usage"`
}

// validStream checks an Anthropic event stream against the protocol.
func validStream(out []byte) error {
	text := string(out)
	if !strings.HasSuffix(text, "\n\n") {
		return fmt.Errorf("the stream does not end with a complete event")
	}
	var (
		started, deltaSent, ended bool
		kinds                     []string // block types by index
		open                      = map[int]bool{}
		usage                     = map[string]int64{}
	)
	for i, ev := range strings.Split(strings.TrimSuffix(text, "\n\n"), "\n\n") {
		lines := strings.Split(ev, "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			return fmt.Errorf("event %d is malformed: %q", i, ev)
		}
		name, data := lines[0][len("event: "):], lines[1][len("data: "):]
		var e streamEvent
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return fmt.Errorf("event %d data is not JSON: %v", i, err)
		}
		if e.Type != name {
			return fmt.Errorf("event %d is %q but its data says %q", i, name, e.Type)
		}
		if ended {
			return fmt.Errorf("event %d (%s) after the final event", i, name)
		}
		if name != "message_start" && name != "error" && !started {
			return fmt.Errorf("event %d (%s) before message_start", i, name)
		}
		if deltaSent && name != "message_stop" && name != "error" {
			return fmt.Errorf("event %d (%s) after message_delta", i, name)
		}
		switch name {
		case "message_start":
			if started {
				return fmt.Errorf("second message_start")
			}
			started = true
			for k, v := range e.Message.Usage {
				if v != 0 {
					return fmt.Errorf("message_start usage %s = %d", k, v)
				}
				usage[k] = v
			}
		case "content_block_start":
			if e.Index == nil || *e.Index != len(kinds) || e.ContentBlock == nil {
				return fmt.Errorf("event %d starts block %v, want %d", i, e.Index, len(kinds))
			}
			if len(open) > 0 {
				return fmt.Errorf("event %d starts a block while another is open", i)
			}
			kinds = append(kinds, e.ContentBlock.Type)
			open[*e.Index] = true
		case "content_block_delta":
			if e.Index == nil || *e.Index >= len(kinds) || e.Delta == nil {
				return fmt.Errorf("event %d: delta for unknown block %v", i, e.Index)
			}
			want := map[string]string{"text_delta": "text", "input_json_delta": "tool_use", "thinking_delta": "thinking", "signature_delta": "thinking"}[e.Delta.Type]
			if want != kinds[*e.Index] {
				return fmt.Errorf("event %d: %s for a %s block", i, e.Delta.Type, kinds[*e.Index])
			}
			if !open[*e.Index] && e.Delta.Type != "input_json_delta" {
				return fmt.Errorf("event %d: %s for stopped block %d", i, e.Delta.Type, *e.Index)
			}
		case "content_block_stop":
			if e.Index == nil || !open[*e.Index] {
				return fmt.Errorf("event %d stops block %v, which is not open", i, e.Index)
			}
			delete(open, *e.Index)
		case "message_delta":
			if len(open) > 0 {
				return fmt.Errorf("message_delta with a block open")
			}
			deltaSent = true
			for k, v := range e.Usage {
				if v < usage[k] || v < 0 {
					return fmt.Errorf("usage %s went from %d to %d", k, usage[k], v)
				}
				usage[k] = v
			}
		case "message_stop":
			if !deltaSent {
				return fmt.Errorf("message_stop without message_delta")
			}
			ended = true
		case "error":
			ended = true
		default:
			return fmt.Errorf("event %d has unknown type %q", i, name)
		}
	}
	if !ended {
		return fmt.Errorf("no final event")
	}
	return nil
}
