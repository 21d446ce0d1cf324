package broadcast

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const redisEnv = "SWITCHBOARD_TEST_REDIS_URL"

// waitFor bounds every "eventually" in this file; generous because -race
// and a loaded CI box slow the round trip, never because it is expected.
const waitFor = 10 * time.Second

type msg struct{ kind, id string }

// recorder is a Handler that remembers what it was told.
type recorder struct {
	mu     sync.Mutex
	msgs   []msg
	resets int
}

func (r *recorder) Message(kind, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg{kind, id})
}

func (r *recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resets++
}

func (r *recorder) count(kind, id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == (msg{kind, id}) {
			n++
		}
	}
	return n
}

// messages leaves out waitReady's probes.
func (r *recorder) messages() []msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(r.msgs), func(m msg) bool { return m.kind == probeKind })
}

func (r *recorder) resetCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resets
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitFor, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLocalDelivers(t *testing.T) {
	var r recorder
	b := NewLocal(&r)
	ctx := context.Background()
	for _, id := range []string{"sk-1", "a|b", "ключ 🔑", ""} {
		if err := b.Publish(ctx, "key", id); err != nil {
			t.Fatalf("Publish(%q): %v", id, err)
		}
	}
	want := []msg{{"key", "sk-1"}, {"key", "a|b"}, {"key", "ключ 🔑"}, {"key", ""}}
	if got := r.messages(); !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := b.Publish(ctx, "key", "late"); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
	if n := r.count("key", "late"); n != 0 {
		t.Fatalf("delivered %d messages after Close", n)
	}
	if n := r.resetCount(); n != 0 {
		t.Fatalf("Reset called %d times", n)
	}
}

var badKinds = []string{"", "a|b", "|", "key|"}

func TestLocalRejectsBadKind(t *testing.T) {
	var r recorder
	b := NewLocal(&r)
	defer b.Close()
	for _, kind := range badKinds {
		if err := b.Publish(context.Background(), kind, "id"); err == nil {
			t.Errorf("Publish(kind %q) succeeded", kind)
		}
	}
	if got := r.messages(); len(got) != 0 {
		t.Fatalf("invalid kinds were delivered: %q", got)
	}
}

func TestWireFormat(t *testing.T) {
	for _, id := range []string{"", "sk-1", "a|b|c", "|", "ключ 🔑", "line\nbreak\ttab", strings.Repeat("x|", 5000)} {
		sender, kind, got, ok := decode(encode("s1", "key", id))
		if !ok || sender != "s1" || kind != "key" || got != id {
			t.Errorf("round trip of %q: sender %q kind %q id %q ok %v", id, sender, kind, got, ok)
		}
	}
	for _, p := range []string{"", "garbage", "s|", "s||id", "|"} {
		if _, _, _, ok := decode(p); ok {
			t.Errorf("decode(%q) accepted a malformed payload", p)
		}
	}
}

// testConfig keeps health checks running during the tests without making
// a slow -race run look like a dead connection.
var testConfig = redisConfig{
	health:         time.Second,
	publishTimeout: 500 * time.Millisecond,
	minBackoff:     10 * time.Millisecond,
	maxBackoff:     100 * time.Millisecond,
}

