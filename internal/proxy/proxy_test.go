package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
)

// fakeProvider answers with a scripted result.
type fakeProvider struct {
	result func() (*provider.Result, error)
	calls  int
}

func (f *fakeProvider) Name() string                 { return "fake" }
func (f *fakeProvider) Supports(op provider.Op) bool { return op != provider.OpSpeech }
func (f *fakeProvider) Send(ctx context.Context, c *provider.Call) (*provider.Result, error) {
	f.calls++
	return f.result()
}

// scripted is a provider.Stream of fixed pieces ending with end.
type scripted struct {
	pieces []string
	end    error
	i      int
	closed bool
}

func (s *scripted) Next(dst []byte) ([]byte, error) {
	if s.i >= len(s.pieces) {
		return dst, s.end
	}
	dst = append(dst, s.pieces[s.i]...)
	s.i++
	if s.i == len(s.pieces) && s.end == io.EOF {
		return dst, io.EOF
	}
	return dst, nil
}
func (s *scripted) Usage() openai.Usage {
	return openai.Usage{PromptTokens: 3, CompletionTokens: int64(s.i)}
}
func (s *scripted) Close() { s.closed = true }

// recorder is a Responder that runs streams at once and can fail writes.
type recorder struct {
	status   int
	headers  map[string]string
	body     bytes.Buffer
	flushes  int
	failFrom int // fail writes from this flush on (0 = never)
}

func (r *recorder) SetHeader(k string, v []byte) { r.headers[k] = string(v) }
func (r *recorder) Send(status int, _ string, body []byte) {
	r.status = status
	r.body.Write(body)
}
func (r *recorder) Stream(status int, _ string, fn func(StreamWriter)) {
	r.status = status
	fn(r)
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.failFrom > 0 && r.flushes+1 >= r.failFrom {
		return 0, errors.New("broken pipe")
	}
	return r.body.Write(p)
}
func (r *recorder) Flush() error { r.flushes++; return nil }

type outcomes struct{ got []Outcome }

func (o *outcomes) Observe(out *Outcome) { o.got = append(o.got, *out) }

func pipeline(f *fakeProvider) (*Pipeline, *outcomes) {
	d := &provider.Deployment{ID: "dep-1", ModelName: "m", Provider: "fake", Impl: f}
	obs := &outcomes{}
	return &Pipeline{Router: router.New([]router.Weighted{{Deployment: d}}), Observer: obs}, obs
}

func serve(t *testing.T, p *Pipeline, body string, rec *recorder) error {
	t.Helper()
	rec.headers = map[string]string{}
	return p.Serve(context.Background(), &Request{ID: "req-1", Op: provider.OpChat, Body: []byte(body), Received: time.Now()}, rec)
}

func TestNonStreamed(t *testing.T) {
	f := &fakeProvider{result: func() (*provider.Result, error) {
		return &provider.Result{Status: 200, ContentType: "application/json", Body: []byte(`{"ok":true}`), Usage: openai.Usage{TotalTokens: 9}}, nil
	}}
	p, obs := pipeline(f)
	rec := &recorder{}
	if err := serve(t, p, `{"model":"m","messages":[]}`, rec); err != nil {
		t.Fatal(err)
	}
	if rec.status != 200 || rec.body.String() != `{"ok":true}` || rec.headers["x-litellm-model-id"] != "dep-1" || rec.headers["x-switchboard-overhead-ms"] == "" {
		t.Errorf("got %d %s %v", rec.status, rec.body.String(), rec.headers)
	}
	if len(obs.got) != 1 || obs.got[0].Result != "ok" || obs.got[0].Usage.TotalTokens != 9 || obs.got[0].Model != "m" {
		t.Errorf("outcome %+v", obs.got)
	}
}

func TestRequestErrors(t *testing.T) {
	f := &fakeProvider{result: func() (*provider.Result, error) { t.Fatal("provider called"); return nil, nil }}
	p, obs := pipeline(f)
	for body, want := range map[string]int{
		`{"model":"m","messages":[}`:   400,
		`{"messages":[]}`:              400,
		`{"model":"nope"}`:             404,
		`{"model":7}`:                  400,
		`["model","m"]`:                400,
		`{"model":"m","stream":"yes"}`: 400,
	} {
		err := serve(t, p, body, &recorder{})
		if e := provider.AsError(err); err == nil || e.Status != want {
			t.Errorf("%s: err %v, want status %d", body, err, want)
		}
	}
	if len(obs.got) != 6 || obs.got[0].Result != "error" {
		t.Errorf("every rejected request is observed: %+v", obs.got)
	}
}

