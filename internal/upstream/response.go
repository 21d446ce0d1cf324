package upstream

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Body framing of the response being read.
const (
	bodyNone    = iota // HEAD, 1xx, 204, 304, or Content-Length: 0
	bodyLength         // Content-Length
	bodyChunked        // Transfer-Encoding: chunked
	bodyClose          // delimited by the server closing the connection
)

// maxPooledBody caps the body buffer a pooled Response keeps, so one huge
// response does not pin its memory for the life of the process.
const maxPooledBody = 1 << 20

// maxInformational bounds the 1xx responses we skip before the final one.
const maxInformational = 8

// maxTrailerBytes bounds the trailer section we skip after a chunked body.
const maxTrailerBytes = 64 << 10

// Response is one upstream response. Always Release it.
type Response struct {
	h      fasthttp.ResponseHeader
	body   []byte
	rd     bytes.Reader // BodyStream in non-stream mode
	reader bodyReader   // what BodyStream returns; a field so that it costs no allocation

	pc   *pconn      // held while the body is unread
	stop func() bool // stops the cancellation watcher

	ctx     context.Context
	method  string
	url     string // display form, for errors
	stream  bool
	maxBody int

	mode      int
	remain    int64 // bytes left in the Content-Length body or the current chunk
	crlf      bool  // the CRLF after a finished chunk is still unread
	keepAlive bool
	done      bool  // body fully read (the conn is gone either way)
	err       error // sticky body error
	gzipped   bool
	gz        *gzip.Reader
}

var (
	responsePool = sync.Pool{New: func() any {
		r := new(Response)
		r.reader.r = r
		return r
	}}
	gzipPool sync.Pool // *gzip.Reader
)

func acquireResponse() *Response {
	r := responsePool.Get().(*Response)
	// Absent Content-Type must read as absent, not as fasthttp's text/plain.
	r.h.SetNoDefaultContentType(true)
	return r
}

// Release returns the connection to the pool if the body was fully and
// cleanly consumed, closes it otherwise, stops the cancellation watcher and
// recycles r. r and anything it returned must not be used afterwards.
func (r *Response) Release() {
	if r.pc != nil {
		if !r.tryFinish() {
			r.failConn()
		}
	}
	if r.gz != nil {
		gzipPool.Put(r.gz)
	}
	body := r.body[:0]
	if cap(body) > maxPooledBody {
		body = nil
	}
	r.h.Reset()
	r.rd.Reset(nil)
	r.body = body
	r.pc, r.stop, r.ctx, r.gz, r.err = nil, nil, nil, nil, nil
	r.method, r.url = "", ""
	r.stream, r.gzipped, r.keepAlive, r.done, r.crlf = false, false, false, false, false
	r.mode, r.remain, r.maxBody = bodyNone, 0, 0
	responsePool.Put(r)
}

// StatusCode returns the final (non-1xx) status code.
func (r *Response) StatusCode() int { return r.h.StatusCode() }

// Header returns the value of the named header (case-insensitive), or nil.
// The slice is valid until Release.
func (r *Response) Header(name string) []byte {
	v := r.h.Peek(name)
	if len(v) == 0 {
		return nil
	}
	return v
}

// VisitHeaders calls fn for each response header. k and v are valid only
// during the call.
func (r *Response) VisitHeaders(fn func(k, v []byte)) {
	for k, v := range r.h.All() {
		fn(k, v)
	}
}

// ContentType returns the Content-Type header, or nil.
func (r *Response) ContentType() []byte {
	v := r.h.ContentType()
	if len(v) == 0 {
		return nil
	}
	return v
}

// Body returns the whole body in non-stream mode (de-chunked and, if the
// upstream sent it gzipped, decompressed). It is nil in stream mode.
func (r *Response) Body() []byte {
	if r.stream {
		return nil
	}
	return r.body
}

// BodyStream returns a reader of the body as it arrives. It returns io.EOF
// only at the clean end of the body; a cut connection or broken chunking is
// a non-EOF error (wrapping io.ErrUnexpectedEOF when the bytes just stopped).
// In non-stream mode it reads the buffered Body.
func (r *Response) BodyStream() io.Reader { return &r.reader }

