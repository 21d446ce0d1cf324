// Package fake is an OpenAI-compatible upstream for benchmarks: it answers
// POST /v1/chat/completions (and /chat/completions) with a fixed chat
// completion, or with a fixed SSE stream when the body asks for one.
//
// Every response is precomputed at start-up, because the fake shares the
// machine's cores with the load generator and the process under test: the
// less CPU it spends per request, the less it perturbs the measurement.
package fake

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// Options configures the fake upstream.
type Options struct {
	// Latency is slept before the response headers are produced, i.e. the
	// emulated time to first byte.
	Latency time.Duration
	// EventGap is slept between two stream events (not before the first).
	// Go timers have ~1 ms granularity on idle Linux hosts, so sub-millisecond
	// values effectively round up to about 1 ms.
	EventGap time.Duration
}

// Wire-level constants shared with the load generator's validator.
const (
	// ContentEvents is the number of chunks that carry message content; the
	// first of them also carries the role.
	ContentEvents = 6
	// StreamEventsWithUsage is the number of JSON data events of a stream
	// whose request set stream_options.include_usage: 6 content chunks, one
	// chunk with finish_reason, one usage chunk with "choices":[]. The
	// terminating "data: [DONE]" comes on top and is not counted.
	StreamEventsWithUsage = ContentEvents + 2
	// StreamEventsWithoutUsage is the JSON event count otherwise: 6 content
	// chunks and one final chunk carrying both finish_reason and usage.
	StreamEventsWithoutUsage = ContentEvents + 1
)

// Fixed identity of every response; realistic lengths matter more than
// values, because gateways copy or rewrite these fields.
const (
	respID      = "chatcmpl-BzFakeUpstream0123456789abcd"
	respCreated = 1741569952
	respModel   = "gpt-4o-mini-2024-07-18"
	fingerprint = "fp_06737a9306"
	usageJSON   = `{"prompt_tokens":24,"completion_tokens":9,"total_tokens":33,` +
		`"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},` +
		`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,` +
		`"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`
)

// contentPieces is the assistant message split the way OpenAI streams it.
var contentPieces = [ContentEvents]string{"Hello", "!", " How can", " I assist", " you", " today?"}

var (
	completionBody   []byte   // non-streaming response body
	eventsWithUsage  [][]byte // one SSE event ("data: ...\n\n") per element
	eventsNoUsage    [][]byte
	doneEvent        = []byte("data: [DONE]\n\n")
	notFoundBody     = []byte(`{"error":{"message":"fake upstream: unknown route","type":"invalid_request_error","code":"not_found"}}`)
	strCompletions   = []byte("/chat/completions")
	strStreamKey     = []byte(`"stream"`)
	strIncludeUsage  = []byte(`"include_usage"`)
	strEventStream   = "text/event-stream"
	strJSON          = "application/json"
	strRequestIDName = "x-request-id"
	strRequestID     = "req_fakeupstream0123456789abcdef"
)

func init() {
	var msg string
	for _, p := range contentPieces {
		msg += p
	}
	completionBody = []byte(`{"id":"` + respID + `","object":"chat.completion","created":` + fmt.Sprint(respCreated) +
		`,"model":"` + respModel + `","choices":[{"index":0,"message":{"role":"assistant","content":"` + msg +
		`","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":` + usageJSON +
		`,"service_tier":"default","system_fingerprint":"` + fingerprint + `"}`)
	eventsWithUsage = buildEvents(true)
	eventsNoUsage = buildEvents(false)
}

