package bedrock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

func frame(event, payload string) []byte {
	return encodeFrame(map[string]string{":message-type": "event", ":event-type": event, ":content-type": "application/json"}, []byte(payload))
}

func readAll(t *testing.T, r *eventReader) (names, ids, data []string, err error) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		ev, e := r.Next()
		if e != nil {
			return names, ids, data, e
		}
		names, ids, data = append(names, string(ev.Name)), append(ids, string(ev.ID)), append(data, string(ev.Data))
	}
	t.Fatal("reader does not end")
	return
}

func TestEventReaderFrames(t *testing.T) {
	var body []byte
	body = append(body, frame("messageStart", `{"role":"assistant"}`)...)
	body = append(body, encodeFrame(map[string]string{":message-type": "exception", ":exception-type": "throttlingException"}, []byte(`{"message":"slow down"}`))...)
	body = append(body, encodeFrame(map[string]string{":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom"}, nil)...)
	body = append(body, frame("metadata", ``)...)
	// One byte at a time: every frame straddles reads.
	r := newEventReader(iotest.OneByteReader(bytes.NewReader(body)))
	names, ids, data, err := readAll(t, r)
	if err != io.EOF {
		t.Fatalf("err = %v", err)
	}
	wantNames := []string{"messageStart", "throttlingException", "InternalFailure", "metadata", kindEnd}
	wantIDs := []string{kindEvent, kindException, kindError, kindEvent, kindEnd}
	wantData := []string{`{"role":"assistant"}`, `{"message":"slow down"}`, "boom", "", ""}
	for i := range wantNames {
		if i >= len(names) || names[i] != wantNames[i] || ids[i] != wantIDs[i] || data[i] != wantData[i] {
			t.Fatalf("events = %q %q %q", names, ids, data)
		}
	}
	if len(names) != len(wantNames) {
		t.Fatalf("events = %q", names)
	}
}

// The SDK's encoder is the reference for the framing, with every header
// type, which the reader must step over.
func TestEventReaderDecodesSDKFrames(t *testing.T) {
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	msgs := []eventstream.Message{
		{Headers: eventstream.Headers{
			{Name: "flag-true", Value: eventstream.BoolValue(true)},
			{Name: "flag-false", Value: eventstream.BoolValue(false)},
			{Name: "i8", Value: eventstream.Int8Value(-3)},
			{Name: "i16", Value: eventstream.Int16Value(300)},
			{Name: "i32", Value: eventstream.Int32Value(70000)},
			{Name: "i64", Value: eventstream.Int64Value(1 << 40)},
			{Name: "blob", Value: eventstream.BytesValue([]byte{0, 1, 2})},
			{Name: ":event-type", Value: eventstream.StringValue("contentBlockDelta")},
			{Name: "ts", Value: eventstream.TimestampValue(time.Unix(1700000000, 0))},
			{Name: "id", Value: eventstream.UUIDValue{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		}, Payload: []byte(`{"contentBlockIndex":0,"delta":{"text":"hi"}}`)},
		{Headers: eventstream.Headers{{Name: ":message-type", Value: eventstream.StringValue("event")}, {Name: ":event-type", Value: eventstream.StringValue("messageStop")}}, Payload: []byte(`{"stopReason":"end_turn"}`)},
	}
	for _, m := range msgs {
		if err := enc.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	names, _, data, err := readAll(t, newEventReader(&buf))
	if err != io.EOF || len(names) != 3 || names[0] != "contentBlockDelta" || data[0] != string(msgs[0].Payload) || names[1] != "messageStop" || names[2] != kindEnd {
		t.Fatalf("names %q data %q err %v", names, data, err)
	}

	// And the other way round: the SDK decodes what the tests encode.
	dec := eventstream.NewDecoder()
	m, err := dec.Decode(bytes.NewReader(frame("messageStart", `{"role":"assistant"}`)), nil)
	if err != nil || m.Headers.Get(":event-type").String() != "messageStart" || string(m.Payload) != `{"role":"assistant"}` {
		t.Fatalf("SDK decode: %v %v", m, err)
	}
}

func TestEventReaderRejectsCorruption(t *testing.T) {
	good := frame("messageStart", `{"role":"assistant"}`)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	oversized := bytes.Clone(good)
	binary.BigEndian.PutUint32(oversized[0:], maxFrame+1)
	binary.BigEndian.PutUint32(oversized[8:], crc(oversized[:8]))
	headersTooLong := bytes.Clone(good)
	binary.BigEndian.PutUint32(headersTooLong[4:], uint32(len(good)))
	binary.BigEndian.PutUint32(headersTooLong[8:], crc(headersTooLong[:8]))
	tooShort := bytes.Clone(good)
	binary.BigEndian.PutUint32(tooShort[0:], 8)
	binary.BigEndian.PutUint32(tooShort[8:], crc(tooShort[:8]))
	badHeader := encodeFrame(map[string]string{"x": "y"}, nil)
	badHeader[preludeLen+2] = 42 // the type byte of header "x"
	binary.BigEndian.PutUint32(badHeader[len(badHeader)-4:], crc(badHeader[:len(badHeader)-4]))

	for _, tc := range []struct {
		name string
		body []byte
		want error
	}{
		{"prelude CRC", flip(9), errPreludeCRC},
		{"total length", flip(2), errPreludeCRC},
		{"payload byte", flip(len(good) - 6), errMessageCRC},
		{"message CRC", flip(len(good) - 1), errMessageCRC},
		{"oversized length", oversized, errFrameLen},
		{"headers longer than frame", headersTooLong, errFrameLen},
		{"frame shorter than prelude", tooShort, errFrameLen},
		{"unknown header type", badHeader, errHeaders},
		{"truncated prelude", good[:7], io.ErrUnexpectedEOF},
		{"truncated payload", good[:len(good)-5], io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := readAll(t, newEventReader(bytes.NewReader(tc.body)))
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func crc(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// A cut connection is reported as the body's error, not as a clean end.
func TestEventReaderPassesReadErrors(t *testing.T) {
	cut := errors.New("connection reset")
	r := newEventReader(io.MultiReader(bytes.NewReader(frame("messageStart", `{}`)), iotest.ErrReader(cut)))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, cut) {
		t.Fatalf("err = %v", err)
	}
}

func TestEventReaderBuffered(t *testing.T) {
	two := append(frame("a", `{}`), frame("b", `{}`)...)
	r := newEventReader(bytes.NewReader(two))
	if r.Buffered() {
		t.Error("nothing read yet")
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if !r.Buffered() {
		t.Error("the second frame arrived with the first")
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() {
		t.Error("nothing left")
	}
}
