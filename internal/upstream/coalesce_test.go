package upstream

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// TestChunksArrivedTogetherAreReadTogether: chunks that are already
// buffered come back from one Read; a chunk still on its way is not waited
// for.
func TestChunksArrivedTogetherAreReadTogether(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	release := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for { // the request head and its 2-byte body
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		_, _ = br.Discard(2)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n9\r\ndata: c\n\n\r\n5\r\ndata:")
		<-release
		_, _ = io.WriteString(c, "\r\n4\r\n d\n\n\r\n0\r\n\r\n")
	}()
	c := New(Options{})
	defer c.Close()
	req := AcquireRequest()
	req.URL = "http://" + ln.Addr().String() + "/v1/chat/completions"
	req.Body = []byte("{}")
	resp, err := c.Do(context.Background(), req, DoOptions{Stream: true})
	ReleaseRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Release()
	time.Sleep(50 * time.Millisecond) // let the first segment land
	buf := make([]byte, 4096)
	n, err := resp.BodyStream().Read(buf)
	if err != nil || string(buf[:n]) != "data: a\n\ndata: b\n\ndata: c\n\ndata:" {
		t.Fatalf("first read = %q, %v; want the three buffered events and the partial one", buf[:n], err)
	}
	close(release)
	rest, err := io.ReadAll(resp.BodyStream())
	if err != nil || string(rest) != " d\n\n" {
		t.Fatalf("rest = %q, %v", rest, err)
	}
}
