//go:build !linux

package server

import (
	"context"
	"net"
)

// hangupWatcher is Linux-only (it uses epoll). Elsewhere a client that hangs
// up is noticed when the gateway next writes to it, which still ends streams
// promptly but lets a non-streamed upstream call run to completion.
type hangupWatcher struct{}

type watchToken struct{}

func newHangupWatcher() *hangupWatcher                                 { return nil }
func (w *hangupWatcher) close()                                        {}
func (w *hangupWatcher) watch(net.Conn, context.CancelFunc) watchToken { return watchToken{} }
func (w *hangupWatcher) unwatch(watchToken)                            {}