type bodyReader struct{ r *Response }

func (b *bodyReader) Read(p []byte) (int, error) {
	r := b.r
	if !r.stream {
		return r.rd.Read(p)
	}
	if !r.gzipped {
		return r.readRaw(p)
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.gz == nil {
		// Created on the first Read: gzip.NewReader reads the gzip header,
		// which must not block Do.
		gz, err := newGzipReader(rawReader{r})
		if err != nil {
			return 0, r.decodeFail(err)
		}
		r.gz = gz
	}
	n, err := r.gz.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = r.decodeFail(err)
	}
	return n, err
}

// rawReader exposes the de-framed (still encoded) body to the gzip reader.
type rawReader struct{ r *Response }

func (w rawReader) Read(p []byte) (int, error) { return w.r.readRaw(p) }

func newGzipReader(src io.Reader) (*gzip.Reader, error) {
	if gz, ok := gzipPool.Get().(*gzip.Reader); ok {
		if err := gz.Reset(src); err != nil {
			gzipPool.Put(gz)
			return nil, err
		}
		return gz, nil
	}
	return gzip.NewReader(src)
}

// exchange runs one attempt on pc. retry reports a stale pooled conn: it
// failed before any response byte, so the request was not processed.
func (r *Response) exchange(pc *pconn, req *Request, t *target, p *prepared, o *DoOptions, deadline time.Time) (retry bool, err error) {
	r.pc = pc
	r.err, r.done, r.crlf = nil, false, false
	pc.resetExchange()
	if r.ctx.Done() != nil {
		r.stop = context.AfterFunc(r.ctx, pc.onCancel)
	}
	if err := r.ctx.Err(); err != nil {
		r.failConn()
		return false, &Error{Op: "write request", Method: r.method, URL: r.url, Err: err}
	}
	pc.setDeadline(deadline)

	werr := writeRequest(pc.bw, req, t, p)
	if werr == nil {
		werr = pc.bw.Flush()
	}
	if werr != nil {
		return r.ioFail("write request", werr, false)
	}

	fbt := false
	if o.FirstByteTimeout > 0 {
		fd := time.Now().Add(o.FirstByteTimeout)
		if deadline.IsZero() || fd.Before(deadline) {
			pc.conn.SetReadDeadline(fd)
			pc.hasDeadline = true
			fbt = true
		}
	}
	for informational := 0; ; informational++ {
		if err := r.h.Read(pc.br); err != nil {
			return r.ioFail("read response header", err, fbt)
		}
		sc := r.h.StatusCode()
		if sc == fasthttp.StatusSwitchingProtocols {
			return false, r.protoFail("read response header", errUnexpectedSwitch)
		}
		if sc >= 200 || sc < 100 {
			break
		}
		// 1xx (100 Continue, 103 Early Hints): informational, read on, but
		// not forever.
		if informational == maxInformational {
			return false, r.protoFail("read response header", errMalformedHeader)
		}
	}
	if fbt {
		pc.conn.SetReadDeadline(deadline)
	}

	r.keepAlive = !r.h.ConnectionClose() && !hasToken(r.h.Peek(fasthttp.HeaderConnection), "close")
	sc := r.h.StatusCode()
	switch cl := r.h.ContentLength(); {
	case p.method == fasthttp.MethodHead || sc == fasthttp.StatusNoContent || sc == fasthttp.StatusNotModified:
		r.mode = bodyNone
	case cl == 0:
		r.mode = bodyNone
	case cl > 0:
		r.mode, r.remain = bodyLength, int64(cl)
	case cl == -1:
		r.mode, r.remain = bodyChunked, 0
	default:
		r.mode = bodyClose
		r.keepAlive = false
	}
	r.gzipped = r.mode != bodyNone && isGzip(r.h.ContentEncoding())

	if r.mode == bodyNone {
		r.finishConn()
	}
	if r.stream {
		if r.gzipped {
			// The caller sees decoded bytes, so the encoding headers no
			// longer describe them.
			r.h.Del(fasthttp.HeaderContentEncoding)
			r.h.Del(fasthttp.HeaderContentLength)
		}
		return false, nil
	}
	if err := r.readAll(); err != nil {
		return false, err
	}
	r.rd.Reset(r.body)
	return false, nil
}

