// Package providertest is the harness every provider's tests share: a fake
// upstream on httptest that records exactly what it received and replays a
// recorded answer (a JSON body, an SSE stream, an error, or a stream cut
// mid-way), and a golden-fixture runner over testdata/<case>/ directories.
package providertest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Reply is what the fake upstream answers.
type Reply struct {
	Status int
	Header map[string]string
	Body   []byte
	// Events, when set, are written one at a time with a flush after each
	// (each element is the raw bytes of one SSE event, framing included).
	Events [][]byte
	// CutAfter > 0 closes the connection abruptly after that many events,
	// without the chunked terminator: a stream cut mid-way.
	CutAfter int
	// Delay waits before the response headers.
	Delay time.Duration
	// EventGap waits between events.
	EventGap time.Duration
}

// Received is one request the fake upstream got.
type Received struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// Upstream is a fake provider endpoint.
type Upstream struct {
	*httptest.Server
	mu       sync.Mutex
	reply    Reply
	received []Received
	// Gone is closed when a request's context ends before its reply was
	// written completely: the gateway hung up on the upstream.
	gone chan struct{}
}

// NewUpstream starts a fake upstream that answers every request with reply.
func NewUpstream(t testing.TB, reply Reply) *Upstream {
	t.Helper()
	u := &Upstream{reply: reply, gone: make(chan struct{}, 16)}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

// SetReply changes the answer for the next requests.
func (u *Upstream) SetReply(r Reply) {
	u.mu.Lock()
	u.reply = r
	u.mu.Unlock()
}

// Requests returns what was received so far.
func (u *Upstream) Requests() []Received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Received(nil), u.received...)
}

// Gone receives once for each request whose client went away early.
func (u *Upstream) Gone() <-chan struct{} { return u.gone }

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.received = append(u.received, Received{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	reply := u.reply
	u.mu.Unlock()

	if !sleep(r, reply.Delay) {
		u.gone <- struct{}{}
		return
	}
	for k, v := range reply.Header {
		w.Header().Set(k, v)
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	if reply.Events == nil {
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write(reply.Body)
		return
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/event-stream")
	}
	w.WriteHeader(status)
	flusher := w.(http.Flusher)
	flusher.Flush()
	for i, ev := range reply.Events {
		if reply.CutAfter > 0 && i == reply.CutAfter {
			cut(w)
			return
		}
		if i > 0 && !sleep(r, reply.EventGap) {
			u.gone <- struct{}{}
			return
		}
		if _, err := w.Write(ev); err != nil {
			u.gone <- struct{}{}
			return
		}
		flusher.Flush()
	}
	// Hold the request open until the client has read the end, so that a
	// client that stops reading early is observed as gone.
	if r.Context().Err() != nil {
		u.gone <- struct{}{}
	}
}

// cut closes the connection without ending the chunked body.
func cut(w http.ResponseWriter) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_ = buf.Flush()
	_ = conn.Close()
}

func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// SplitEvents cuts a recorded SSE transcript into its events (each keeps its
// trailing blank line), so fixtures can be replayed event by event.
func SplitEvents(stream []byte) [][]byte {
	var out [][]byte
	for len(stream) > 0 {
		i := bytes.Index(stream, []byte("\n\n"))
		if i < 0 {
			out = append(out, stream)
			break
		}
		out = append(out, stream[:i+2])
		stream = stream[i+2:]
	}
	return out
}