func startBus(t *testing.T, c redis.UniversalClient, channel string, h Handler, cfg redisConfig) *redisBus {
	t.Helper()
	b, err := newRedis(c, channel, h, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// stopped reports whether the receive goroutine has returned.
func stopped(b *redisBus) bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// blackholeClient's Redis never answers: every dial waits for its context.
func blackholeClient(t *testing.T, dials *atomic.Int64) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:       "blackhole.invalid:6379",
		MaxRetries: -1,
		Dialer: func(ctx context.Context, _, _ string) (net.Conn, error) {
			dials.Add(1)
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisUnreachable(t *testing.T) {
	var dials atomic.Int64
	c := blackholeClient(t, &dials)
	var r recorder
	b := startBus(t, c, "unused", &r, testConfig)
	eventually(t, "the subscriber to dial", func() bool { return dials.Load() > 0 })

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := b.Publish(ctx, "key", "sk-1"); err == nil {
		t.Fatal("Publish to an unreachable Redis succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Publish took %s with a 200ms context", d)
	}
	if n := r.count("key", "sk-1"); n != 1 {
		t.Fatalf("local delivery: %d messages, want 1", n)
	}

	// No deadline from the caller: the bus's own bound applies.
	start = time.Now()
	if err := b.Publish(context.Background(), "key", "sk-2"); err == nil {
		t.Fatal("Publish to an unreachable Redis succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Publish without deadline took %s, want about %s", d, testConfig.publishTimeout)
	}
	if n := r.count("key", "sk-2"); n != 1 {
		t.Fatalf("local delivery: %d messages, want 1", n)
	}

	for _, kind := range badKinds {
		if err := b.Publish(context.Background(), kind, "id"); err == nil {
			t.Errorf("Publish(kind %q) succeeded", kind)
		}
	}

	// Close must not wait for the stuck dial.
	start = time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %s", d)
	}
	if !stopped(b) {
		t.Fatal("receive goroutine still running after Close")
	}
	if n := r.resetCount(); n != 0 {
		t.Fatalf("Reset called %d times without ever subscribing", n)
	}
	if got := len(r.messages()); got != 2 {
		t.Fatalf("handler saw %d messages, want the 2 valid publishes", got)
	}
}

func TestNewRedisRejectsBadArguments(t *testing.T) {
	var dials atomic.Int64
	c := blackholeClient(t, &dials)
	var r recorder
	for name, f := range map[string]func() (Bus, error){
		"nil client":    func() (Bus, error) { return NewRedis(nil, "ch", &r, nil) },
		"empty channel": func() (Bus, error) { return NewRedis(c, "", &r, nil) },
		"nil handler":   func() (Bus, error) { return NewRedis(c, "ch", nil, nil) },
	} {
		if b, err := f(); err == nil {
			_ = b.Close()
			t.Errorf("%s: no error", name)
		}
	}
}

// --- tests against a real Redis ---

func redisOptions(t *testing.T) *redis.Options {
	t.Helper()
	url := os.Getenv(redisEnv)
	if url == "" {
		t.Skipf("set %s (e.g. redis://127.0.0.1:6379/0) to run the Redis tests", redisEnv)
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s: %v", redisEnv, err)
	}
	return o
}

// newClient is one replica's connection to the test Redis; edit changes
// its options before the client is built.
func newClient(t *testing.T, edit func(*redis.Options)) *redis.Client {
	t.Helper()
	o := redisOptions(t)
	if edit != nil {
		edit(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func uniqueName(t *testing.T, prefix string) string {
	return fmt.Sprintf("%s:%s:%016x", prefix, t.Name(), rand.Uint64())
}

func uniqueChannel(t *testing.T) string { return uniqueName(t, "sbtest:broadcast") }

// waitSubscribers waits until the server has n subscriptions on channel, so
// a following PUBLISH reaches them all.
func waitSubscribers(t *testing.T, admin *redis.Client, channel string, n int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d subscribers on %s", n, channel), func() bool {
		m, err := admin.PubSubNumSub(context.Background(), channel).Result()
		if err != nil {
			t.Fatalf("PUBSUB NUMSUB: %v", err)
		}
		return m[channel] == n
	})
}

const probeKind = "test-probe"

// waitReady waits until each recorder's bus has handled its first
// subscription confirmation. The server registering the subscription is not
// enough: a Publish between that and the loop reading the confirmation
// counts as "published before the first subscription" and earns a
// (harmless) Reset that would break the tests' exact Reset counts.
func waitReady(t *testing.T, admin *redis.Client, channel string, recs ...*recorder) {
	t.Helper()
	waitSubscribers(t, admin, channel, int64(len(recs)))
	probe := fmt.Sprintf("%016x", rand.Uint64())
	if err := admin.Publish(context.Background(), channel, encode("test", probeKind, probe)).Err(); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		eventually(t, fmt.Sprintf("recorder %d to get the probe", i), func() bool { return r.count(probeKind, probe) == 1 })
	}
}

// killPubSub drops the named client's subscriber connections from the
// server side, as a Redis restart or a network cut would.
func killPubSub(t *testing.T, admin *redis.Client, name string) {
	t.Helper()
	ctx := context.Background()
	list, err := admin.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	killed := 0
	for line := range strings.Lines(list) {
		fields := strings.Fields(line)
		if !slices.Contains(fields, "name="+name) {
			continue
		}
		for _, f := range fields {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
					t.Fatalf("CLIENT KILL ID %s: %v", id, err)
				}
				killed++
			}
		}
	}
	if killed == 0 {
		t.Fatalf("no pubsub connection named %s in:\n%s", name, list)
	}
}

