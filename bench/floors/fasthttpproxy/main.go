// Command fasthttpproxy is the fasthttp floor: the least a fasthttp-based
// reverse proxy can do per request (forward, stream the response back,
// flush per read). The gateway's CPU cost is judged against it. It has no
// routing, auth, header hygiene or error mapping; do not deploy it.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

var eventStream = []byte("text/event-stream")

func main() {
	addr := flag.String("addr", "127.0.0.1:9200", "listen address")
	upstream := flag.String("upstream", "127.0.0.1:9100", "upstream host:port")
	flag.Parse()

	hc := &fasthttp.HostClient{
		Addr:                *upstream,
		MaxConns:            1 << 16,
		MaxIdleConnDuration: 5 * time.Minute,
		ReadTimeout:         2 * time.Minute,
		WriteTimeout:        time.Minute,
		// Hand back the body as a stream so SSE events are relayed as they
		// arrive instead of after the whole response.
		StreamResponseBody: true,
		// Forward headers byte for byte, as a proxy should.
		DisableHeaderNamesNormalizing: true,
		NoDefaultUserAgentHeader:      true,
	}
	bufPool := sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

	handler := func(ctx *fasthttp.RequestCtx) {
		resp := fasthttp.AcquireResponse()
		// The inbound request is forwarded as is: same method, path,
		// headers and body. HostClient dials Addr whatever the Host says.
		if err := hc.Do(&ctx.Request, resp); err != nil {
			fasthttp.ReleaseResponse(resp)
			ctx.Error("upstream: "+err.Error(), fasthttp.StatusBadGateway)
			return
		}
		resp.Header.CopyTo(&ctx.Response.Header)
		if !bytes.HasPrefix(resp.Header.ContentType(), eventStream) {
			ctx.SetBody(resp.Body()) // reads the rest of the upstream body
			fasthttp.ReleaseResponse(resp)
			return
		}
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			defer fasthttp.ReleaseResponse(resp) // closes the stream, frees the conn
			bp := bufPool.Get().(*[]byte)
			defer bufPool.Put(bp)
			body := resp.BodyStream()
			for {
				n, err := body.Read(*bp)
				if n > 0 {
					if _, werr := w.Write((*bp)[:n]); werr != nil {
						return
					}
					if w.Flush() != nil {
						return
					}
				}
				if err != nil {
					return // io.EOF or an upstream error: end the stream
				}
			}
		})
	}

	srv := &fasthttp.Server{
		Handler:                       handler,
		Name:                          "fasthttp-floor",
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: true,
		IdleTimeout:                   5 * time.Minute,
		Concurrency:                   1 << 20,
		ReadBufferSize:                16 << 10,
	}
	ln, err := net.Listen("tcp4", *addr)
	if err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; ln.Close() }()
	log.Printf("fasthttp floor on %s -> %s", ln.Addr(), *upstream)
	if err := srv.Serve(ln); err != nil {
		log.Print(err)
	}
}