// readAll reads the whole body (non-stream mode) within maxBody.
func (r *Response) readAll() error {
	buf := r.body[:0]
	if r.mode == bodyLength {
		if r.remain > int64(r.maxBody) {
			return r.tooLarge()
		}
		if int64(cap(buf)) < r.remain {
			buf = make([]byte, 0, r.remain)
		}
	}
	buf, err := readLimited(buf, rawReader{r}, r.maxBody)
	r.body = buf
	if err != nil {
		if errors.Is(err, ErrBodyTooLarge) {
			return r.tooLarge()
		}
		return err
	}
	if r.gzipped {
		return r.gunzip()
	}
	return nil
}

// readLimited appends src to buf until io.EOF, failing with ErrBodyTooLarge
// past limit bytes.
func readLimited(buf []byte, src io.Reader, limit int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return buf, ErrBodyTooLarge
			}
			// Grow geometrically, but never far beyond limit+1, which is
			// enough to detect "too large".
			grow := max(len(buf), 4096)
			grow = min(grow, limit+1-len(buf))
			buf = slices.Grow(buf, max(grow, 1))
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return buf, ErrBodyTooLarge
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// gunzip decodes a gzip body the upstream sent although we did not ask for
// it, bounded by maxBody against decompression bombs.
func (r *Response) gunzip() error {
	var src bytes.Reader
	src.Reset(r.body)
	gz, err := newGzipReader(&src)
	if err != nil {
		return r.decodeFail(err)
	}
	out, err := readLimited(nil, gz, r.maxBody)
	gzipPool.Put(gz)
	if errors.Is(err, ErrBodyTooLarge) {
		return r.tooLarge()
	}
	if err != nil {
		return r.decodeFail(err)
	}
	if cap(r.body) <= maxPooledBody {
		// Keep the larger of the two buffers for reuse.
		out = append(r.body[:0], out...)
	}
	r.body = out
	r.h.Del(fasthttp.HeaderContentEncoding)
	r.h.SetContentLength(len(r.body))
	return nil
}

