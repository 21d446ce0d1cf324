package upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Buffer sizes. Response headers must fit in the read buffer (fasthttp's
// parser peeks the whole block); LLM providers send 1–3 KiB of headers, so
// 8 KiB leaves room without making idle connections expensive.
const (
	readBufSize  = 8 << 10
	writeBufSize = 4 << 10
)

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufSize) }}
)

// errPoolGone tells Do that the host pool it looked up was pruned meanwhile
// and it must look the host up again.
var errPoolGone = errors.New("host pool pruned")

// pconn is one upstream connection. Only the goroutine running the exchange
// touches it, except cancel, which runs from context.AfterFunc.
type pconn struct {
	hp   *hostPool
	conn net.Conn // what requests go through: the *tls.Conn or the TCP conn
	raw  net.Conn // the TCP conn: closing it unblocks any read or write above it
	br   *bufio.Reader
	bw   *bufio.Writer

	// Per-exchange accounting. fasthttp's header reader folds every I/O
	// error into io.EOF, so we record the real error and the byte counts
	// here, below bufio, to classify failures (stale conn, timeout, sent).
	nread, nwritten int64
	rerr, werr      error

	hasDeadline bool
	reused      bool
	idleAt      time.Time

	canceled atomic.Bool
	// onCancel is pc.cancel bound once at dial time: a method value created
	// per request would allocate.
	onCancel func()
	closed   bool
}

func (pc *pconn) Read(p []byte) (int, error) {
	n, err := pc.conn.Read(p)
	pc.nread += int64(n)
	if err != nil {
		pc.rerr = err
	}
	return n, err
}

func (pc *pconn) Write(p []byte) (int, error) {
	n, err := pc.conn.Write(p)
	pc.nwritten += int64(n)
	if err != nil {
		pc.werr = err
	}
	return n, err
}

// cancel runs on the context's AfterFunc goroutine. Closing the raw TCP conn
// (not the tls.Conn, whose Close may block sending close_notify) makes any
// blocked read or write return at once and lets the upstream see the close
// immediately, even if the caller is not reading at that moment.
func (pc *pconn) cancel() {
	pc.canceled.Store(true)
	pc.raw.Close()
}

// setDeadline applies the exchange deadline, skipping the call when nothing
// changes (the common no-timeout case).
func (pc *pconn) setDeadline(t time.Time) {
	if t.IsZero() && !pc.hasDeadline {
		return
	}
	pc.conn.SetDeadline(t)
	pc.hasDeadline = !t.IsZero()
}

func (pc *pconn) resetExchange() {
	pc.nread, pc.nwritten = 0, 0
	pc.rerr, pc.werr = nil, nil
}

// closeNet closes the socket and recycles the buffers. The slot accounting
// is the host pool's job (closeConn).
func (pc *pconn) closeNet() {
	if pc.closed {
		return
	}
	pc.closed = true
	pc.raw.Close()
	pc.br.Reset(nil)
	readerPool.Put(pc.br)
	pc.bw.Reset(nil)
	writerPool.Put(pc.bw)
	pc.br, pc.bw = nil, nil
}

// waiter is a Do blocked on MaxConnsPerHost. It receives either an idle conn
// or nil, meaning "a slot was freed for you: dial".
type waiter struct{ ch chan *pconn }

// hostPool holds the connections to one scheme://host:port.
type hostPool struct {
	c           *Client
	key         string
	addr        string // host:port to dial
	tlsConf     *tls.Config
	useTLS      bool
	maxIdle     int
	maxConns    int
	idleTimeout time.Duration

	mu       sync.Mutex
	idle     []*pconn // oldest first; taken from the end (LIFO keeps conns warm)
	total    int      // open + dialing conns, for MaxConnsPerHost
	waiters  []*waiter
	lastUsed time.Time

	// dead is set (under mu) when the cleaner prunes the pool; it is atomic
	// so that Client.pool can skip a dead pool without taking mu.
	dead atomic.Bool
}

