// Command fakeupstream serves a fixed OpenAI chat completion (and an 8-event
// SSE stream) on 127.0.0.1 with configurable latency, as the upstream for
// the benchmark harness. See bench/README.md.
package main

import (
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/switchboard-gw/switchboard/bench/internal/fake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address")
	var o fake.Options
	flag.DurationVar(&o.Latency, "latency", 0, "delay before the response headers")
	flag.DurationVar(&o.EventGap, "event-gap", 0, "delay between stream events")
	flag.Parse()

	ln, err := net.Listen("tcp4", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// Close the listener on SIGTERM/SIGINT so the harness sees a clean exit.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; ln.Close() }()

	log.Printf("fakeupstream listening on %s (latency %v, event gap %v)", ln.Addr(), o.Latency, o.EventGap)
	if err := fake.Serve(ln, o); err != nil {
		log.Print(err)
	}
}