func TestRedisTwoReplicas(t *testing.T) {
	admin := newClient(t, nil)
	channel := uniqueChannel(t)
	var ra, rb recorder
	a := startBus(t, newClient(t, nil), channel, &ra, testConfig)
	b := startBus(t, newClient(t, nil), channel, &rb, testConfig)
	waitReady(t, admin, channel, &ra, &rb)

	ctx := context.Background()
	if err := a.Publish(ctx, "key", "sk-1"); err != nil {
		t.Fatal(err)
	}
	// The echo may already be back too; local delivery must not wait for it.
	if n := ra.count("key", "sk-1"); n < 1 {
		t.Fatal("publisher's handler had nothing when Publish returned")
	}
	eventually(t, "B to receive A's message", func() bool { return rb.count("key", "sk-1") == 1 })
	eventually(t, "A to receive its own echo", func() bool { return ra.count("key", "sk-1") == 2 })

	if err := b.Publish(ctx, "team", "t-9"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A to receive B's message", func() bool { return ra.count("team", "t-9") == 1 })
	eventually(t, "B to receive its own echo", func() bool { return rb.count("team", "t-9") == 2 })

	// Both subscribed before anything was published: nothing was missed.
	if n, m := ra.resetCount(), rb.resetCount(); n != 0 || m != 0 {
		t.Fatalf("Reset called without a reconnection: A %d, B %d", n, m)
	}
}

func TestRedisAwkwardIDs(t *testing.T) {
	admin := newClient(t, nil)
	channel := uniqueChannel(t)
	var ra, rb recorder
	a := startBus(t, newClient(t, nil), channel, &ra, testConfig)
	startBus(t, newClient(t, nil), channel, &rb, testConfig)
	waitReady(t, admin, channel, &ra, &rb)

	var want []msg
	for _, id := range []string{"a|b", "|", "||x||", "ключ", "🔑 key", "", "tab\tnl\n", " spaced ", strings.Repeat("é|", 4000)} {
		if err := a.Publish(context.Background(), "ключ-kind", id); err != nil {
			t.Fatalf("Publish(%q): %v", id, err)
		}
		want = append(want, msg{"ключ-kind", id})
	}
	eventually(t, "B to receive every id", func() bool { return len(rb.messages()) >= len(want) })
	if got := rb.messages(); !slices.Equal(got, want) {
		t.Fatalf("B received %q, want %q", got, want)
	}
}

func TestRedisMalformedMessageResets(t *testing.T) {
	admin := newClient(t, nil)
	channel := uniqueChannel(t)
	var r recorder
	startBus(t, newClient(t, nil), channel, &r, testConfig)
	waitSubscribers(t, admin, channel, 1)

	if err := admin.Publish(context.Background(), channel, "no separators").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Reset after a malformed message", func() bool { return r.resetCount() == 1 })
	if got := r.messages(); len(got) != 0 {
		t.Fatalf("malformed message delivered as %q", got)
	}
}

func TestRedisResetOnReconnect(t *testing.T) {
	admin := newClient(t, nil)
	channel := uniqueChannel(t)
	name := strings.NewReplacer(":", "-", "/", "-").Replace(uniqueName(t, "sbtest-b"))
	var ra, rb recorder
	a := startBus(t, newClient(t, nil), channel, &ra, testConfig)
	startBus(t, newClient(t, func(o *redis.Options) { o.ClientName = name }), channel, &rb, testConfig)
	waitReady(t, admin, channel, &ra, &rb)

	ctx := context.Background()
	for round := 1; round <= 2; round++ {
		killPubSub(t, admin, name)
		// Reset comes after the new subscription is confirmed, so a publish
		// after it must arrive.
		eventually(t, fmt.Sprintf("Reset #%d after the kill", round), func() bool { return rb.resetCount() == round })
		id := fmt.Sprintf("after-kill-%d", round)
		if err := a.Publish(ctx, "key", id); err != nil {
			t.Fatal(err)
		}
		eventually(t, "B to receive a message after reconnecting", func() bool { return rb.count("key", id) == 1 })
	}
	if n := ra.resetCount(); n != 0 {
		t.Fatalf("A's Reset called %d times though its connection was never cut", n)
	}
	if n := rb.resetCount(); n != 2 {
		t.Fatalf("B's Reset called %d times for 2 reconnections", n)
	}
}

// proxy forwards TCP to Redis and can turn every current connection into a
// black hole: writes still succeed, nothing ever comes back, nothing is
// closed — the half-open connection go-redis cannot notice by itself.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []*proxyConn
	wg     sync.WaitGroup
}

type proxyConn struct {
	client, server net.Conn
	frozen         atomic.Bool
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, pc := range p.conns {
			_ = pc.client.Close()
			_ = pc.server.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		pc := &proxyConn{client: c, server: s}
		p.mu.Lock()
		p.conns = append(p.conns, pc)
		p.mu.Unlock()
		p.wg.Go(func() { pc.pipe(s, c) })
		p.wg.Go(func() { pc.pipe(c, s) })
	}
}

func (pc *proxyConn) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pc.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			_ = dst.Close()
			return
		}
	}
}

func (p *proxy) freezeAll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.conns {
		pc.frozen.Store(true)
	}
	return len(p.conns)
}

