package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// ev is a comparable copy of an Event for table tests.
type ev struct {
	name, id, data string
	hasData        bool
}

func (e ev) String() string {
	return fmt.Sprintf("{name=%q id=%q data=%q hasData=%v}", e.name, e.id, e.data, e.hasData)
}

func copyEvent(e Event) ev {
	return ev{name: string(e.Name), id: string(e.ID), data: string(e.Data), hasData: e.Data != nil}
}

// readAll returns the events of the stream and the error that ended it.
func readAll(r *Reader) ([]ev, error) {
	var out []ev
	for {
		e, err := r.Next()
		if err != nil {
			return out, err
		}
		out = append(out, copyEvent(e))
	}
}

func d(s string) ev { return ev{data: s, hasData: true} }

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []ev
		err  error
	}{
		{"empty", "", nil, io.EOF},
		{"single", "data: hello\n\n", []ev{d("hello")}, io.EOF},
		{"no space", "data:hello\n\n", []ev{d("hello")}, io.EOF},
		{"only one space removed", "data:  two\n\n", []ev{d(" two")}, io.EOF},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []ev{d("a"), d("b")}, io.EOF},
		{"cr", "data: a\r\rdata: b\r\r", []ev{d("a"), d("b")}, io.EOF},
		{"mixed", "data: a\r\n\ndata: b\r\n\rdata: c\n\r\n", []ev{d("a"), d("b"), d("c")}, io.EOF},
		{"multi data", "data: a\ndata: b\ndata:\ndata: c\n\n", []ev{d("a\nb\n\nc")}, io.EOF},
		{"empty data", "data:\n\n", []ev{d("")}, io.EOF},
		{"data no colon", "data\n\n", []ev{d("")}, io.EOF},
		{"named", "event: ping\ndata: {}\n\n", []ev{{name: "ping", data: "{}", hasData: true}}, io.EOF},
		{"name only", "event: done\n\n", []ev{{name: "done"}}, io.EOF},
		{"last name wins", "event: a\nevent: b\ndata: x\n\n", []ev{{name: "b", data: "x", hasData: true}}, io.EOF},
		{"empty event resets name", "event: a\nevent:\ndata: x\n\n", []ev{d("x")}, io.EOF},
		{"id", "id: 7\ndata: x\n\n", []ev{{id: "7", data: "x", hasData: true}}, io.EOF},
		{"id with nul ignored", "id: 7\x00\ndata: x\n\n", []ev{d("x")}, io.EOF},
		{"id only skipped", "id: 7\n\ndata: x\n\n", []ev{d("x")}, io.EOF},
		{"comments", ": keep-alive\n\n: OPENROUTER PROCESSING\n\ndata: x\n: in the middle\ndata: y\n\n", []ev{d("x\ny")}, io.EOF},
		{"comment only", ": ping\n", nil, io.EOF},
		{"unknown fields", "retry: 10\nfoo: bar\ndata: x\n\n", []ev{d("x")}, io.EOF},
		{"blank lines", "\n\n\r\n\rdata: x\n\n\n\n", []ev{d("x")}, io.EOF},
		{"colon in value", "data: a:b: c\n\n", []ev{d("a:b: c")}, io.EOF},
		{"field is case sensitive", "Data: x\n\n", nil, io.EOF},
		{"bom", "\xEF\xBB\xBFdata: x\n\n", []ev{d("x")}, io.EOF},
		{"bom only first", "\xEF\xBB\xBFdata: x\n\n\xEF\xBB\xBFdata: y\n\n", []ev{d("x")}, io.EOF},
		{"partial line", "data: x\n\ndata: y", []ev{d("x")}, io.ErrUnexpectedEOF},
		{"partial event", "data: x\n\ndata: y\n", []ev{d("x")}, io.ErrUnexpectedEOF},
		{"partial comment line", "data: x\n\n: ping", []ev{d("x")}, io.ErrUnexpectedEOF},
		{"trailing cr ends cleanly", "data: x\r\r", []ev{d("x")}, io.EOF},
		{"done", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []ev{d(`{"a":1}`), d("[DONE]")}, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole input, one byte at a time, and random splits must agree.
			readers := map[string]io.Reader{
				"whole":   strings.NewReader(tt.in),
				"onebyte": iotest.OneByteReader(strings.NewReader(tt.in)),
				"halves":  io.MultiReader(strings.NewReader(tt.in[:len(tt.in)/2]), strings.NewReader(tt.in[len(tt.in)/2:])),
				"random":  &shortReader{data: []byte(tt.in), rng: rand.New(rand.NewPCG(1, 2))},
			}
			for rname, src := range readers {
				got, err := readAll(NewReader(src, 0))
				if !errors.Is(err, tt.err) {
					t.Errorf("%s: err = %v, want %v", rname, err, tt.err)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("%s: got %v\nwant %v", rname, got, tt.want)
				}
			}
		})
	}
}

