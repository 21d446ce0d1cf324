package broadcast

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisConfig holds the Redis bus's timings; tests shorten them.
type redisConfig struct {
	// health is how long the subscription may stay silent before a PING,
	// and how long that PING may go unanswered before the connection is
	// replaced. go-redis only notices a dead connection when a read or write
	// fails, and a half-open one (peer gone without a RST, NAT entry expired)
	// fails neither, so without this a replica could stop hearing
	// invalidations for good.
	health time.Duration
	// publishTimeout bounds Publish when the caller's ctx has no deadline:
	// admin handlers pass request contexts, and an unreachable Redis must not
	// hold them for the client's full dial and retry budget.
	publishTimeout time.Duration
	// Retry pacing while Redis refuses connections, which fails instantly.
	minBackoff, maxBackoff time.Duration
}

var defaultRedisConfig = redisConfig{
	health:         3 * time.Second,
	publishTimeout: 2 * time.Second,
	minBackoff:     100 * time.Millisecond,
	maxBackoff:     5 * time.Second,
}

type redisBus struct {
	client  redis.UniversalClient
	channel string
	h       Handler
	log     *slog.Logger
	cfg     redisConfig
	sender  string

	// published records that the handler has been used before the first
	// subscription, so it may hold state that a missed message invalidated.
	published atomic.Bool

	ctx    context.Context // cancelled by Close so dials in the loop give up
	cancel context.CancelFunc
	done   chan struct{} // closed when the receive loop has returned

	mu     sync.Mutex
	closed bool
	ps     *redis.PubSub // the loop's subscription, so Close can interrupt its read
}

// NewRedis subscribes to channel on c and delivers every message to h from one goroutine.
// The subscription is (re)established in the background; after every
// (re)connection that follows a disconnection — and once after the first
// successful subscription if any Publish happened before it, or an attempt
// to subscribe failed before it — h.Reset() is called, because messages sent
// while disconnected were lost.
//
// Publish also delivers to h locally right away, so this replica never waits
// for the round trip, and then PUBLISHes. The echo arriving from Redis is
// delivered to h again on purpose: it is a second invalidation, a round trip
// later, that drops a record a concurrent request re-cached from a read
// taken before the change. The sender id in each message only names the
// replica.
//
// A silent subscription is checked with a PING every few seconds and
// replaced when the PING goes unanswered. log may be nil.
func NewRedis(c redis.UniversalClient, channel string, h Handler, log *slog.Logger) (Bus, error) {
	return newRedis(c, channel, h, log, defaultRedisConfig)
}

func newRedis(c redis.UniversalClient, channel string, h Handler, log *slog.Logger, cfg redisConfig) (*redisBus, error) {
	switch {
	case c == nil:
		return nil, errors.New("broadcast: nil Redis client")
	case channel == "":
		return nil, errors.New("broadcast: empty channel name")
	case h == nil:
		return nil, errors.New("broadcast: nil handler")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &redisBus{
		client:  c,
		channel: channel,
		h:       h,
		log:     log.With("channel", channel),
		cfg:     cfg,
		sender:  fmt.Sprintf("%016x", rand.Uint64()),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go b.run()
	return b, nil
}

func (b *redisBus) Publish(ctx context.Context, kind, id string) error {
	if err := validKind(kind); err != nil {
		return err
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return errClosed
	}
	b.published.Store(true)
	b.h.Message(kind, id)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.cfg.publishTimeout)
		defer cancel()
	}
	if err := b.client.Publish(ctx, b.channel, encode(b.sender, kind, id)).Err(); err != nil {
		return fmt.Errorf("broadcast: publish %s %q on %s: %w", kind, id, b.channel, err)
	}
	return nil
}

// Close always returns nil: failing to close a connection that is being
// dropped anyway is nothing the caller could act on.
func (b *redisBus) Close() error {
	b.mu.Lock()
	first := !b.closed
	b.closed = true
	ps := b.ps
	b.ps = nil
	b.mu.Unlock()
	// Cancel first: go-redis redials while holding the PubSub's lock, and
	// ps.Close needs that lock.
	b.cancel()
	if first && ps != nil {
		_ = ps.Close() // unblocks the loop's read
	}
	<-b.done
	return nil
}

// adopt hands ps to Close, or reports that Close already ran and ps must be
// closed by the caller.
func (b *redisBus) adopt(ps *redis.PubSub) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.ps = ps
	return true
}

// drop takes ps back from Close so the loop can close it without Close
// closing it a second time.
func (b *redisBus) drop(ps *redis.PubSub) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	if b.ps == ps {
		b.ps = nil
	}
	return true
}

// run owns the subscription. A reconnection is recognised by its
// "subscribe" confirmation rather than by errors: go-redis redials and
// resubscribes on its own inside Receive, sometimes without returning an
// error first, and the server sends the confirmation only once the
// subscription is in place, so a Reset after it cannot be followed by a
// message that was missed.
func (b *redisBus) run() {
	defer close(b.done)
	var (
		ps         *redis.PubSub
		subscribed bool // a subscription has been confirmed before
		missed     bool // something failed before the first confirmation
		pinged     bool // a PING is waiting for its reply
		failing    bool // keeps one outage to one warning
		backoff    = b.cfg.minBackoff
	)
	for {
		if ps == nil {
			// Subscribe with its channel: Ring panics on an empty Subscribe.
			// A failed attempt still records the channel, and the next
			// Receive redials and subscribes.
			ps = b.client.Subscribe(b.ctx, b.channel)
			if !b.adopt(ps) {
				_ = ps.Close()
				return
			}
			pinged = false
		}

		msg, err := ps.ReceiveTimeout(b.ctx, b.cfg.health)
		if b.ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) && !pinged {
				// A quiet channel is normal; the PING's reply, or anything
				// else arriving, proves the connection.
				if err := ps.Ping(b.ctx); err != nil {
					b.log.Debug("broadcast: health-check ping failed", "err", err)
				}
				pinged = true
				continue
			}
			if !subscribed {
				missed = true
			}
			if !failing {
				b.log.Warn("broadcast: subscription broken; invalidations from other replicas are lost until it is back, then the cache is dropped", "err", err)
			} else {
				b.log.Debug("broadcast: subscription still broken", "err", err)
			}
			failing = true
			if isTimeout(err) {
				// Not even the PING came back. go-redis would wait on this
				// connection forever, so start over on a new one.
				if !b.drop(ps) {
					return
				}
				_ = ps.Close()
				ps = nil
			}
			if !b.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, b.cfg.maxBackoff)
			continue
		}

		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			failing = false
			backoff = b.cfg.minBackoff
			if subscribed || missed || b.published.Load() {
				b.log.Info("broadcast: subscribed after a gap; dropping all cached records, invalidations may have been missed", "sender", b.sender)
				b.h.Reset()
			} else {
				b.log.Debug("broadcast: subscribed", "sender", b.sender)
			}
			subscribed = true
		case *redis.Message:
			b.deliver(m.Payload)
		}
	}
}

func (b *redisBus) deliver(payload string) {
	_, kind, id, ok := decode(payload)
	if !ok {
		// Something we cannot parse (another version, another writer on the
		// channel) may still have been meant to invalidate something.
		b.log.Warn("broadcast: malformed message; dropping all cached records", "payload", payload)
		b.h.Reset()
		return
	}
	b.h.Message(kind, id)
}

// sleep waits about d, jittered so replicas cut off together do not redial
// in lockstep; false means Close was called.
func (b *redisBus) sleep(d time.Duration) bool {
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.ctx.Done():
		return false
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
