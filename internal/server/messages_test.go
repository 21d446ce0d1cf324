package server

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/messages"
)

func TestMatchMessages(t *testing.T) {
	for path, want := range map[string]int{
		"/v1/messages":              messagesCreate,
		"/messages":                 messagesCreate,
		"/v1/messages/count_tokens": messagesCountTokens,
		"/messages/count_tokens":    messagesCountTokens,
		"/v1/messages/batches":      0,
		"/v1/v1/messages":           0,
		"/v1/chat/completions":      0,
	} {
		if got := matchMessages([]byte(path)); got != want {
			t.Errorf("%s: %d, want %d", path, got, want)
		}
	}
}

// fakeSource is the pipeline's side of a stream: its pieces, then io.EOF.
type fakeSource struct {
	pieces []string
	reads  int
	done   bool
	err    error
}

func (f *fakeSource) Read(p []byte) (int, error) {
	f.reads++
	if len(f.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.pieces[0])
	f.pieces[0] = f.pieces[0][n:]
	if f.pieces[0] == "" {
		f.pieces = f.pieces[1:]
	}
	return n, nil
}

func (f *fakeSource) Done(err error) { f.done, f.err = true, err }

func newMessagesStream(src *fakeSource) *messagesStream {
	ms := messagesStreams.Get().(*messagesStream)
	ms.src = src
	ms.conv.Reset("claude-test", "req-1")
	return ms
}

func readAll(t *testing.T, r io.Reader, size int) string {
	t.Helper()
	var b strings.Builder
	p := make([]byte, size)
	for {
		n, err := r.Read(p)
		b.Write(p[:n])
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestMessagesStreamConvertsAndDrains(t *testing.T) {
	chunk := `data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}` + "\n\n"
	finish := `data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	src := &fakeSource{pieces: []string{chunk[:10], chunk[10:] + finish, "data: [DONE]\n\n"}}
	ms := newMessagesStream(src)
	// A small client buffer: converted events span several reads.
	got := readAll(t, ms, 7)
	want := messages.NewStream("claude-test", "req-1")
	expect := string(want.End(want.Write(nil, []byte(chunk+finish+"data: [DONE]\n\n"))))
	if got != expect {
		t.Fatalf("got\n%s\nwant\n%s", got, expect)
	}
	if len(src.pieces) != 0 {
		t.Error("the source was not read to its end")
	}
	ms.Done(nil)
	if !src.done || src.err != nil {
		t.Errorf("Done not passed on: %v %v", src.done, src.err)
	}
}

func TestMessagesStreamWithoutDoneEndsInError(t *testing.T) {
	src := &fakeSource{pieces: []string{`data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hi"}}]}` + "\n\n"}}
	ms := newMessagesStream(src)
	got := readAll(t, ms, 4096)
	if !strings.HasSuffix(got, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"the upstream stream ended before it was complete\"}}\n\n") || strings.Contains(got, "message_stop") {
		t.Errorf("truncated stream converted to\n%s", got)
	}
	writeErr := errors.New("broken pipe")
	ms.Done(writeErr)
	if src.err != writeErr {
		t.Errorf("the write error was not passed on: %v", src.err)
	}
}
