package server

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// disconnectWatcher cancels a request whose client has closed its connection.
//
// fasthttp reads nothing from a connection while its handler (and a body
// stream writer) runs, so a client that hangs up mid-request goes unnoticed
// until the gateway writes — which for a slow completion means paying the
// provider for an answer nobody reads. The watcher waits for the socket to
// become readable through the runtime poller and peeks: EOF or a reset means
// the client is gone. Peeking consumes nothing, so a pipelined next request
// stays intact for fasthttp (and ends the watch, since the client is alive).
type disconnectWatcher struct {
	conn    net.Conn
	stopped atomic.Bool
	done    chan struct{}
}

// aLongTimeAgo is a deadline in the past: it wakes a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// watchDisconnect starts watching c; it returns nil when c is not a socket
// that can be peeked (tests with in-memory conns, for example).
func watchDisconnect(c net.Conn, cancel context.CancelFunc) *disconnectWatcher {
	raw := c
	if t, ok := c.(*tls.Conn); ok {
		raw = t.NetConn()
	}
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	// fasthttp's read deadline covers reading the request; the response may
	// take much longer, and the watch must outlive it. fasthttp sets a fresh
	// deadline before it reads the next request.
	if c.SetReadDeadline(time.Time{}) != nil {
		return nil
	}
	w := &disconnectWatcher{conn: c, done: make(chan struct{})}
	go w.run(rc, cancel)
	return w
}

func (w *disconnectWatcher) run(rc syscall.RawConn, cancel context.CancelFunc) {
	defer close(w.done)
	gone := false
	var b [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		if w.stopped.Load() {
			return true
		}
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == syscall.EAGAIN || err == syscall.EINTR {
			return false // nothing yet: park in the poller until readable
		}
		gone = err != nil || n == 0
		return true
	})
	if gone && !w.stopped.Load() {
		cancel()
	}
}

// stop ends the watch and waits for it, so that fasthttp owns the connection
// again before it reads the next request.
func (w *disconnectWatcher) stop() {
	if w == nil {
		return
	}
	w.stopped.Store(true)
	_ = w.conn.SetReadDeadline(aLongTimeAgo)
	<-w.done
	_ = w.conn.SetReadDeadline(time.Time{})
}
