package bedrock

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// FuzzStreamDecoder feeds arbitrary bytes through the event stream reader
// and the ConverseStream decoder. With fixCRC the checksums are recomputed
// first, so the fuzzer gets past them to headers and payloads. It must not
// panic, every data payload but [DONE] must be valid JSON, events must be
// framed, and usage must never decrease.
func FuzzStreamDecoder(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/upstream_response.eventstream.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		frames, err := encodeStreamFile(b)
		if err != nil {
			f.Fatal(err)
		}
		stream := bytes.Join(frames, nil)
		f.Add(stream, false, false, false)
		f.Add(stream, true, true, false)
		f.Add(stream, true, false, true)
	}
	f.Add([]byte{}, false, true, false)
	f.Fuzz(func(t *testing.T, stream []byte, wantUsage, fixCRC, jsonMode bool) {
		if fixCRC {
			stream = fixChecksums(stream)
		}
		body := `{"model":"m","messages":[],"stream":true}`
		if jsonMode {
			body = `{"model":"m","messages":[],"stream":true,"response_format":{"type":"json_schema","json_schema":{"name":"person","schema":{}}}}`
		}
		c := &provider.Call{Op: provider.OpChat, Body: []byte(body), Envelope: &openai.Envelope{Stream: true, IncludeUsage: wantUsage},
			Deployment: &provider.Deployment{Provider: "bedrock"}, ClientModel: "m"}
		dec := testCodec().NewStreamDecoder(c)
		r := newEventReader(bytes.NewReader(stream))
		var out []byte
		var last int64
		for i := 0; i < 10000; i++ {
			ev, err := r.Next()
			if err != nil {
				break
			}
			n := len(out)
			var done bool
			out, done, err = dec.Event(ev, out)
			if len(out) > n && !bytes.HasSuffix(out, []byte("\n\n")) {
				t.Fatalf("event not framed: %q", out[n:])
			}
			if u := dec.Usage(); u.TotalTokens < last || u.PromptTokens < 0 || u.CompletionTokens < 0 {
				t.Fatalf("usage went from %d to %+v", last, u)
			} else {
				last = u.TotalTokens
			}
			if done || err != nil {
				break
			}
		}
		for _, ev := range bytes.SplitAfter(out, []byte("\n\n")) {
			if len(ev) == 0 {
				continue
			}
			data, ok := bytes.CutPrefix(ev, []byte("data: "))
			if !ok {
				t.Fatalf("not a data event: %q", ev)
			}
			data = bytes.TrimSuffix(data, []byte("\n\n"))
			if string(data) != "[DONE]" && !json.Valid(data) {
				t.Fatalf("invalid JSON payload: %q", data)
			}
		}
	})
}

// fixChecksums rewrites the CRCs of every whole frame in b (by the
// lengths its preludes declare) so that mutated frames still pass them.
func fixChecksums(b []byte) []byte {
	b = bytes.Clone(b)
	for i := 0; i+minFrame <= len(b); {
		total := int(binary.BigEndian.Uint32(b[i:]))
		if total < minFrame || i+total > len(b) {
			break
		}
		binary.BigEndian.PutUint32(b[i+8:], crc32.ChecksumIEEE(b[i:i+8]))
		binary.BigEndian.PutUint32(b[i+total-4:], crc32.ChecksumIEEE(b[i:i+total-4]))
		i += total
	}
	return b
}
