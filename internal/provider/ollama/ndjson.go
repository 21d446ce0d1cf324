package ollama

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/sse"
)

// ErrLineTooLong is a streamed line longer than maxLine.
var ErrLineTooLong = errors.New("ollama: NDJSON line too long")

const (
	// maxLine bounds one NDJSON line. The last line of /api/generate
	// carries the whole conversation as token ids ("context"), several
	// bytes per token, so the bound is far above a chat chunk.
	maxLine = 8 << 20
	// readSize is the first buffer size and the usual read.
	readSize = 16 << 10
	// keepBuffer: buffers that grew beyond this for one huge line are not
	// pooled, so the pool does not pin them.
	keepBuffer = 4 * readSize
)

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, readSize); return &b }}

// lineReader presents an NDJSON body as events, one line each, without
// copying: Data points into the reader's buffer until the next call. Its
// buffer comes from a pool and goes back when the body has ended, which
// the stream's Close always reads to (after the terminal line it drains
// the body).
type lineReader struct {
	src  io.Reader
	buf  *[]byte
	r, w int
	err  error // sticky: from src, or ErrLineTooLong
}

func newLineReader(src io.Reader) *lineReader { return &lineReader{src: src} }

// Next returns the next non-blank line, without its line break. It returns
// io.EOF once the body has ended cleanly; a last line without a line break
// is still returned first.
func (l *lineReader) Next() (sse.Event, error) {
	for {
		if l.buf != nil {
			b := (*l.buf)[l.r:l.w]
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				l.r += i + 1
				if line := trimLine(b[:i]); len(line) > 0 {
					return sse.Event{Data: line}, nil
				}
				continue
			}
		}
		if l.err != nil {
			if l.buf != nil && l.r < l.w && l.err == io.EOF {
				line := trimLine((*l.buf)[l.r:l.w])
				l.r = l.w
				if len(line) > 0 {
					return sse.Event{Data: line}, nil
				}
			}
			l.release()
			return sse.Event{}, l.err
		}
		l.fill()
	}
}

// fill reads more of the body, making room first.
func (l *lineReader) fill() {
	if l.buf == nil {
		l.buf = lineBuffers.Get().(*[]byte)
		l.r, l.w = 0, 0
	}
	buf := *l.buf
	if l.r > 0 {
		l.w = copy(buf, buf[l.r:l.w])
		l.r = 0
	}
	if l.w == len(buf) {
		if len(buf) >= maxLine {
			l.err = ErrLineTooLong
			return
		}
		grown := make([]byte, min(2*len(buf), maxLine))
		copy(grown, buf[:l.w])
		*l.buf, buf = grown, grown
	}
	for range 100 { // a reader that keeps returning (0, nil) is broken
		n, err := l.src.Read(buf[l.w:])
		l.w += n
		if err != nil {
			l.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	l.err = io.ErrNoProgress
}

// release gives the buffer back once the body is over.
func (l *lineReader) release() {
	if l.buf == nil {
		return
	}
	if cap(*l.buf) <= keepBuffer {
		*l.buf = (*l.buf)[:cap(*l.buf)]
		lineBuffers.Put(l.buf)
	}
	l.buf, l.r, l.w = nil, 0, 0
}

// Buffered reports whether a complete line is waiting.
func (l *lineReader) Buffered() bool {
	return l.buf != nil && bytes.IndexByte((*l.buf)[l.r:l.w], '\n') >= 0
}

func trimLine(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
