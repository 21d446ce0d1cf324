//go:build linux

package server

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"syscall"
)

// hangupWatcher cancels requests whose client has hung up.
//
// fasthttp reads nothing from a connection while a request is being served,
// so a client that closes mid-request would go unnoticed until the gateway
// writes — which for a slow completion means paying the provider for an
// answer nobody reads. Each in-flight request's socket is registered, for
// EPOLLRDHUP only, in one epoll instance of our own that one goroutine
// waits on. EPOLLRDHUP fires when the peer closes (HUP and ERR always
// fire); arriving data does not, so a pipelined request is left alone. This
// costs two epoll_ctl calls per request, with no goroutine or deadline
// juggling per request.
type hangupWatcher struct {
	epfd    int
	wake    [2]int // a pipe: writing to it ends the wait loop
	mu      sync.Mutex
	next    uint64
	cancels map[uint64]context.CancelFunc
	done    chan struct{}
}

// watchToken identifies one registration; the zero value means "not watched".
type watchToken struct {
	fd int
	id uint64
}

func newHangupWatcher() *hangupWatcher {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	w := &hangupWatcher{epfd: epfd, cancels: map[uint64]context.CancelFunc{}, done: make(chan struct{})}
	if err := syscall.Pipe2(w.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil
	}
	// Token 0 is the wake-up pipe.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, w.wake[0], &ev); err != nil {
		w.closeFDs()
		return nil
	}
	go w.loop()
	return w
}

func (w *hangupWatcher) closeFDs() {
	syscall.Close(w.epfd)
	syscall.Close(w.wake[0])
	syscall.Close(w.wake[1])
}

// close stops the wait loop and releases the epoll instance.
func (w *hangupWatcher) close() {
	if w == nil {
		return
	}
	_, _ = syscall.Write(w.wake[1], []byte{1})
	<-w.done
	w.closeFDs()
}

func (w *hangupWatcher) loop() {
	defer close(w.done)
	events := make([]syscall.EpollEvent, 64)
	for {
		n, err := syscall.EpollWait(w.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				return
			}
			w.mu.Lock()
			cancel := w.cancels[id]
			delete(w.cancels, id)
			w.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		}
	}
}

// watch registers c's socket; cancel runs if the client hangs up before
// unwatch. Connections that are not sockets are not watched.
func (w *hangupWatcher) watch(c net.Conn, cancel context.CancelFunc) watchToken {
	if w == nil {
		return watchToken{}
	}
	fd := socketFD(c)
	if fd < 0 {
		return watchToken{}
	}
	w.mu.Lock()
	w.next++
	id := w.next
	w.cancels[id] = cancel
	w.mu.Unlock()
	// The 64-bit token rides in epoll's data field (Fd and Pad) so that a
	// late event for a socket number already reused by another request is
	// recognised as stale.
	ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		w.mu.Lock()
		delete(w.cancels, id)
		w.mu.Unlock()
		return watchToken{}
	}
	return watchToken{fd: fd, id: id}
}

// unwatch ends a registration; the request is over.
func (w *hangupWatcher) unwatch(t watchToken) {
	if w == nil || t.id == 0 {
		return
	}
	_ = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, t.fd, nil)
	w.mu.Lock()
	delete(w.cancels, t.id)
	w.mu.Unlock()
}

// socketFD returns the descriptor behind a TCP (or TLS over TCP) connection.
func socketFD(c net.Conn) int {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	if rc.Control(func(f uintptr) { fd = int(f) }) != nil {
		return -1
	}
	return fd
}