// TestCRLFAcrossReads: a CR ending one read and the LF starting the next
// are one line break, not two (two would dispatch an extra, empty event
// boundary and split "a" from "b").
func TestCRLFAcrossReads(t *testing.T) {
	src := io.MultiReader(strings.NewReader("data: a\r"), strings.NewReader("\ndata: b\r"), strings.NewReader("\n\r"), strings.NewReader("\ndata: c\r\n\r\n"))
	got, err := readAll(NewReader(src, 0))
	want := []ev{d("a\nb"), d("c")}
	if err != io.EOF || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
}

// TestCRDispatchesWithoutWaiting: an event ended by CR must be returned
// before the next read, or CR-only streams would stall a whole event.
func TestCRDispatchesWithoutWaiting(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewReader(pr, 0)
	go pw.Write([]byte("data: x\r\r"))
	e, err := r.Next()
	if err != nil || string(e.Data) != "x" {
		t.Fatalf("got %v, %v", copyEvent(e), err)
	}
	go func() {
		pw.Write([]byte("\ndata: y\r\n\r\n"))
		pw.Close()
	}()
	got, err := readAll(r)
	if err != io.EOF || fmt.Sprint(got) != fmt.Sprint([]ev{d("y")}) {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestMaxEventSize(t *testing.T) {
	const max = 100
	fits := "data: " + strings.Repeat("x", max-6) + "\n" // max bytes before the line break
	tooBig := "data: " + strings.Repeat("x", max-5) + "\n"
	for _, src := range []func(string) io.Reader{
		func(s string) io.Reader { return strings.NewReader(s) },
		func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
	} {
		r := NewReader(src(fits+"\n"+fits+"\n"), max)
		got, err := readAll(r)
		if err != io.EOF || len(got) != 2 {
			t.Fatalf("event of exactly max bytes: got %d events, %v", len(got), err)
		}
		r = NewReader(src(fits+"\n"+tooBig+"\n"+fits+"\n"), max)
		got, err = readAll(r)
		if err != ErrEventTooLarge || len(got) != 1 {
			t.Fatalf("too large: got %d events, %v", len(got), err)
		}
		if _, err := r.Next(); err != ErrEventTooLarge {
			t.Fatalf("error not sticky: %v", err)
		}
		// Several lines adding up to more than max.
		r = NewReader(src(strings.Repeat("data: 012345678\r\n", 5)+"data: 012345678\r\n\r\n"), max)
		if got, err = readAll(r); err != io.EOF || len(got) != 1 {
			t.Fatalf("multi-line of max bytes: %v, %v", got, err)
		}
		r = NewReader(src(strings.Repeat("data: 012345678\r\n", 5)+"data: 0123456789\r\n\r\n"), max)
		if _, err = readAll(r); err != ErrEventTooLarge {
			t.Fatalf("multi-line: %v", err)
		}
		// A comment longer than max is refused too.
		r = NewReader(src(":"+strings.Repeat("x", max)+"\n"), max)
		if _, err = readAll(r); err != ErrEventTooLarge {
			t.Fatalf("long comment: %v", err)
		}
		// A line with no end in sight is refused without buffering it all.
		r = NewReader(io.MultiReader(src("data: "), neverEnding('x')), max)
		if _, err = readAll(r); err != ErrEventTooLarge {
			t.Fatalf("endless line: %v", err)
		}
	}
}

// TestLargeEvent crosses many buffer refills and growths.
func TestLargeEvent(t *testing.T) {
	big := strings.Repeat("abcdefghij", 50_000) // 500 KB, above readSize
	in := ": hi\n\ndata: " + big + "\ndata: " + big + "\n\ndata: small\n\n"
	r := NewReader(&shortReader{data: []byte(in), rng: rand.New(rand.NewPCG(3, 4)), maxN: 70_000}, 0)
	got, err := readAll(r)
	if err != io.EOF || len(got) != 2 || got[0].data != big+"\n"+big || got[1].data != "small" {
		t.Fatalf("got %d events, %v", len(got), err)
	}
}

func TestSourceError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)), 0)
	got, err := readAll(r)
	if err != boom || fmt.Sprint(got) != fmt.Sprint([]ev{d("a")}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := r.Next(); err != boom {
		t.Fatalf("error not sticky: %v", err)
	}
	// Data that arrives together with an error is still delivered.
	r = NewReader(iotest.DataErrReader(strings.NewReader("data: a\n\n")), 0)
	if got, err := readAll(r); err != io.EOF || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestNoProgress(t *testing.T) {
	r := NewReader(zeroReader{}, 0)
	if _, err := r.Next(); err != io.ErrNoProgress {
		t.Fatalf("err = %v", err)
	}
}

func TestReset(t *testing.T) {
	r := NewReader(strings.NewReader("data: a\n\ndata: partial"), 0)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	r.Reset(strings.NewReader("\xEF\xBB\xBFdata: b\n\n"))
	got, err := readAll(r)
	if err != io.EOF || fmt.Sprint(got) != fmt.Sprint([]ev{d("b")}) {
		t.Fatalf("got %v, %v", got, err)
	}
	// Reset on a zero Reader works too.
	var z Reader
	z.Reset(strings.NewReader("data: c\n\n"))
	if got, err := readAll(&z); err != io.EOF || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
}

// TestSlicesDoNotAlias: appending to a returned slice must not corrupt
// the rest of the stream.
func TestSlicesDoNotAlias(t *testing.T) {
	r := NewReader(strings.NewReader("event: e\nid: 1\ndata: a\n\ndata: b\n\n"), 0)
	e, _ := r.Next()
	_ = append(e.Data, "XXXXXXXXXXXXXXXXXXXX"...)
	_ = append(e.Name, "XXXXXXXXXXXXXXXXXXXX"...)
	_ = append(e.ID, "XXXXXXXXXXXXXXXXXXXX"...)
	e, err := r.Next()
	if err != nil || string(e.Data) != "b" {
		t.Fatalf("got %v, %v", copyEvent(e), err)
	}
}

func TestReadsInLargeChunks(t *testing.T) {
	in := strings.Repeat("data: {\"choices\":[]}\n\n", 10_000)
	cr := &countingReader{r: strings.NewReader(in)}
	got, err := readAll(NewReader(cr, 0))
	if err != io.EOF || len(got) != 10_000 {
		t.Fatalf("got %d, %v", len(got), err)
	}
	if max := len(in)/readSize + 2; cr.reads > max {
		t.Fatalf("%d reads for %d bytes, want <= %d", cr.reads, len(in), max)
	}
}

func TestRecordedStreams(t *testing.T) {
	fixtures := []struct {
		file   string
		events int
		last   string
		name   string // name of the last event
	}{
		{"openai_usage.sse", 6, "[DONE]", ""},
		{"openai_tools.sse", 5, "[DONE]", ""},
		{"groq.sse", 4, "[DONE]", ""},
		{"deepseek_keepalive.sse", 5, "[DONE]", ""},
		{"openrouter_usage.sse", 4, "[DONE]", ""},
		{"openrouter_usage_crlf.sse", 4, "[DONE]", ""},
		{"openrouter_error.sse", 2, "", ""},
		{"anthropic.sse", 7, `{"type":"message_stop"}`, "message_stop"},
	}
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", f.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(NewReader(bytes.NewReader(in), 0))
			if err != io.EOF {
				t.Fatalf("err = %v", err)
			}
			if len(got) != f.events {
				t.Fatalf("got %d events, want %d: %v", len(got), f.events, got)
			}
			last := got[len(got)-1]
			if f.last != "" && last.data != f.last || last.name != f.name {
				t.Fatalf("last event = %v, want data %q name %q", last, f.last, f.name)
			}
			for _, e := range got {
				if strings.ContainsAny(e.data, "\r\n") || strings.HasPrefix(e.data, " ") {
					t.Fatalf("framing leaked into data: %q", e.data)
				}
			}
		})
	}
}