func TestStreamRelaysAndEndsWithErrorEvent(t *testing.T) {
	s := &scripted{pieces: []string{"data: a\n\n", "data: b\n\n"}, end: &provider.Error{Status: 502, Type: "api_error", Code: "upstream_stream_truncated", Message: "cut", Cause: provider.ErrTruncated}}
	f := &fakeProvider{result: func() (*provider.Result, error) {
		return &provider.Result{Status: 200, ContentType: "text/event-stream", Stream: s}, nil
	}}
	p, obs := pipeline(f)
	rec := &recorder{}
	if err := serve(t, p, `{"model":"m","stream":true}`, rec); err != nil {
		t.Fatal(err)
	}
	want := "data: a\n\ndata: b\n\ndata: {\"error\":{\"message\":\"cut\",\"type\":\"api_error\",\"param\":null,\"code\":\"upstream_stream_truncated\"}}\n\n"
	if rec.body.String() != want {
		t.Errorf("client got %q\nwant %q", rec.body.String(), want)
	}
	if strings.Contains(rec.body.String(), "[DONE]") || strings.Contains(rec.body.String(), "finish_reason") {
		t.Errorf("a failed stream must not look complete")
	}
	if rec.flushes != 3 || !s.closed || obs.got[0].Result != "truncated" || obs.got[0].Usage.CompletionTokens != 2 {
		t.Errorf("flushes %d closed %v outcome %+v", rec.flushes, s.closed, obs.got[0])
	}
}

func TestStreamFailingBeforeFirstByteIsAPlainError(t *testing.T) {
	s := &scripted{end: &provider.Error{Status: 503, Type: "service_unavailable", Message: "overloaded", Retryable: true}}
	f := &fakeProvider{result: func() (*provider.Result, error) { return &provider.Result{Status: 200, Stream: s}, nil }}
	p, _ := pipeline(f)
	rec := &recorder{}
	err := serve(t, p, `{"model":"m","stream":true}`, rec)
	if e := provider.AsError(err); err == nil || e.Status != 503 || rec.status != 0 || !s.closed {
		t.Errorf("err %v, committed status %d, closed %v", err, rec.status, s.closed)
	}
}

func TestClientGoneClosesUpstream(t *testing.T) {
	s := &scripted{pieces: []string{"data: a\n\n", "data: b\n\n", "data: c\n\n"}, end: io.EOF}
	f := &fakeProvider{result: func() (*provider.Result, error) { return &provider.Result{Status: 200, Stream: s}, nil }}
	p, obs := pipeline(f)
	rec := &recorder{failFrom: 2}
	if err := serve(t, p, `{"model":"m","stream":true}`, rec); err != nil {
		t.Fatal(err)
	}
	if !s.closed || obs.got[0].Result != "cancelled" || obs.got[0].Status != provider.StatusClientClosed || s.i != 2 {
		t.Errorf("closed %v read %d outcome %+v", s.closed, s.i, obs.got[0])
	}
}

// nopWriter is a StreamWriter that discards, for benchmarks.
type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) Flush() error                { return nil }

// loop is a stream of n identical events, reusable without allocating.
type loop struct {
	ev []byte
	n  int
	i  int
}

func (l *loop) Next(dst []byte) ([]byte, error) {
	l.i++
	dst = append(dst, l.ev...)
	if l.i >= l.n {
		return dst, io.EOF
	}
	return dst, nil
}
func (l *loop) Usage() openai.Usage { return openai.Usage{} }
func (l *loop) Close()              {}

// BenchmarkRelayEvent is the pipeline's own per-event cost of relaying a
// committed stream (the provider's decoding is benchmarked separately).
func BenchmarkRelayEvent(b *testing.B) {
	ev := []byte(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" there"},"finish_reason":null}]}` + "\n\n")
	p := &Pipeline{}
	st := &state{buf: make([]byte, 0, 4096)}
	l := &loop{ev: ev}
	b.ReportAllocs()
	const perStream = 1000
	for b.Loop() {
		l.i, l.n = 0, perStream
		st.buf, st.pending = st.buf[:0], nil
		st.out = Outcome{}
		p.relayInto(context.Background(), nopWriter{}, l, st)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perStream), "ns/event")
}
