package bedrock

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/sse"
)

// ConverseStream answers in the AWS event stream framing
// (application/vnd.amazon.eventstream), not SSE. Each frame is
//
//	[total length u32][headers length u32][prelude CRC32 u32]
//	[headers][payload][message CRC32 u32]
//
// big-endian, CRC-32/IEEE over the 8 prelude bytes and over everything
// before the message CRC respectively. A header is [name length u8][name]
// [type u8][value]; Bedrock only sends strings (type 7: [length u16]
// [bytes]), but every type is parsed so that an unexpected header cannot
// desynchronise the reader.

const (
	preludeLen = 12
	crcLen     = 4
	// minFrame is a frame with no headers and no payload.
	minFrame = preludeLen + crcLen
	// maxFrame bounds one frame. The protocol allows 16 MiB; Converse
	// events are a few hundred bytes, so a larger length is corruption, and
	// believing it would let one bad prelude make us buffer that much.
	maxFrame = 16 << 20
	// maxHeaders is the protocol's limit on the headers section.
	maxHeaders = 128 << 10
)

// Frame kinds, carried in sse.Event.ID so that the stream decoder can
// tell an event from an exception without guessing from its name.
const (
	kindEvent     = "event"
	kindException = "exception"
	kindError     = "error"
	// kindEnd marks the clean end of the body at a frame boundary. The
	// shared stream pump treats any reader error as a cut stream, but a
	// Converse stream may legitimately end without its metadata event, so
	// the reader presents a clean end as one last event and lets the
	// decoder judge whether the stream was complete.
	kindEnd = ":end"
)

var (
	errPreludeCRC = errors.New("event stream: prelude checksum mismatch")
	errMessageCRC = errors.New("event stream: message checksum mismatch")
	errFrameLen   = errors.New("event stream: invalid frame length")
	errHeaders    = errors.New("event stream: malformed headers")
)

// eventReader decodes frames from a streamed body. Events it returns
// point into its buffer and are valid until the next call.
type eventReader struct {
	src  io.Reader
	buf  []byte
	r, w int
	err  error // sticky: the body's end or failure, once reached
	done bool  // the end event or an error was returned
}

// readBufs keeps the read buffers of finished streams; a stream's buffer
// is its largest allocation.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

func newEventReader(src io.Reader) *eventReader {
	return &eventReader{src: src, buf: (*readBufs.Get().(*[]byte))[:0]}
}

// Next implements provider.EventReader.
func (r *eventReader) Next() (sse.Event, error) {
	if r.done {
		return sse.Event{}, io.EOF
	}
	ev, err := r.next()
	if err != nil {
		r.finish()
		if err == io.EOF {
			return sse.Event{ID: []byte(kindEnd), Name: []byte(kindEnd)}, nil
		}
		return sse.Event{}, err
	}
	return ev, nil
}

// finish gives the buffer back: nothing returned earlier is valid any
// more once the caller asks past the end.
func (r *eventReader) finish() {
	r.done = true
	if r.buf != nil && cap(r.buf) <= 64<<10 {
		b := r.buf[:0]
		readBufs.Put(&b)
	}
	r.buf, r.r, r.w = nil, 0, 0
}

// Buffered implements provider.EventReader: a whole frame is buffered.
func (r *eventReader) Buffered() bool {
	if r.done {
		return false
	}
	n := r.w - r.r
	if n < preludeLen {
		return false
	}
	total := int(binary.BigEndian.Uint32(r.buf[r.r:]))
	return total <= n
}

