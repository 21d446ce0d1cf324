//go:build linux

package server

import (
	"net"
	"sync"
	"syscall"
)

// hangupWatcher cancels requests whose client has hung up.
//
// fasthttp reads nothing from a connection while a request is being served,
// so a client that closes mid-request would go unnoticed until the gateway
// writes — which for a slow completion means paying the provider for an
// answer nobody reads. Every connection's socket is registered once, edge-
// triggered for EPOLLRDHUP, in one epoll instance of our own that one
// goroutine waits on. EPOLLRDHUP fires when the peer closes (HUP and ERR
// always fire); arriving data does not, so a pipelined request is left
// alone. Per request the cost is a mutex, not a syscall; closing the socket
// removes it from the epoll set by itself.
type hangupWatcher struct {
	epfd  int
	wake  [2]int // a pipe: writing to it ends the wait loop
	mu    sync.Mutex
	next  uint64
	conns map[uint64]*lingerConn
	done  chan struct{}
}

func newHangupWatcher() *hangupWatcher {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	w := &hangupWatcher{epfd: epfd, conns: map[uint64]*lingerConn{}, done: make(chan struct{})}
	if err := syscall.Pipe2(w.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil
	}
	// Id 0 is the wake-up pipe.
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
			c := w.conns[id]
			delete(w.conns, id) // edge-triggered: a hang-up is reported once
			w.mu.Unlock()
			if c != nil {
				c.hangup()
			}
		}
	}
}

// watch arms cancellation of the request c is serving; the socket is
// registered on the connection's first request.
func (w *hangupWatcher) watch(nc net.Conn, cancel func()) {
	c, ok := nc.(*lingerConn)
	if w == nil || !ok {
		return
	}
	if c.watcher == nil {
		w.register(c)
	}
	c.setCancel(cancel)
}

func (w *hangupWatcher) register(c *lingerConn) {
	fd := socketFD(c.Conn)
	if fd < 0 {
		return
	}
	w.mu.Lock()
	w.next++
	id := w.next
	w.conns[id] = c
	w.mu.Unlock()
	// The 64-bit id rides in epoll's data field (Fd and Pad): a late event
	// for a closed connection whose socket number was reused finds no entry.
	ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | epollET, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		w.forget(id)
		return
	}
	c.watcher, c.watchID = w, id
}

// unwatch disarms cancellation: the request is over.
func (w *hangupWatcher) unwatch(nc net.Conn) {
	if c, ok := nc.(*lingerConn); ok && w != nil {
		c.setCancel(nil)
	}
}

// forget drops a closed connection.
func (w *hangupWatcher) forget(id uint64) {
	if w == nil || id == 0 {
		return
	}
	w.mu.Lock()
	delete(w.conns, id)
	w.mu.Unlock()
}

// epollET is EPOLLET as the uint32 the event mask is (the syscall package
// declares it as a negative int).
const epollET = 1 << 31

// socketFD returns the descriptor behind a TCP connection.
func socketFD(c net.Conn) int {
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
