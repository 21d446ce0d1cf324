//go:build !linux

package server

import "net"

// hangupWatcher is Linux-only (it uses epoll). Elsewhere a client that hangs
// up is noticed when the gateway next writes to it, which still ends streams
// promptly but lets a non-streamed upstream call run to completion.
type hangupWatcher struct{}

func newHangupWatcher() *hangupWatcher          { return nil }
func (w *hangupWatcher) close()                 {}
func (w *hangupWatcher) watch(net.Conn, func()) {}
func (w *hangupWatcher) unwatch(net.Conn)       {}
func (w *hangupWatcher) forget(uint64)          {}