func TestRedisHalfOpenConnectionIsReplaced(t *testing.T) {
	admin := newClient(t, nil)
	channel := uniqueChannel(t)
	p := startProxy(t, redisOptions(t).Addr)
	cfg := testConfig
	cfg.health = 200 * time.Millisecond
	var ra, rb recorder
	a := startBus(t, newClient(t, nil), channel, &ra, testConfig)
	startBus(t, newClient(t, func(o *redis.Options) { o.Addr = p.ln.Addr().String() }), channel, &rb, cfg)
	waitReady(t, admin, channel, &ra, &rb)

	if n := p.freezeAll(); n != 1 {
		t.Fatalf("froze %d connections, want B's subscriber only", n)
	}
	eventually(t, "Reset after the silent connection was replaced", func() bool { return rb.resetCount() == 1 })
	if err := a.Publish(context.Background(), "key", "after-freeze"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B to receive a message on the new connection", func() bool { return rb.count("key", "after-freeze") == 1 })
}

// gatedDialer holds or refuses dials so a test can keep the subscriber
// from connecting while it does something else.
type gatedDialer struct {
	mu      sync.Mutex
	hold    chan struct{} // closed to let held dials through; nil means no hold
	entered chan struct{} // closed when the first held dial arrives
	refuse  bool
	refused int
}

func (g *gatedDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	hold, entered := g.hold, g.entered
	g.hold, g.entered = nil, nil // only the first dial is held
	if g.refuse {
		g.refused++
		g.mu.Unlock()
		return nil, errors.New("test: connection refused")
	}
	g.mu.Unlock()
	if hold != nil {
		close(entered)
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func TestRedisResetWhenPublishedBeforeFirstSubscription(t *testing.T) {
	admin := newClient(t, nil)
	channel := uniqueChannel(t)
	release := make(chan struct{})
	g := &gatedDialer{hold: release, entered: make(chan struct{})}
	entered := g.entered
	var ra, rb recorder
	a := startBus(t, newClient(t, nil), channel, &ra, testConfig)
	b := startBus(t, newClient(t, func(o *redis.Options) { o.Dialer = g.dial }), channel, &rb, testConfig)
	select {
	case <-entered:
	case <-time.After(waitFor):
		t.Fatal("B's subscriber never dialled")
	}

	// B's subscriber is stuck dialling; its publish uses another connection.
	if err := b.Publish(context.Background(), "key", "early"); err != nil {
		t.Fatal(err)
	}
	if n := rb.count("key", "early"); n != 1 {
		t.Fatalf("local delivery: %d, want 1", n)
	}
	close(release)
	eventually(t, "Reset after the first subscription", func() bool { return rb.resetCount() == 1 })
	waitReady(t, admin, channel, &ra, &rb)
	if err := a.Publish(context.Background(), "key", "late"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B to receive a message", func() bool { return rb.count("key", "late") == 1 })
	if n := rb.resetCount(); n != 1 {
		t.Fatalf("Reset called %d times, want once", n)
	}
}

func TestRedisResetWhenFirstSubscribeFailed(t *testing.T) {
	admin := newClient(t, nil)
	channel := uniqueChannel(t)
	g := &gatedDialer{refuse: true}
	var rb recorder
	startBus(t, newClient(t, func(o *redis.Options) { o.Dialer = g.dial }), channel, &rb, testConfig)
	eventually(t, "two refused dials", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.refused >= 2
	})
	g.mu.Lock()
	g.refuse = false
	g.mu.Unlock()
	eventually(t, "Reset after the first subscription", func() bool { return rb.resetCount() == 1 })
	waitSubscribers(t, admin, channel, 1)
}

func TestRedisCloseStopsDelivery(t *testing.T) {
	admin := newClient(t, nil)
	channel := uniqueChannel(t)
	var ra, rb recorder
	a := startBus(t, newClient(t, nil), channel, &ra, testConfig)
	b := startBus(t, newClient(t, nil), channel, &rb, testConfig)
	waitReady(t, admin, channel, &ra, &rb)

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !stopped(b) {
		t.Fatal("receive goroutine still running after Close returned")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitSubscribers(t, admin, channel, 1)

	if err := b.Publish(context.Background(), "key", "from-closed"); err == nil {
		t.Fatal("Publish on a closed bus succeeded")
	}
	if err := a.Publish(context.Background(), "key", "after-close"); err != nil {
		t.Fatal(err)
	}
	// A's echo has been through Redis, so B would have had it by now too.
	eventually(t, "A's echo", func() bool { return ra.count("key", "after-close") == 2 })
	if got := rb.messages(); len(got) != 0 {
		t.Fatalf("closed bus delivered %q", got)
	}
	if n := rb.resetCount(); n != 0 {
		t.Fatalf("closed bus called Reset %d times", n)
	}
}