func (r *eventReader) next() (sse.Event, error) {
	if err := r.fill(preludeLen); err != nil {
		return sse.Event{}, err
	}
	p := r.buf[r.r : r.r+preludeLen]
	total := binary.BigEndian.Uint32(p[0:4])
	hdrLen := binary.BigEndian.Uint32(p[4:8])
	if crc32.ChecksumIEEE(p[:8]) != binary.BigEndian.Uint32(p[8:12]) {
		return sse.Event{}, errPreludeCRC
	}
	if total < minFrame || total > maxFrame || hdrLen > maxHeaders || hdrLen > total-minFrame {
		return sse.Event{}, errFrameLen
	}
	if err := r.fill(int(total)); err != nil {
		return sse.Event{}, err
	}
	frame := r.buf[r.r : r.r+int(total)]
	r.r += int(total)
	body := frame[:total-crcLen]
	if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(frame[total-crcLen:]) {
		return sse.Event{}, errMessageCRC
	}
	return decodeFrame(body[preludeLen:preludeLen+hdrLen], body[preludeLen+hdrLen:])
}

// decodeFrame reads the headers that matter and builds the event.
func decodeFrame(headers, payload []byte) (sse.Event, error) {
	var msgType, eventType, exceptionType, errorCode, errorMessage []byte
	for len(headers) > 0 {
		nameLen := int(headers[0])
		if nameLen == 0 || len(headers) < 2+nameLen {
			return sse.Event{}, errHeaders
		}
		name := headers[1 : 1+nameLen]
		typ := headers[1+nameLen]
		rest := headers[2+nameLen:]
		var value []byte
		var n int
		switch typ {
		case 0, 1: // bool true, bool false: no value bytes
		case 2:
			n = 1
		case 3:
			n = 2
		case 4:
			n = 4
		case 5, 8: // int64, timestamp
			n = 8
		case 9: // uuid
			n = 16
		case 6, 7: // bytes, string
			if len(rest) < 2 {
				return sse.Event{}, errHeaders
			}
			l := int(binary.BigEndian.Uint16(rest))
			if len(rest) < 2+l {
				return sse.Event{}, errHeaders
			}
			value, rest = rest[2:2+l], rest[2+l:]
		default:
			return sse.Event{}, errHeaders
		}
		if n > 0 {
			if len(rest) < n {
				return sse.Event{}, errHeaders
			}
			rest = rest[n:]
		}
		headers = rest
		if typ != 7 {
			continue
		}
		switch string(name) {
		case ":message-type":
			msgType = value
		case ":event-type":
			eventType = value
		case ":exception-type":
			exceptionType = value
		case ":error-code":
			errorCode = value
		case ":error-message":
			errorMessage = value
		}
	}
	switch string(msgType) {
	case kindException:
		return sse.Event{ID: msgType, Name: exceptionType, Data: payload}, nil
	case kindError:
		// Protocol-level errors carry their text in headers, not a payload.
		return sse.Event{ID: msgType, Name: errorCode, Data: errorMessage}, nil
	}
	return sse.Event{ID: msgType, Name: eventType, Data: payload}, nil
}

// fill makes sure n unread bytes are buffered.
func (r *eventReader) fill(n int) error {
	if r.w-r.r >= n {
		return nil
	}
	if r.err != nil {
		return r.endErr()
	}
	if r.r > 0 {
		r.w = copy(r.buf[:cap(r.buf)], r.buf[r.r:r.w])
		r.r = 0
	}
	r.buf = r.buf[:cap(r.buf)]
	empty := 0
	for r.w < n {
		if r.w == len(r.buf) {
			// Grow with what arrives, not with what a prelude claims.
			grown := make([]byte, min(n, max(2*len(r.buf), 4<<10)))
			copy(grown, r.buf[:r.w])
			r.buf = grown
		}
		m, err := r.src.Read(r.buf[r.w:])
		r.w += m
		if err != nil {
			r.err = err
			if r.w >= n {
				return nil
			}
			return r.endErr()
		}
		if m == 0 {
			if empty++; empty > 100 {
				r.err = io.ErrNoProgress
				return r.err
			}
		}
	}
	return nil
}

// endErr is io.EOF only when the body ended exactly between frames.
func (r *eventReader) endErr() error {
	if r.err == io.EOF && r.w > r.r {
		return io.ErrUnexpectedEOF
	}
	return r.err
}
