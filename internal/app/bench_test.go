package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/internal/config"
)

// fakeUpstream answers chat completions with fixed bytes: a completion, or
// the 8-event stream of the load harness (6 content chunks, finish, usage).
func fakeUpstream(b *testing.B) string {
	completion := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, how can I help you today?"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}`)
	var stream []byte
	for i, piece := range []string{"Hello", " there", ",", " how", " can", " I help?"} {
		delta := fmt.Sprintf(`{"content":%q}`, piece)
		if i == 0 {
			delta = fmt.Sprintf(`{"role":"assistant","content":%q}`, piece)
		}
		stream = fmt.Appendf(stream, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":%s,\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n", delta)
	}
	stream = append(stream, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"...)
	stream = append(stream, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":9,\"total_tokens\":21}}\n\ndata: [DONE]\n\n"...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if strings.Contains(string(ctx.PostBody()), `"stream":true`) {
			ctx.SetContentType("text/event-stream")
			ctx.SetBody(stream)
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(completion)
	}}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

const benchKey = "sk-bench-0123456789abcdef0123456789abcdef"

func startGateway(b *testing.B, upstream string) string {
	yaml := fmt.Sprintf("model_list:\n  - model_name: bench\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_base: http://%s/v1\n      api_key: sk-fake\ngeneral_settings:\n  master_key: %s\n", upstream, benchKey)
	cfg, _, err := config.Parse("bench.yaml", []byte(yaml), ".", func(string) (string, bool) { return "", false })
	cfg.GeneralSettings.DatabaseURL = b.TempDir() + "/switchboard.db"
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	o := Options{Host: "127.0.0.1", Port: 0}
	g, err := Build(cfg, o, log)
	if err != nil {
		b.Fatal(err)
	}
	addr := make(chan net.Addr, 1)
	o.Ready = func(a net.Addr) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = g.Run(ctx, o); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return (<-addr).String()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGateway drives the whole stack in one process over loopback:
// client → gateway (auth, envelope, route, upstream, relay, metrics) → fake
// upstream. cpu-µs/op covers all three parties; compare runs with benchstat,
// and use bench/report for the gateway's own share.
func BenchmarkGateway(b *testing.B) {
	gw := startGateway(b, fakeUpstream(b))
	for _, stream := range []bool{false, true} {
		name := "chat"
		body := `{"model":"bench","messages":[{"role":"user","content":"Say hello in one short sentence, please."}],"max_tokens":64}`
		if stream {
			name = "stream"
			body = `{"model":"bench","stream":true,"messages":[{"role":"user","content":"Say hello in one short sentence, please."}],"max_tokens":64}`
		}
		b.Run(name, func(b *testing.B) {
			c := &fasthttp.HostClient{Addr: gw, MaxConns: 64}
			b.ReportAllocs()
			start := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.SetRequestURI("http://" + gw + "/v1/chat/completions")
				req.Header.SetMethod("POST")
				req.Header.Set("Authorization", "Bearer "+benchKey)
				req.SetBodyString(body)
				for pb.Next() {
					if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
						b.Errorf("status %d err %v: %s", resp.StatusCode(), err, resp.Body())
						return
					}
				}
			})
			b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
