package bedrock

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"sort"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/provider/providertest"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// fixedNow pins the signing clock and the answers' created time, so that
// golden files are deterministic.
var fixedNow = func() time.Time { return time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC) }

const testHost = "bedrock-runtime.us-east-1.amazonaws.com"

// hostCodec sends the real Bedrock host name to the fake upstream, so that
// signatures in golden files do not depend on the fake's random port.
type hostCodec struct{ Codec }

func (h hostCodec) BuildRequest(c *provider.Call, req *upstream.Request) error {
	if err := h.Codec.BuildRequest(c, req); err != nil {
		return err
	}
	req.Host = testHost
	return nil
}

func testCodec() Codec {
	return Codec{now: fixedNow, newID: func() string { return "chatcmpl-bedrock-0001" }}
}

// testEnv is a process environment with nothing AWS in it (and a HOME
// without ~/.aws), plus the given variables.
func testEnv(t testing.TB, vars map[string]string) func(string) (string, bool) {
	home := t.TempDir()
	return func(name string) (string, bool) {
		if v, ok := vars[name]; ok {
			return v, true
		}
		if name == "HOME" {
			return home, true
		}
		return "", false
	}
}

func newTestProvider(t testing.TB) providertest.Prepare {
	client := upstream.New(upstream.Options{})
	t.Cleanup(client.Close)
	p := &bedrockProvider{HTTP: provider.NewHTTP("bedrock", client, hostCodec{testCodec()}, Ops...)}
	env := testEnv(t, nil)
	return func(d *provider.Deployment) (provider.Provider, error) {
		if err := Prepare(d, env); err != nil {
			return nil, err
		}
		if s, ok := d.Signer.(*signer); ok {
			s.now = fixedNow
		}
		return p, nil
	}
}

// TestGolden replays every testdata case through a fake upstream: what
// Bedrock receives (signature included) and what the client gets back
// must match byte for byte.
func TestGolden(t *testing.T) {
	providertest.RunGolden(t, "testdata", newTestProvider(t), providertest.WithStreamFile("eventstream.json", encodeStreamFile))
}

// streamFrame is one frame of a readable event stream description:
// {"event": "contentBlockDelta", "payload": {...}} for an event,
// {"exception": "throttlingException", "payload": {...}} for an
// exception, or explicit "headers" (and "payload_raw" for a payload that
// is not JSON).
type streamFrame struct {
	Event      string            `json:"event"`
	Exception  string            `json:"exception"`
	Headers    map[string]string `json:"headers"`
	Payload    json.RawMessage   `json:"payload"`
	PayloadRaw *string           `json:"payload_raw"`
}

// encodeStreamFile turns upstream_response.eventstream.json into real
// event stream frames, one per element.
func encodeStreamFile(file []byte) ([][]byte, error) {
	var frames []streamFrame
	if err := json.Unmarshal(file, &frames); err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(frames))
	for i, f := range frames {
		headers := f.Headers
		switch {
		case f.Event != "":
			headers = map[string]string{":message-type": "event", ":event-type": f.Event, ":content-type": "application/json"}
		case f.Exception != "":
			headers = map[string]string{":message-type": "exception", ":exception-type": f.Exception, ":content-type": "application/json"}
		case headers == nil:
			return nil, fmt.Errorf("frame %d: no event, exception or headers", i)
		}
		payload := []byte(f.Payload)
		if f.PayloadRaw != nil {
			payload = []byte(*f.PayloadRaw)
		} else if len(payload) > 0 {
			var compact bytes.Buffer
			if err := json.Compact(&compact, payload); err != nil {
				return nil, fmt.Errorf("frame %d: %w", i, err)
			}
			payload = compact.Bytes()
		}
		out = append(out, encodeFrame(headers, payload))
	}
	return out, nil
}

// encodeFrame builds one event stream frame with string headers (in name
// order) and correct checksums.
func encodeFrame(headers map[string]string, payload []byte) []byte {
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	var hdr []byte
	for _, k := range names {
		hdr = append(hdr, byte(len(k)))
		hdr = append(hdr, k...)
		hdr = append(hdr, 7)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(headers[k])))
		hdr = append(hdr, headers[k]...)
	}
	total := preludeLen + len(hdr) + len(payload) + crcLen
	b := binary.BigEndian.AppendUint32(nil, uint32(total))
	b = binary.BigEndian.AppendUint32(b, uint32(len(hdr)))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	b = append(b, hdr...)
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}
