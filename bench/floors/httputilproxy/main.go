// Command httputilproxy is the net/http floor: the stock Go reverse proxy
// (httputil.NewSingleHostReverseProxy with FlushInterval -1) that passes the
// inbound request body straight to the upstream. It is both the CPU floor
// for a net/http gateway and the reproduction of golang/go#40747: the server
// may close the inbound body while the transport is still writing it
// upstream, which aborts the upstream connection and truncates a fraction
// of SSE responses.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9300", "listen address")
	upstream := flag.String("upstream", "127.0.0.1:9100", "upstream host:port")
	flag.Parse()

	target := &url.URL{Scheme: "http", Host: *upstream}
	rp := httputil.NewSingleHostReverseProxy(target)
	// Flush every write: the SSE setting (also what ReverseProxy picks by
	// itself for text/event-stream responses).
	rp.FlushInterval = -1
	// The one deviation from http.DefaultTransport: its 2 idle connections
	// per host would make the proxy open a fresh upstream TCP connection for
	// almost every request at 50+ concurrent clients, and the floor would
	// measure handshakes and TIME_WAIT, not proxying.
	rp.Transport = &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0, // no global cap
		MaxIdleConnsPerHost:   1 << 16,
		IdleConnTimeout:       5 * time.Minute,
		ExpectContinueTimeout: time.Second,
	}
	// Errors go to stderr (the harness's log file); truncations show up
	// there as "httputil: ReverseProxy read error during body copy".
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute}

	ln, err := net.Listen("tcp4", *addr)
	if err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; srv.Close() }()
	log.Printf("httputil floor on %s -> %s", ln.Addr(), *upstream)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Print(err)
	}
}
