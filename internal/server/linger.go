package server

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Lingering close: when the gateway rejects a request before reading all of
// its body (413), closing the socket with unread input makes the kernel send
// a reset, which destroys the 413 still in flight to the client — the client
// sees "connection reset" instead of the error. As nginx does, such a
// connection first shuts down its write side, then reads and discards the
// rest of the body for a bounded time and size, then closes.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 256 << 20
)

type lingerListener struct{ net.Listener }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c}, nil
}

// lingerConn is an accepted connection: it can be marked to linger on
// Close, and it carries the hang-up watch of the request it is serving.
type lingerConn struct {
	net.Conn
	linger atomic.Bool

	// Set by the hang-up watcher when it registers the socket, which it
	// does once per connection; only the connection's goroutine touches them.
	watcher *hangupWatcher
	watchID uint64

	mu     sync.Mutex
	cancel context.CancelFunc // of the request in flight, nil between requests
}

func (c *lingerConn) setCancel(cancel context.CancelFunc) {
	c.mu.Lock()
	c.cancel = cancel
	c.mu.Unlock()
}

// hangup cancels the request in flight, if any: its client is gone.
func (c *lingerConn) hangup() {
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// SyscallConn exposes the socket (the hang-up watcher needs its descriptor).
func (c *lingerConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, syscall.EINVAL
	}
	return sc.SyscallConn()
}

func (c *lingerConn) Close() error {
	c.watcher.forget(c.watchID)
	if c.linger.Load() {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			_ = c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
			_, _ = io.CopyN(io.Discard, c.Conn, lingerBytes)
		}
	}
	return c.Conn.Close()
}

// lingerOnClose marks the request's connection to drain before closing.
func lingerOnClose(c net.Conn) {
	if lc, ok := c.(*lingerConn); ok {
		lc.linger.Store(true)
	}
}
