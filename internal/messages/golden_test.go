package messages

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/packages/ssestream"

	"github.com/switchboard-gw/switchboard/internal/openai"
)

var update = flag.Bool("update", false, "rewrite the expected files of the golden fixtures")

// Each directory under testdata is a case. Inputs and the outputs they
// must produce (rewritten by -update):
//
//	anthropic_request.json → openai_request.json     (ToChat)
//	openai_response.json   → anthropic_response.json (FromChat)
//	openai_stream.sse      → anthropic_stream.sse    (Stream)
//
// options.json holds the case's Options; the client model is the
// request's, else "claude-test".
const requestID = "req-test"

func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { runCase(t, dir) })
	}
}

type caseOptions struct {
	Claude bool `json:"claude"`
}

func runCase(t *testing.T, dir string) {
	var co caseOptions
	if b, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
		if err := json.Unmarshal(b, &co); err != nil {
			t.Fatal(err)
		}
	}
	model := "claude-test"
	ran := false
	if req, ok := read(t, dir, "anthropic_request.json"); ok {
		ran = true
		model = Model(req)
		out, stream, err := ToChat(req, Options(co))
		if err != nil {
			t.Fatalf("ToChat: %v", err)
		}
		checkChatRequest(t, out, req, stream)
		golden(t, dir, "openai_request.json", indent(t, out))
	}
	var message []byte
	if resp, ok := read(t, dir, "openai_response.json"); ok {
		ran = true
		out, err := FromChat(resp, model, requestID)
		if err != nil {
			t.Fatalf("FromChat: %v", err)
		}
		message = out
		golden(t, dir, "anthropic_response.json", indent(t, out))
		var m anthropic.Message
		if err := json.Unmarshal(out, &m); err != nil || m.Role != "assistant" || m.Model != anthropic.Model(model) {
			t.Errorf("the SDK does not read the message: %v %+v", err, m)
		}
	}
	if sse, ok := read(t, dir, "openai_stream.sse"); ok {
		ran = true
		out := convertStream(sse, model, len(sse))
		for _, size := range []int{1, 2, 3, 7, 64, 1000} {
			if again := convertStream(sse, model, size); !bytes.Equal(again, out) {
				t.Fatalf("fed %d bytes at a time, the output differs:\n%s\nwant:\n%s", size, again, out)
			}
		}
		golden(t, dir, "anthropic_stream.sse", out)
		last := checkEvents(t, out)
		acc, streamErr := accumulate(t, out)
		var apiErr *anthropic.Error
		switch {
		case last.Type == "error":
			if !errors.As(streamErr, &apiErr) || string(apiErr.Type()) != last.Error.Type {
				t.Errorf("the SDK reports %v for a stream ending in %+v", streamErr, last)
			}
		case last.Type != "message_stop" || streamErr != nil:
			t.Errorf("stream ends with %q; the SDK reports %v", last.Type, streamErr)
		}
		if message != nil && streamErr == nil {
			// The same answer, streamed or not, must reach an SDK user as
			// the same message.
			var whole anthropic.Message
			if err := json.Unmarshal(message, &whole); err != nil {
				t.Fatal(err)
			}
			if got, want := summarize(acc), summarize(&whole); !reflect.DeepEqual(got, want) {
				t.Errorf("accumulated stream differs from the message:\n got %+v\nwant %+v", got, want)
			}
		}
	}
	if !ran {
		t.Fatal("the case has no input file")
	}
}

func read(t *testing.T, dir, name string) ([]byte, bool) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if os.IsNotExist(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return b, true
}

func golden(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update if the change is intended)\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return append(buf.Bytes(), '\n')
}

func convertStream(in []byte, model string, size int) []byte {
	s := NewStream(model, requestID)
	var out []byte
	for len(in) > 0 {
		n := min(size, len(in))
		out = s.Write(out, in[:n])
		in = in[n:]
	}
	return s.End(out)
}

// checkChatRequest checks a converted request against the parsers that
// will read it: the pipeline's envelope and the translators' ChatRequest.
func checkChatRequest(t *testing.T, chat, anth []byte, stream bool) {
	t.Helper()
	var env openai.Envelope
	if err := openai.ParseEnvelope(chat, &env); err != nil {
		t.Fatalf("the pipeline refuses the converted request: %v\n%s", err, chat)
	}
	var src struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Metadata  struct {
			UserID string `json:"user_id"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(anth, &src); err != nil {
		t.Fatal(err)
	}
	if env.Model != src.Model || env.MaxTokens != src.MaxTokens || env.Stream != stream || env.User != src.Metadata.UserID {
		t.Errorf("envelope %+v does not match the request", env)
	}
	if stream && !env.IncludeUsage {
		t.Error("a streamed request must ask for usage")
	}
	var typed openai.ChatRequest
	if err := json.Unmarshal(chat, &typed); err != nil {
		t.Errorf("translators cannot decode the converted request: %v", err)
	}
}

type eventData struct {
	Type  string `json:"type"`
	Error struct {
		Type string `json:"type"`
	} `json:"error"`
}

// checkEvents checks the framing of every event: "event: <name>" and one
// data line whose JSON "type" is the name. It returns the last event.
func checkEvents(t *testing.T, out []byte) (last eventData) {
	t.Helper()
	for _, ev := range strings.Split(strings.TrimSuffix(string(out), "\n\n"), "\n\n") {
		lines := strings.Split(ev, "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			t.Fatalf("malformed event %q", ev)
		}
		last = eventData{}
		if err := json.Unmarshal([]byte(lines[1][len("data: "):]), &last); err != nil || last.Type != lines[0][len("event: "):] {
			t.Fatalf("event %q: data type %q, %v", ev, last.Type, err)
		}
	}
	return last
}

// accumulate reads the converted stream with the official SDK, as a client
// would, and builds the message with Message.Accumulate.
func accumulate(t *testing.T, sse []byte) (*anthropic.Message, error) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://gateway.test/v1/messages", nil)
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(sse)), Request: req}
	stream := ssestream.NewStream[anthropic.MessageStreamEventUnion](ssestream.NewDecoder(resp), nil)
	var m anthropic.Message
	for stream.Next() {
		if err := m.Accumulate(stream.Current()); err != nil {
			t.Fatalf("Accumulate: %v", err)
		}
	}
	return &m, stream.Err()
}

type blockSummary struct {
	Type, Text, ID, Name, Input, Thinking, Signature, Data string
}

type messageSummary struct {
	Content                 []blockSummary
	StopReason, StopSeq     string
	In, Out, CacheR, CacheW int64
}

func summarize(m *anthropic.Message) messageSummary {
	s := messageSummary{StopReason: string(m.StopReason), StopSeq: m.StopSequence,
		In: m.Usage.InputTokens, Out: m.Usage.OutputTokens, CacheR: m.Usage.CacheReadInputTokens, CacheW: m.Usage.CacheCreationInputTokens}
	for _, b := range m.Content {
		bs := blockSummary{Type: b.Type, Text: b.Text, ID: b.ID, Name: b.Name, Thinking: b.Thinking, Signature: b.Signature, Data: b.Data}
		if len(b.Input) > 0 {
			var v any
			if json.Unmarshal(b.Input, &v) == nil {
				n, _ := json.Marshal(v)
				bs.Input = string(n)
			}
		}
		s.Content = append(s.Content, bs)
	}
	return s
}
