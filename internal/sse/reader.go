// Package sse reads and writes Server-Sent Events framing (WHATWG HTML
// "server-sent events", the text/event-stream format). It knows nothing of
// JSON: payloads are opaque bytes.
//
// The Reader sits on the streaming hot path of the gateway, so it returns
// slices into its own buffer instead of copying, and allocates nothing per
// event once warmed up.
package sse

import (
	"bytes"
	"errors"
	"io"
)

// ErrEventTooLarge is returned by Reader.Next when one event is larger
// than the Reader's maximum event size, counting its lines from the start
// of the first to the end of the last (the line breaks after the last line
// and the blank line are not counted). A single comment line longer than
// the maximum is refused the same way. The Reader is unusable afterwards
// until Reset.
var ErrEventTooLarge = errors.New("sse: event too large")

const (
	// DefaultMaxEventSize is used when NewReader is given a size <= 0. It
	// is far above any real chat chunk and still bounds the memory a
	// hostile upstream can make us hold.
	DefaultMaxEventSize = 1 << 20

	// readSize is the initial buffer size; each source Read asks for the
	// free tail of the buffer, so this is also the typical read size.
	readSize = 32 << 10

	// keepOnReset: a pooled Reader keeps buffers up to this size; larger
	// ones, grown for one huge event, are dropped so the pool does not pin
	// them.
	keepOnReset = 4 * readSize

	// maxEmptyReads mirrors bufio: a source that keeps returning (0, nil)
	// is broken, not slow.
	maxEmptyReads = 100
)

var bom = []byte{0xEF, 0xBB, 0xBF}

// Event is one dispatched event. Its slices point into the Reader's
// buffers and are only valid until the next call to Next or Reset.
//
// Name is the "event" field (empty when the stream did not name the
// event), ID the "id" field of this event (the spec's "last event ID" is
// not carried over between events; no gateway stream relies on it), and
// Data the "data" lines joined with "\n". Data is nil when the event had
// no data line and non-nil (possibly empty) when it had one.
type Event struct {
	Name, ID, Data []byte
}

// Reader parses an event stream. It is not safe for concurrent use.
type Reader struct {
	src io.Reader
	max int

	buf  []byte
	r, w int // buf[r:w] is not yet consumed

	// scratch holds joined data when an event has several data lines.
	scratch []byte

	err error // sticky error: from src, or ErrEventTooLarge

	// skipLF: the last line ended with a CR at the end of the buffered
	// data, so an LF arriving next belongs to that CR and is not a line.
	skipLF bool
	// atStart: a leading UTF-8 BOM may still have to be skipped.
	atStart bool
}

// NewReader returns a Reader that reads src in large chunks. maxEventSize
// caps the size of one event; <= 0 selects DefaultMaxEventSize.
func NewReader(src io.Reader, maxEventSize int) *Reader {
	if maxEventSize <= 0 {
		maxEventSize = DefaultMaxEventSize
	}
	r := &Reader{max: maxEventSize}
	r.Reset(src)
	return r
}

// Reset makes r read from src, discarding any state, and keeps r's
// buffers (unless one grew unusually large) so pooled Readers do not
// allocate.
func (r *Reader) Reset(src io.Reader) {
	if cap(r.buf) > keepOnReset {
		r.buf = nil
	}
	if cap(r.scratch) > keepOnReset {
		r.scratch = nil
	}
	if r.max <= 0 {
		r.max = DefaultMaxEventSize
	}
	r.src = src
	r.r, r.w = 0, 0
	r.err = nil
	r.skipLF = false
	r.atStart = true
}