func newHostPool(c *Client, t *target) *hostPool {
	hp := &hostPool{
		c:           c,
		key:         strings.Clone(t.key),
		useTLS:      t.tls,
		maxIdle:     c.opts.MaxIdleConnsPerHost,
		maxConns:    c.opts.MaxConnsPerHost,
		idleTimeout: c.opts.IdleConnTimeout,
		lastUsed:    time.Now(),
	}
	hostport := strings.Clone(t.hostport)
	host, hasPort := splitHostPort(hostport)
	hp.addr = hostport
	if !hasPort {
		if t.tls {
			hp.addr = hostport + ":443"
		} else {
			hp.addr = hostport + ":80"
		}
	}
	if t.tls {
		hp.tlsConf = c.tlsConf
		if hp.tlsConf.ServerName == "" {
			hp.tlsConf = c.tlsConf.Clone()
			hp.tlsConf.ServerName = host
		}
	}
	return hp
}

// splitHostPort returns the host without brackets and whether a port is given.
func splitHostPort(hp string) (host string, hasPort bool) {
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return hp, false
		}
		return hp[1:end], strings.HasPrefix(hp[end+1:], ":")
	}
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		return hp[:i], true
	}
	return hp, false
}

// getConn returns an idle conn (reused=true) or a new one. fresh skips the
// idle list: it is the retry after a stale pooled conn, and the other idle
// conns are likely just as stale.
func (hp *hostPool) getConn(ctx context.Context, deadline time.Time, fresh bool) (*pconn, error) {
	now := time.Now()
	var expired []*pconn
	hp.mu.Lock()
	if hp.dead.Load() {
		hp.mu.Unlock()
		return nil, errPoolGone
	}
	if hp.c.closed.Load() {
		hp.mu.Unlock()
		return nil, ErrClientClosed
	}
	hp.lastUsed = now
	if !fresh {
		if n := len(hp.idle); n > 0 {
			pc := hp.idle[n-1]
			hp.idle[n-1] = nil
			hp.idle = hp.idle[:n-1]
			if now.Sub(pc.idleAt) < hp.idleTimeout {
				hp.mu.Unlock()
				pc.reused = true
				return pc, nil
			}
			// The newest idle conn expired, so all older ones did too.
			expired = append(expired, pc)
			expired = append(expired, hp.idle...)
			clear(hp.idle)
			hp.idle = hp.idle[:0]
			for range expired {
				hp.slotFreedLocked()
			}
		}
	} else if hp.maxConns > 0 && hp.total >= hp.maxConns && len(hp.idle) > 0 {
		// Give up the oldest idle conn's slot to dial a fresh one.
		pc := hp.idle[0]
		copy(hp.idle, hp.idle[1:])
		hp.idle[len(hp.idle)-1] = nil
		hp.idle = hp.idle[:len(hp.idle)-1]
		hp.mu.Unlock()
		pc.closeNet()
		return hp.dial(ctx, deadline)
	}
	if hp.maxConns > 0 && hp.total >= hp.maxConns {
		w := &waiter{ch: make(chan *pconn, 1)}
		hp.waiters = append(hp.waiters, w)
		hp.mu.Unlock()
		closeAll(expired)
		return hp.wait(ctx, deadline, w, fresh)
	}
	hp.total++
	hp.mu.Unlock()
	closeAll(expired)
	return hp.dial(ctx, deadline)
}

func closeAll(pcs []*pconn) {
	for _, pc := range pcs {
		pc.closeNet()
	}
}

// wait blocks for a conn or a slot, bounded by ctx and the exchange deadline.
func (hp *hostPool) wait(ctx context.Context, deadline time.Time, w *waiter, fresh bool) (*pconn, error) {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case pc := <-w.ch:
		return hp.handed(ctx, deadline, pc, fresh)
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
		err = ErrTimeout
	}
	hp.mu.Lock()
	for i, x := range hp.waiters {
		if x == w {
			hp.waiters = append(hp.waiters[:i], hp.waiters[i+1:]...)
			hp.mu.Unlock()
			return nil, err
		}
	}
	hp.mu.Unlock()
	// We were handed something while giving up: pass it on.
	if pc := <-w.ch; pc != nil {
		hp.putIdle(pc)
	} else {
		hp.mu.Lock()
		hp.slotFreedLocked()
		hp.mu.Unlock()
	}
	return nil, err
}

func (hp *hostPool) handed(ctx context.Context, deadline time.Time, pc *pconn, fresh bool) (*pconn, error) {
	if pc != nil && !fresh {
		pc.reused = true
		return pc, nil
	}
	if pc != nil {
		pc.closeNet() // keep its slot, dial instead
	}
	if hp.c.closed.Load() {
		hp.mu.Lock()
		hp.slotFreedLocked()
		hp.mu.Unlock()
		return nil, ErrClientClosed
	}
	return hp.dial(ctx, deadline)
}