func TestAppendData(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1}`, "data: {\"a\":1}\n\n"},
		{"", "data: \n\n"},
		{"a\nb", "data: a\ndata: b\n\n"},
		{"a\r\nb\rc\n", "data: a\ndata: b\ndata: c\ndata: \n\n"},
	}
	for _, tt := range tests {
		if got := string(AppendData([]byte("x"), []byte(tt.in))); got != "x"+tt.want {
			t.Errorf("AppendData(%q) = %q, want %q", tt.in, got, "x"+tt.want)
		}
	}
	if got := string(AppendEvent(nil, "message_start", []byte("{}"))); got != "event: message_start\ndata: {}\n\n" {
		t.Errorf("AppendEvent = %q", got)
	}
	if got := string(AppendEvent(nil, "a\r\nb", []byte("x\ny"))); got != "event: ab\ndata: x\ndata: y\n\n" {
		t.Errorf("AppendEvent = %q", got)
	}
	if got := string(AppendEvent(nil, "", []byte("x"))); got != "data: x\n\n" {
		t.Errorf("AppendEvent = %q", got)
	}
}

// TestWriteReadRoundTrip: what we write reads back as the same event, with
// line breaks normalised to LF (the format cannot carry CR in data).
func TestWriteReadRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("ab:\r\n \x00é")
	for range 2000 {
		p := make([]byte, rng.IntN(20))
		for i := range p {
			p[i] = alphabet[rng.IntN(len(alphabet))]
		}
		name := string(p[:rng.IntN(len(p)+1)])
		out := AppendEvent(nil, name, p)
		got, err := readAll(NewReader(bytes.NewReader(out), 0))
		if err != io.EOF || len(got) != 1 {
			t.Fatalf("%q: %v %v", out, got, err)
		}
		wantData := strings.ReplaceAll(strings.ReplaceAll(string(p), "\r\n", "\n"), "\r", "\n")
		wantName := strings.NewReplacer("\r", "", "\n", "").Replace(name)
		if got[0].data != wantData || got[0].name != wantName {
			t.Fatalf("%q: got %v, want name %q data %q", out, got[0], wantName, wantData)
		}
	}
}

// shortReader returns random short reads (including zero-length ones).
type shortReader struct {
	data []byte
	rng  *rand.Rand
	maxN int
}

func (s *shortReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	maxN := s.maxN
	if maxN == 0 {
		maxN = 8
	}
	n := min(s.rng.IntN(maxN+1), len(p), len(s.data))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

func TestBuffered(t *testing.T) {
	for _, tc := range []struct {
		stream string
		reads  int  // events to read first
		want   bool // Buffered afterwards
	}{
		{"data: a\n\ndata: b\n\n", 1, true},
		{"data: a\n\ndata: b\n", 1, false},  // second event incomplete
		{"data: a\n\n: ping\n\n", 1, false}, // only a comment follows
		{"data: a\n\nevent: x\ndata: b\n\n", 1, true},
		{"data: a\r\n\r\ndata: b\r\n\r\n", 1, true},
		{"data: a\n\n", 1, false},
		{"data: a\n\ndata: b\n\n", 2, false},
	} {
		r := NewReader(strings.NewReader(tc.stream), 0)
		for i := 0; i < tc.reads; i++ {
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
		}
		if got := r.Buffered(); got != tc.want {
			t.Errorf("%q after %d: Buffered() = %v, want %v", tc.stream, tc.reads, got, tc.want)
		}
	}
}
