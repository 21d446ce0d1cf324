package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

var (
	// ErrFirstByteTimeout means the response headers did not arrive within
	// DoOptions.FirstByteTimeout after the request was written.
	ErrFirstByteTimeout = errors.New("timed out waiting for the first response byte")
	// ErrTimeout means the whole exchange did not finish within DoOptions.Timeout.
	ErrTimeout = errors.New("exchange timed out")
	// ErrBodyTooLarge means a non-streamed response body (after gzip decoding)
	// exceeded Options.MaxResponseBodySize.
	ErrBodyTooLarge = errors.New("response body too large")
	// ErrClientClosed is returned by Do after Close.
	ErrClientClosed = errors.New("client closed")
)

// Internal causes. They are deliberately fixed strings: the fasthttp parser's
// own errors quote the raw header bytes, which we must never surface.
var (
	errMalformedHeader    = errors.New("malformed response header")
	errHeaderTooLarge     = errors.New("response header too large")
	errMalformedChunk     = errors.New("malformed chunked encoding")
	errClosedBeforeReply  = errors.New("connection closed before any response byte")
	errUnexpectedSwitch   = errors.New("unexpected 101 Switching Protocols")
	errInvalidURL         = errors.New("invalid URL")
	errInvalidHeaderName  = errors.New("invalid header name")
	errInvalidHeaderValue = errors.New("invalid header value")
)

// Error is the error type returned by Do and by BodyStream().Read. Its message
// names the method, scheme, host and path only: query strings (which may
// carry API keys such as ?key=) and header values never appear in it.
type Error struct {
	Op     string // "dial", "write request", "read response header", "read response body", ...
	Method string
	URL    string // scheme://host[:port]/path, without query or fragment
	Sent   bool   // see MayHaveBeenSent
	Err    error  // the cause; errors.Is sees through it
}

func (e *Error) Error() string {
	s := "upstream: " + e.Op
	if e.Method != "" {
		s += " " + e.Method
	}
	if e.URL != "" {
		s += " " + e.URL
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the error is one of our timeouts or a context
// deadline, so code written against net.Error's Timeout method keeps working.
func (e *Error) Timeout() bool {
	return errors.Is(e.Err, ErrTimeout) || errors.Is(e.Err, ErrFirstByteTimeout) ||
		errors.Is(e.Err, context.DeadlineExceeded)
}

// MayHaveBeenSent reports whether the request may have reached the upstream
// (and so may have been processed and billed). It is false for dial errors,
// for requests cancelled before any byte was written, and for a stale pooled
// connection that was transparently retried when the retry then failed before
// writing. It is true once any request byte was written on the final attempt,
// and for errors that did not come from this package (conservatively).
func MayHaveBeenSent(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Sent
	}
	return true
}

// isConnGone reports whether a raw I/O error means the peer had already
// closed the connection: the signature of a keep-alive conn that died idle.
func isConnGone(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	return false
}

func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
