package upstream

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// 300-byte JSON bodies, the size of a small chat completion exchange.
var (
	benchReqBody  = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("a", 300-83) + `"}],"stream":false}`)
	benchRespBody = []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("b", 300-176) + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)
)

// startFastHTTPServer is the minimal upstream all three client benchmarks hit,
// so their differences are the client side.
func startFastHTTPServer(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(benchRespBody)
	}}
	go s.Serve(ln)
	b.Cleanup(func() { s.Shutdown() })
	return ln.Addr().String()
}

// cpuTimer reports process CPU (user+sys, client and server together) per op,
// which is the figure our per-request budget is written in.
type cpuTimer struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuTimer {
	b.ReportAllocs()
	b.ResetTimer()
	return &cpuTimer{start: cpuNow()}
}

func (t *cpuTimer) stop(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(cpuNow()-t.start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

func BenchmarkDo(b *testing.B) {
	addr := startFastHTTPServer(b)
	run := func(b *testing.B, ctx context.Context, o DoOptions) {
		c := New(Options{})
		defer c.Close()
		req := AcquireRequest()
		defer ReleaseRequest(req)
		req.URL = "http://" + addr + "/v1/chat/completions"
		req.Header = append(req.Header,
			[2]string{"Authorization", "Bearer sk-0123456789abcdef0123456789abcdef"},
			[2]string{"Content-Type", "application/json"})
		req.Body = benchReqBody
		var buf [512]byte
		t := startCPU(b)
		for i := 0; i < b.N; i++ {
			resp, err := c.Do(ctx, req, o)
			if err != nil {
				b.Fatal(err)
			}
			if o.Stream {
				for {
					if _, err := resp.BodyStream().Read(buf[:]); err != nil {
						break
					}
				}
			} else if len(resp.Body()) != len(benchRespBody) {
				b.Fatal("short body")
			}
			resp.Release()
		}
		t.stop(b)
	}
	b.Run("background", func(b *testing.B) { run(b, context.Background(), DoOptions{}) })
	b.Run("cancelctx", func(b *testing.B) {
		// A cancellable context, as the server's per-request one will be:
		// this adds the context.AfterFunc registration.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		run(b, ctx, DoOptions{})
	})
	b.Run("cancelctx+timeouts", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		run(b, ctx, DoOptions{FirstByteTimeout: 30 * time.Second, Timeout: time.Minute})
	})
	b.Run("stream", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		run(b, ctx, DoOptions{Stream: true})
	})
}

func BenchmarkFastHTTPHostClient(b *testing.B) {
	addr := startFastHTTPServer(b)
	hc := &fasthttp.HostClient{Addr: addr}
	defer hc.CloseIdleConnections()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	t := startCPU(b)
	for i := 0; i < b.N; i++ {
		req.SetRequestURI("http://" + addr + "/v1/chat/completions")
		req.Header.SetMethod("POST")
		req.Header.Set("Authorization", "Bearer sk-0123456789abcdef0123456789abcdef")
		req.Header.SetContentType("application/json")
		req.SetBody(benchReqBody)
		if err := hc.Do(req, resp); err != nil {
			b.Fatal(err)
		}
		if len(resp.Body()) != len(benchRespBody) {
			b.Fatal("short body")
		}
		req.Reset()
		resp.Reset()
	}
	t.stop(b)
}

func BenchmarkNetHTTP(b *testing.B) {
	addr := startFastHTTPServer(b)
	tr := &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	url := "http://" + addr + "/v1/chat/completions"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var body bytes.Buffer
	t := startCPU(b)
	for i := 0; i < b.N; i++ {
		req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(benchReqBody))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer sk-0123456789abcdef0123456789abcdef")
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body.Reset()
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		if body.Len() != len(benchRespBody) {
			b.Fatal("short body")
		}
	}
	t.stop(b)
}

// BenchmarkWriteRequest is the measurement behind writing requests by hand
// rather than through fasthttp.Request.Write.
func BenchmarkWriteRequest(b *testing.B) {
	const url = "https://api.openai.com/v1/chat/completions"
	bw := bufio.NewWriterSize(io.Discard, 4096)
	b.Run("handwritten", func(b *testing.B) {
		req := &Request{URL: url, Body: benchReqBody, Header: [][2]string{
			{"Authorization", "Bearer sk-0123456789abcdef0123456789abcdef"},
			{"Content-Type", "application/json"}}}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			t, err := parseURL(req.URL)
			if err != nil {
				b.Fatal(err)
			}
			p, err := prepare(req, &t)
			if err != nil {
				b.Fatal(err)
			}
			writeRequest(bw, req, &t, &p)
			bw.Flush()
		}
	})
	b.Run("fasthttp", func(b *testing.B) {
		req := fasthttp.AcquireRequest()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			req.SetRequestURI(url)
			req.Header.SetMethod("POST")
			req.Header.Set("Authorization", "Bearer sk-0123456789abcdef0123456789abcdef")
			req.Header.SetContentType("application/json")
			req.SetBody(benchReqBody)
			req.Write(bw)
			bw.Flush()
			req.Reset()
		}
	})
}
