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
func (f *fakeProvider) Send(ctx context.Context, c *provider.Call, res *provider.Result) error {
	f.calls++
	r, err := f.result()
	if err == nil {
		*res = *r
	}
	return err
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

func (r *recorder) SetHeader(k, v string)             { r.headers[k] = v }
func (r *recorder) SetHeaderBytes(k string, v []byte) { r.headers[k] = string(v) }
func (r *recorder) Send(status int, _ string, body []byte) {
	r.status = status
	r.body.Write(body)
}

// Stream pulls the body the way fasthttp does: Read until io.EOF, one
// flushed chunk per Read, then Done with the write error.
func (r *recorder) Stream(status int, _ string, src StreamSource) {
	r.status = status
	buf := make([]byte, 4096)
	var werr error
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if r.failFrom > 0 && r.flushes+1 >= r.failFrom {
				werr = errors.New("broken pipe")
				break
			}
			r.body.Write(buf[:n])
			r.flushes++
		}
		if err != nil {
			break
		}
	}
	src.Done(werr)
}

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

// BenchmarkRelayEvent is the pipeline's own per-event cost of a committed
// stream, pulled the way the server pulls it (the provider's decoding is
// benchmarked separately).
func BenchmarkRelayEvent(b *testing.B) {
	ev := []byte(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" there"},"finish_reason":null}]}` + "\n\n")
	st := &state{buf: make([]byte, 0, 4096), ctx: context.Background()}
	l := &loop{ev: ev}
	st.res.Stream = l
	p := make([]byte, 4096)
	b.ReportAllocs()
	const perStream = 1000
	for b.Loop() {
		l.i, l.n = 0, perStream
		st.buf, st.off, st.upErr, st.closed = st.buf[:0], 0, nil, false
		st.out = Outcome{Start: time.Now()}
		for {
			if _, err := st.Read(p); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perStream), "ns/event")
}

// A multipart request served after a JSON one must not inherit the JSON
// request's envelope (user, tags, max_tokens) from the pooled state.
func TestMultipartGetsNoStaleEnvelope(t *testing.T) {
	f := &fakeProvider{result: func() (*provider.Result, error) {
		return &provider.Result{Status: 200, ContentType: "application/json", Body: []byte(`{}`)}, nil
	}}
	p, obs := pipeline(f)
	rec := &recorder{headers: map[string]string{}}
	if err := p.Serve(context.Background(), &Request{ID: "1", Op: provider.OpChat, Body: []byte(`{"model":"m","user":"alice","metadata":{"tags":["t"]}}`), Received: time.Now()}, rec); err != nil {
		t.Fatal(err)
	}
	body := "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n--B--\r\n"
	rec = &recorder{headers: map[string]string{}}
	_ = p.Serve(context.Background(), &Request{ID: "2", Op: provider.OpTranscription, Body: []byte(body), ContentType: []byte("multipart/form-data; boundary=B"), Received: time.Now()}, rec)
	if len(obs.got) != 2 || obs.got[0].EndUser != "alice" || obs.got[1].EndUser != "" || obs.got[1].Tags != nil {
		t.Fatalf("outcomes %+v", obs.got)
	}
}