// slotFreedLocked accounts for a closed conn: its slot goes to the first
// waiter if any, otherwise back to the pool.
func (hp *hostPool) slotFreedLocked() {
	if len(hp.waiters) > 0 {
		w := hp.waiters[0]
		hp.waiters[0] = nil
		hp.waiters = hp.waiters[1:]
		w.ch <- nil
		return
	}
	hp.total--
}

// closeConn closes a conn that is not in the idle list and frees its slot.
func (hp *hostPool) closeConn(pc *pconn) {
	pc.closeNet()
	hp.mu.Lock()
	hp.slotFreedLocked()
	hp.mu.Unlock()
}

// putIdle returns a cleanly finished conn: to a waiter, to the idle list,
// or, when the list is full or the client closed, to the bin.
func (hp *hostPool) putIdle(pc *pconn) {
	pc.idleAt = time.Now()
	pc.reused = false
	hp.mu.Lock()
	if len(hp.waiters) > 0 {
		w := hp.waiters[0]
		hp.waiters[0] = nil
		hp.waiters = hp.waiters[1:]
		hp.mu.Unlock()
		w.ch <- pc
		return
	}
	if hp.c.closed.Load() || len(hp.idle) >= hp.maxIdle {
		hp.slotFreedLocked()
		hp.mu.Unlock()
		pc.closeNet()
		return
	}
	hp.idle = append(hp.idle, pc)
	hp.mu.Unlock()
}

// dial opens a conn for a slot the caller already holds; on failure the
// slot is freed.
func (hp *hostPool) dial(ctx context.Context, deadline time.Time) (*pconn, error) {
	c := hp.c
	limit := time.Now().Add(c.opts.DialTimeout)
	if !deadline.IsZero() && deadline.Before(limit) {
		limit = deadline
	}
	d := net.Dialer{Deadline: limit, KeepAlive: 30 * time.Second, ControlContext: c.opts.DialControl}
	raw, err := d.DialContext(ctx, "tcp", hp.addr)
	if err != nil {
		hp.mu.Lock()
		hp.slotFreedLocked()
		hp.mu.Unlock()
		return nil, err
	}
	conn := raw
	if hp.useTLS {
		tc := tls.Client(raw, hp.tlsConf)
		raw.SetDeadline(limit)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			hp.mu.Lock()
			hp.slotFreedLocked()
			hp.mu.Unlock()
			return nil, err
		}
		raw.SetDeadline(time.Time{})
		conn = tc
	}
	pc := &pconn{hp: hp, conn: conn, raw: raw}
	pc.br = readerPool.Get().(*bufio.Reader)
	pc.br.Reset(pc)
	pc.bw = writerPool.Get().(*bufio.Writer)
	pc.bw.Reset(pc)
	pc.onCancel = pc.cancel
	return pc, nil
}

// closeIdle closes every idle conn (Client.Close).
func (hp *hostPool) closeIdle() {
	hp.mu.Lock()
	idle := hp.idle
	hp.idle = nil
	for range idle {
		hp.slotFreedLocked()
	}
	hp.mu.Unlock()
	closeAll(idle)
}

// sweep closes idle conns past the idle timeout and reports when the next
// one expires (zero if none) and whether the pool is empty and unused for a
// whole timeout, in which case it is marked dead for pruning.
func (hp *hostPool) sweep(now time.Time) (next time.Time, prune bool) {
	hp.mu.Lock()
	k := 0
	for k < len(hp.idle) && now.Sub(hp.idle[k].idleAt) >= hp.idleTimeout {
		k++
	}
	var expired []*pconn
	if k > 0 {
		expired = append(expired, hp.idle[:k]...)
		n := copy(hp.idle, hp.idle[k:])
		clear(hp.idle[n:])
		hp.idle = hp.idle[:n]
		for range expired {
			hp.slotFreedLocked()
		}
	}
	if len(hp.idle) > 0 {
		next = hp.idle[0].idleAt.Add(hp.idleTimeout)
	}
	if hp.total == 0 && len(hp.waiters) == 0 && now.Sub(hp.lastUsed) >= hp.idleTimeout {
		hp.dead.Store(true)
		prune = true
	}
	hp.mu.Unlock()
	closeAll(expired)
	return next, prune
}