// buildEvents renders the stream. With include_usage OpenAI adds
// "usage":null to every chunk and a trailing usage-only chunk; without it,
// the usage rides on the finish_reason chunk (what several providers do), so
// a gateway that needs usage sees it either way.
func buildEvents(includeUsage bool) [][]byte {
	head := `data: {"id":"` + respID + `","object":"chat.completion.chunk","created":` + fmt.Sprint(respCreated) +
		`,"model":"` + respModel + `","service_tier":"default","system_fingerprint":"` + fingerprint + `","choices":`
	nullUsage := ""
	if includeUsage {
		nullUsage = `,"usage":null`
	}
	var evs [][]byte
	for i, p := range contentPieces {
		delta := `{"content":"` + p + `"}`
		if i == 0 {
			delta = `{"role":"assistant","content":"` + p + `","refusal":null}`
		}
		evs = append(evs, []byte(head+`[{"index":0,"delta":`+delta+`,"logprobs":null,"finish_reason":null}]`+nullUsage+"}\n\n"))
	}
	finish := head + `[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]`
	if includeUsage {
		evs = append(evs, []byte(finish+nullUsage+"}\n\n"))
		evs = append(evs, []byte(head+`[],"usage":`+usageJSON+"}\n\n"))
	} else {
		evs = append(evs, []byte(finish+`,"usage":`+usageJSON+"}\n\n"))
	}
	return append(evs, doneEvent)
}

// CompletionBody returns the fixed non-streaming body (for tests).
func CompletionBody() []byte { return completionBody }

// StreamBody returns the full SSE body for the given include_usage setting.
func StreamBody(includeUsage bool) []byte {
	evs := eventsNoUsage
	if includeUsage {
		evs = eventsWithUsage
	}
	return bytes.Join(evs, nil)
}

// Handler returns the fasthttp handler emulating the chat completions API.
func Handler(o Options) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsPost() || !bytes.HasSuffix(ctx.Path(), strCompletions) {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			ctx.SetContentType(strJSON)
			ctx.SetBody(notFoundBody)
			return
		}
		body := ctx.PostBody()
		if o.Latency > 0 {
			time.Sleep(o.Latency)
		}
		ctx.Response.Header.Set(strRequestIDName, strRequestID)
		if !jsonTrue(body, strStreamKey) {
			ctx.SetContentType(strJSON)
			// SetBodyRaw avoids copying the shared, never-mutated slice.
			ctx.Response.SetBodyRaw(completionBody)
			return
		}
		evs := eventsNoUsage
		if jsonTrue(body, strIncludeUsage) {
			evs = eventsWithUsage
		}
		ctx.SetContentType(strEventStream)
		ctx.Response.Header.Set("Cache-Control", "no-cache")
		// A body stream of unknown size is sent chunked, and fasthttp's
		// chunked writer flushes after every Read, so returning exactly one
		// event per Read gives one flush per event without the goroutine
		// and pipe that SetBodyStreamWriter would cost.
		ctx.SetBodyStream(&eventReader{events: evs, gap: o.EventGap}, -1)
	}
}

// eventReader yields one precomputed SSE event per Read call.
type eventReader struct {
	events [][]byte
	next   int
	off    int // bytes of events[next] already returned (tiny Read buffers)
	gap    time.Duration
}

func (r *eventReader) Read(p []byte) (int, error) {
	if r.next >= len(r.events) {
		return 0, io.EOF
	}
	if r.off == 0 && r.next > 0 && r.gap > 0 {
		time.Sleep(r.gap)
	}
	n := copy(p, r.events[r.next][r.off:])
	r.off += n
	if r.off == len(r.events[r.next]) {
		r.next++
		r.off = 0
	}
	return n, nil
}

// jsonTrue reports whether body contains key (with its quotes) followed by
// optional whitespace, a colon, optional whitespace and the literal true.
// It is a scan, not a parse: the fake must stay cheap, and the first match
// is the one that matters for the request bodies a gateway produces.
func jsonTrue(body, key []byte) bool {
	for {
		i := bytes.Index(body, key)
		if i < 0 {
			return false
		}
		rest := skipSpace(body[i+len(key):])
		if len(rest) > 0 && rest[0] == ':' {
			rest = skipSpace(rest[1:])
			return bytes.HasPrefix(rest, []byte("true"))
		}
		body = body[i+len(key):]
	}
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// NewServer returns a fasthttp server tuned for many idle keep-alive
// connections (1,000+ in the benchmarks).
func NewServer(o Options) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:        Handler(o),
		Name:           "fake-upstream",
		NoDefaultDate:  true,
		IdleTimeout:    5 * time.Minute,
		Concurrency:    1 << 20,
		ReadBufferSize: 16 << 10,
	}
}

// Serve runs the fake on ln until it is closed.
func Serve(ln net.Listener, o Options) error {
	return NewServer(o).Serve(ln)
}