// Next returns the next event. It returns io.EOF when the stream ends
// cleanly (after a complete event, or with nothing but comments and blank
// lines left), io.ErrUnexpectedEOF when it ends inside an event, and the
// source's error for anything else. Comment lines are skipped, and so are
// events that carry neither data nor a name.
func (r *Reader) Next() (Event, error) {
	if r.err == ErrEventTooLarge {
		return Event{}, r.err
	}
	// Offsets of the event's fields are kept relative to start so that
	// compacting the buffer while the event is incomplete does not
	// invalidate them.
	var (
		start  = r.r
		pos    = r.r // start of the next unparsed line
		clean  = r.r // buf[pos:clean] is known to hold no CR or LF
		nameAt = -1
		nameN  int
		idAt   = -1
		idN    int
		dataAt = -1
		dataN  int
		multi  bool // data lives in r.scratch
		began  bool // a field line of this event was seen
	)
	for {
		if r.atStart || r.skipLF {
			if pos == r.w && r.err == nil {
				shift := r.fill(start)
				start, pos, clean = start-shift, pos-shift, clean-shift
				continue
			}
			if r.atStart {
				avail := r.buf[pos:r.w]
				if bytes.HasPrefix(avail, bom) {
					pos += len(bom)
				} else if bytes.HasPrefix(bom, avail) && r.err == nil {
					// Too few bytes to tell yet.
					shift := r.fill(start)
					start, pos, clean = start-shift, pos-shift, clean-shift
					continue
				}
				r.atStart = false
				start, clean = pos, max(clean, pos)
			}
			if r.skipLF && pos < r.w {
				if r.buf[pos] == '\n' {
					pos++
					if !began {
						start = pos
					}
					clean = max(clean, pos)
				}
				r.skipLF = false
			}
		}

		eol, next := r.findEOL(pos, clean)
		if eol < 0 {
			clean = r.w
			if r.w > pos && r.w-start > r.max {
				r.err = ErrEventTooLarge
				return Event{}, r.err
			}
			if r.err != nil {
				if r.err == io.EOF && (began || pos < r.w) {
					return Event{}, io.ErrUnexpectedEOF
				}
				return Event{}, r.err
			}
			shift := r.fill(start)
			start, pos, clean = start-shift, pos-shift, clean-shift
			continue
		}
		line := r.buf[pos:eol]
		lineAt := pos
		pos, clean = next, next
		// Terminators are not counted for the line being checked, so that
		// the verdict does not depend on whether the LF of a CRLF had
		// arrived yet.
		if len(line) > 0 && eol-start > r.max {
			r.err = ErrEventTooLarge
			return Event{}, r.err
		}

		if len(line) == 0 {
			if dataAt >= 0 || nameAt >= 0 {
				r.r = pos
				return r.event(start, nameAt, nameN, idAt, idN, dataAt, dataN, multi), nil
			}
			// Nothing to dispatch (a lone blank line, or only an id or
			// unknown fields): the spec discards it.
			start, began = pos, false
			nameAt, idAt, dataAt, multi = -1, -1, -1, false
			continue
		}
		if line[0] == ':' {
			if !began {
				start = pos
			}
			continue
		}
		began = true

		field, value := line, line[len(line):]
		if c := bytes.IndexByte(line, ':'); c >= 0 {
			field, value = line[:c], line[c+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		valueAt := lineAt + (len(line) - len(value)) - start
		switch string(field) {
		case "data":
			switch {
			case dataAt < 0:
				dataAt, dataN = valueAt, len(value)
			case !multi:
				first := r.buf[start+dataAt : start+dataAt+dataN]
				r.scratch = append(append(append(r.scratch[:0], first...), '\n'), value...)
				multi = true
			default:
				r.scratch = append(append(r.scratch, '\n'), value...)
			}
		case "event":
			// An empty "event:" restores the default type, which we
			// represent as no name.
			if len(value) == 0 {
				nameAt = -1
			} else {
				nameAt, nameN = valueAt, len(value)
			}
		case "id":
			// The spec ignores ids containing NUL.
			if bytes.IndexByte(value, 0) < 0 {
				idAt, idN = valueAt, len(value)
			}
		}
	}
}

// event builds the Event from offsets relative to start. Capacities are
// clipped so that a caller appending to a slice cannot overwrite the
// Reader's buffer.
// Buffered reports whether a complete event with data is already buffered,
// so that the next call to Next returns without reading from the source. It
// errs on the side of false (a first block that is only a comment, or CR-only
// line endings), since a wrong true would make a caller that only wants to
// batch what has already arrived block on the network instead.
func (r *Reader) Buffered() bool {
	b := r.buf[r.r:r.w]
	if r.skipLF && len(b) > 0 && b[0] == '\n' {
		b = b[1:]
	}
	end := bytes.Index(b, []byte("\n\n"))
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 && (end < 0 || i < end) {
		end = i
	}
	if end < 0 {
		return false
	}
	block := b[:end]
	return bytes.HasPrefix(block, []byte("data")) || bytes.Contains(block, []byte("\ndata"))
}

func (r *Reader) event(start, nameAt, nameN, idAt, idN, dataAt, dataN int, multi bool) Event {
	var ev Event
	if nameAt >= 0 {
		a := start + nameAt
		ev.Name = r.buf[a : a+nameN : a+nameN]
	}
	if idAt >= 0 {
		a := start + idAt
		ev.ID = r.buf[a : a+idN : a+idN]
	}
	switch {
	case multi:
		ev.Data = r.scratch[:len(r.scratch):len(r.scratch)]
	case dataAt >= 0:
		a := start + dataAt
		ev.Data = r.buf[a : a+dataN : a+dataN]
	}
	return ev
}

// findEOL finds the end of the line starting at pos, searching only from
// clean on (earlier bytes are known to hold no terminator). It returns the
// index of the terminator and of the next line, or eol < 0 if the line is
// incomplete. A CR that is the last buffered byte ends the line at once —
// waiting for the next read to see whether an LF follows would stall
// CR-only streams — and sets skipLF so that such an LF is swallowed.
func (r *Reader) findEOL(pos, clean int) (eol, next int) {
	tail := r.buf[clean:r.w]
	lf := bytes.IndexByte(tail, '\n')
	seg := tail
	if lf >= 0 {
		seg = tail[:lf]
	}
	if cr := bytes.IndexByte(seg, '\r'); cr >= 0 {
		eol = clean + cr
		switch {
		case eol+1 == r.w:
			r.skipLF = true
			return eol, eol + 1
		case r.buf[eol+1] == '\n':
			return eol, eol + 2
		}
		return eol, eol + 1
	}
	if lf >= 0 {
		return clean + lf, clean + lf + 1
	}
	return -1, pos
}

// fill makes room and reads once from the source. Bytes before start are
// no longer needed; they are dropped by moving the rest to the front of
// the buffer, and the distance moved is returned so that the caller can
// adjust its indexes.
func (r *Reader) fill(start int) (shift int) {
	if r.buf == nil {
		r.buf = make([]byte, readSize)
	}
	if start > 0 {
		copy(r.buf, r.buf[start:r.w])
		r.w -= start
		r.r = 0
		shift = start
	}
	if r.w == len(r.buf) {
		// The event in progress fills the buffer; the caller has checked
		// that it is still within r.max, so room for r.max bytes plus the
		// line breaks that end it suffices to either finish it or prove it
		// too large.
		n := min(2*len(r.buf), r.max+8)
		n = max(n, len(r.buf)+1)
		nb := make([]byte, n)
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	for range maxEmptyReads {
		n, err := r.src.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			r.err = errors.New("sse: source returned an invalid count from Read")
			return shift
		}
		r.w += n
		if err != nil {
			r.err = err
			return shift
		}
		if n > 0 {
			return shift
		}
	}
	r.err = io.ErrNoProgress
	return shift
}