// readRaw returns de-framed body bytes straight from the connection.
func (r *Response) readRaw(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.done || r.mode == bodyNone {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var err error
	br := r.pc.br
	switch r.mode {
	case bodyLength:
		if int64(len(p)) > r.remain {
			p = p[:r.remain]
		}
		n, err = br.Read(p)
		r.remain -= int64(n)
		if r.remain == 0 {
			// Complete, even if the server closed right after the last byte.
			if err != nil {
				r.keepAlive = false
			}
			r.finishConn()
			return n, nil
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
	case bodyChunked:
		n, err = r.readChunked(br, p)
		if errors.Is(err, io.EOF) {
			return n, err
		}
	case bodyClose:
		n, err = br.Read(p)
		if errors.Is(err, io.EOF) {
			r.finishConn()
			return n, io.EOF
		}
	}
	if err != nil {
		return n, r.bodyFail(err)
	}
	return n, nil
}

// readChunked reads chunked framing. It never blocks for the next chunk
// header once it has data to return, so SSE events are handed over as soon
// as they arrive. io.EOF means the terminating chunk was read.
func (r *Response) readChunked(br *bufio.Reader, p []byte) (int, error) {
	n, err := r.readChunk(br, p)
	// Chunks that have already arrived are returned together. Upstreams send
	// one SSE event per chunk; handing the reader everything that is here
	// lets the gateway relay events that arrived together in one write
	// instead of one syscall each. Nothing here waits for the network.
	for err == nil && n < len(p) && r.remain == 0 && !r.crlf && nextChunkBuffered(br) {
		var m int
		m, err = r.readChunk(br, p[n:])
		n += m
	}
	return n, err
}

// nextChunkBuffered reports whether a whole non-terminal chunk-size line and
// at least one byte of its data are buffered, so reading them cannot block.
func nextChunkBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	i := bytes.IndexByte(b, '\n')
	if i < 0 || i+1 >= len(b) {
		return false
	}
	line := bytes.TrimRight(b[:i], "\r")
	if j := bytes.IndexByte(line, ';'); j >= 0 {
		line = line[:j]
	}
	line = bytes.TrimSpace(line)
	return len(line) > 0 && !bytes.Equal(bytes.TrimLeft(line, "0"), nil)
}

// readChunk reads from the current chunk, starting the next one if the
// current one is done; it may wait for the network.
func (r *Response) readChunk(br *bufio.Reader, p []byte) (int, error) {
	if r.remain == 0 {
		if r.crlf {
			if err := readCRLF(br); err != nil {
				return 0, err
			}
			r.crlf = false
		}
		size, err := readChunkSize(br)
		if err != nil {
			return 0, err
		}
		if size == 0 {
			if err := r.skipTrailer(br); err != nil {
				return 0, err
			}
			r.finishConn()
			return 0, io.EOF
		}
		r.remain = size
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := br.Read(p)
	r.remain -= int64(n)
	if errors.Is(err, io.EOF) {
		return n, io.ErrUnexpectedEOF
	}
	if err == nil && r.remain == 0 {
		r.crlf = true
		if br.Buffered() >= 2 {
			if err = readCRLF(br); err == nil {
				r.crlf = false
			}
		}
	}
	return n, err
}

func readCRLF(br *bufio.Reader) error {
	b, err := br.Peek(2)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if b[0] != '\r' || b[1] != '\n' {
		return errMalformedChunk
	}
	br.Discard(2)
	return nil
}

// readChunkSize parses "hex[;ext]\r\n".
func readChunkSize(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		switch {
		case errors.Is(err, io.EOF):
			return 0, io.ErrUnexpectedEOF
		case errors.Is(err, bufio.ErrBufferFull):
			return 0, errMalformedChunk
		}
		return 0, err
	}
	var size int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			goto end
		}
		if i >= 15 { // more than 2^60: nonsense
			return 0, errMalformedChunk
		}
		size = size<<4 | int64(d)
	}
end:
	if i == 0 {
		return 0, errMalformedChunk
	}
	rest := line[i:]
	if len(rest) < 2 || rest[len(rest)-2] != '\r' {
		return 0, errMalformedChunk
	}
	switch rest[0] {
	case '\r', ';', ' ', '\t': // end of line, chunk extension (ignored), padding
	default:
		return 0, errMalformedChunk
	}
	return size, nil
}

// skipTrailer consumes the trailer section after the last chunk.
func (r *Response) skipTrailer(br *bufio.Reader) error {
	total := 0
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if err != nil {
			if errors.Is(err, io.EOF) && total == 0 {
				// The data is complete; only the final CRLF is missing.
				// Accept the body, but the conn is not reusable.
				r.keepAlive = false
				return nil
			}
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return errMalformedChunk
			}
			return err
		}
		if total > maxTrailerBytes {
			return errMalformedChunk
		}
		if len(line) == 2 && line[0] == '\r' {
			return nil
		}
	}
}

// tryFinish completes a chunked body whose terminating "0\r\n\r\n" is already
// buffered, so that a caller who stops at the last event (data: [DONE])
// still gets its conn pooled, without ever blocking.
func (r *Response) tryFinish() bool {
	if r.err != nil || r.mode != bodyChunked || r.remain != 0 || !r.keepAlive {
		return false
	}
	br := r.pc.br
	b, _ := br.Peek(br.Buffered())
	if r.crlf {
		if len(b) < 2 || string(b[:2]) != "\r\n" {
			return false
		}
		b = b[2:]
	}
	if string(b) != "0\r\n\r\n" {
		return false
	}
	br.Discard(br.Buffered())
	r.finishConn()
	return true
}

// finishConn ends the exchange after a complete response: the conn goes back
// to the pool when it is clean, otherwise it is closed.
func (r *Response) finishConn() {
	r.done = true
	pc := r.pc
	if pc == nil {
		return
	}
	r.pc = nil
	ok := r.keepAlive && pc.br.Buffered() == 0 // leftover bytes: the framing is off
	if r.stop != nil {
		if !r.stop() {
			ok = false // the watcher already fired and closed the socket
		}
		r.stop = nil
	}
	if ok && !pc.canceled.Load() {
		pc.hp.putIdle(pc)
	} else {
		pc.hp.closeConn(pc)
	}
}

