package sse

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// chunkEvent is a typical chat.completion.chunk event as OpenAI sends it.
const chunkEvent = `data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_fc9f1d7035","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]}` + "\n\n"

// benchNext measures Next per event over a long stream that is replayed
// with Reset, so buffer warm-up is amortised as in a pooled Reader.
func benchNext(b *testing.B, stream string) {
	const n = 1000
	in := []byte(strings.Repeat(stream, n))
	src := bytes.NewReader(in)
	r := NewReader(src, 0)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%n == 0 {
			src.Reset(in)
			r.Reset(src)
		}
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNext(b *testing.B) {
	b.Run("chunk", func(b *testing.B) { benchNext(b, chunkEvent) })
	b.Run("chunk-crlf", func(b *testing.B) { benchNext(b, strings.ReplaceAll(chunkEvent, "\n", "\r\n")) })
	b.Run("with-comment", func(b *testing.B) { benchNext(b, ": keep-alive\n\n"+chunkEvent) })
	b.Run("named", func(b *testing.B) {
		benchNext(b, "event: content_block_delta\n"+`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`+"\n\n")
	})
	b.Run("multiline", func(b *testing.B) { benchNext(b, "data: {\ndata: \"a\": 1\ndata: }\n\n") })
}

func BenchmarkNewReader(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := NewReader(strings.NewReader(chunkEvent), 0)
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReset(b *testing.B) {
	src := strings.NewReader(chunkEvent)
	r := NewReader(src, 0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		src.Reset(chunkEvent)
		r.Reset(src)
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendData(b *testing.B) {
	payload := []byte(chunkEvent[len("data: ") : len(chunkEvent)-2])
	dst := make([]byte, 0, 1024)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = AppendData(dst[:0], payload)
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	payload := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`)
	dst := make([]byte, 0, 1024)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = AppendEvent(dst[:0], "content_block_delta", payload)
	}
}

// FuzzReader: no panic, and the events (and the way the stream ends) do
// not depend on how the source splits its bytes into reads.
func FuzzReader(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.sse"))
	for _, file := range files {
		in, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(in, uint64(1))
	}
	f.Add([]byte("data: a\r\ndata: b\r\r\n\ndata: c\r"), uint64(7))
	f.Add([]byte("\xEF\xBB\xBFevent: x\nid: 1\ndata\n\n: c\n"), uint64(3))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		const max = 512
		want, wantErr := readAll(NewReader(bytes.NewReader(in), max))
		src := &shortReader{data: in, rng: rand.New(rand.NewPCG(seed, seed>>1)), maxN: int(seed % 64)}
		got, gotErr := readAll(NewReader(src, max))
		if gotErr != wantErr {
			t.Fatalf("split reads ended with %v, whole input with %v", gotErr, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("split reads gave %d events, whole input %d\n%v\n%v", len(got), len(want), got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("event %d: split %v, whole %v", i, got[i], want[i])
			}
		}
		if wantErr != io.EOF && wantErr != io.ErrUnexpectedEOF && wantErr != ErrEventTooLarge {
			t.Fatalf("unexpected error %v", wantErr)
		}
	})
}