// failConn ends the exchange after an error or an abandoned body.
func (r *Response) failConn() {
	pc := r.pc
	if pc == nil {
		return
	}
	r.pc = nil
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
	pc.hp.closeConn(pc)
}

// cause turns a failed I/O operation into the error the caller should see:
// the context's error if the watcher fired, our timeout errors for deadline
// hits, otherwise the raw socket error if there was one.
func (r *Response) cause(pc *pconn, err error, fbt bool) error {
	switch {
	case pc.canceled.Load():
		if e := r.ctx.Err(); e != nil {
			return e
		}
		return context.Canceled
	case isTimeout(pc.rerr) || isTimeout(pc.werr) || errors.Is(err, fasthttp.ErrTimeout):
		if fbt {
			return ErrFirstByteTimeout
		}
		return ErrTimeout
	}
	return nil
}

// ioFail handles a write or header-read failure.
func (r *Response) ioFail(op string, err error, fbt bool) (retry bool, _ error) {
	pc := r.pc
	sent := pc.nwritten > 0
	cause := r.cause(pc, err, fbt)
	if cause == nil {
		switch {
		case pc.nread == 0 && (isConnGone(pc.werr) || isConnGone(pc.rerr)):
			retry = pc.reused
			cause = errClosedBeforeReply
			if pc.werr != nil && !errors.Is(pc.werr, io.EOF) {
				cause = pc.werr
			} else if pc.rerr != nil && !errors.Is(pc.rerr, io.EOF) {
				cause = pc.rerr
			}
		case pc.werr != nil:
			cause = pc.werr
		case pc.rerr != nil:
			cause = pc.rerr
			if errors.Is(cause, io.EOF) {
				cause = io.ErrUnexpectedEOF
			}
		default:
			// A parse error: fasthttp's message quotes the raw bytes, so
			// replace it with a fixed one.
			var small *fasthttp.ErrSmallBuffer
			if errors.As(err, &small) {
				cause = errHeaderTooLarge
			} else {
				cause = errMalformedHeader
			}
		}
	}
	r.failConn()
	return retry, &Error{Op: op, Method: r.method, URL: r.url, Sent: sent, Err: cause}
}

// protoFail fails the exchange for a protocol violation after headers.
func (r *Response) protoFail(op string, cause error) error {
	r.failConn()
	return &Error{Op: op, Method: r.method, URL: r.url, Sent: true, Err: cause}
}

// bodyFail makes a body read error sticky and closes the conn.
func (r *Response) bodyFail(err error) error {
	cause := err
	if pc := r.pc; pc != nil {
		if c := r.cause(pc, err, false); c != nil {
			cause = c
		} else if pc.rerr != nil && !errors.Is(pc.rerr, io.EOF) {
			cause = pc.rerr
		}
	}
	r.err = &Error{Op: "read response body", Method: r.method, URL: r.url, Sent: true, Err: cause}
	r.failConn()
	return r.err
}

// decodeFail reports a gzip error, unless it merely carries a body error.
func (r *Response) decodeFail(err error) error {
	if r.err != nil {
		return r.err
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // empty or cut gzip stream
	}
	r.err = &Error{Op: "decode gzip body", Method: r.method, URL: r.url, Sent: true, Err: err}
	r.failConn()
	return r.err
}

func (r *Response) tooLarge() error {
	r.failConn()
	return &Error{Op: "read response body", Method: r.method, URL: r.url, Sent: true, Err: ErrBodyTooLarge}
}

func isGzip(ce []byte) bool {
	return len(ce) > 0 && (bytes.EqualFold(ce, []byte("gzip")) || bytes.EqualFold(ce, []byte("x-gzip")))
}

// hasToken reports whether a comma-separated header value holds tok
// (case-insensitive). fasthttp only recognises an exact "close".
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if bytes.EqualFold(bytes.TrimSpace(item), []byte(tok)) {
			return true
		}
	}
	return false
}
