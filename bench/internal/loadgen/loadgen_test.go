package loadgen

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/bench/internal/fake"
)

func TestValidateStream(t *testing.T) {
	full := fake.StreamBody(true)
	if err := ValidateStream(full, fake.StreamEventsWithUsage); err != nil {
		t.Fatalf("fake stream with usage: %v", err)
	}
	if err := ValidateStream(fake.StreamBody(false), fake.StreamEventsWithoutUsage); err != nil {
		t.Fatalf("fake stream without usage: %v", err)
	}
	cases := map[string][]byte{
		"cut before [DONE]":   full[:bytes.LastIndex(full, []byte("data: [DONE]"))],
		"cut mid [DONE]":      full[:len(full)-3],
		"cut mid event":       append(append([]byte{}, full[:200]...), "\n\ndata: [DONE]\n\n"...),
		"event dropped":       bytes.Replace(full, full[:bytes.Index(full, []byte("\n\n"))+2], nil, 1),
		"error event":         bytes.Replace(full, []byte("data: [DONE]"), []byte("data: {\"error\":{\"message\":\"upstream\"}}\n\ndata: [DONE]"), 1),
		"empty":               nil,
		"data after [DONE]":   append(append([]byte{}, full...), "data: {}\n\ndata: [DONE]\n\n"...),
		"event count (extra)": bytes.Replace(full, []byte("data: [DONE]"), []byte("data: {\"x\":1}\n\ndata: [DONE]"), 1),
	}
	for name, body := range cases {
		if err := ValidateStream(body, fake.StreamEventsWithUsage); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestValidateCompletion(t *testing.T) {
	if err := ValidateCompletion(fake.CompletionBody()); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{`{"error":{"message":"x"}}`, `{"choices":[`, ``} {
		if ValidateCompletion([]byte(b)) == nil {
			t.Errorf("accepted %q", b)
		}
	}
}

// TestAgainstFake runs both loops against the fake upstream on loopback.
func TestAgainstFake(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback:", err)
	}
	srv := fake.NewServer(fake.Options{})
	go srv.Serve(ln)     //nolint:errcheck
	defer srv.Shutdown() //nolint:errcheck

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, stream := range []bool{false, true} {
		c := NewClient(Config{Addr: ln.Addr().String(), Stream: stream, ExpectEvents: fake.StreamEventsWithUsage, Timeout: 5 * time.Second})
		res := c.Closed(ctx, ClosedOptions{Conns: 8, Requests: 500, Duration: 10 * time.Second})
		if res.OK != 500 || res.Failed() != 0 {
			t.Fatalf("closed stream=%v: %s", stream, res.Summary())
		}
		res = c.Open(ctx, OpenOptions{Rate: 400, Duration: 500 * time.Millisecond})
		if res.OK != 200 || res.Failed() != 0 || res.Lag.Count() != 200 {
			t.Fatalf("open stream=%v: %s", stream, res.Summary())
		}
		c.Close()
	}

	// A wrong path is a status failure, counted and described.
	c := NewClient(Config{Addr: ln.Addr().String(), Path: "/v1/nope", Timeout: 5 * time.Second})
	res := c.Closed(ctx, ClosedOptions{Conns: 2, Requests: 10, Duration: 5 * time.Second})
	if res.Status != 10 || !strings.Contains(res.FirstError, "404") {
		t.Fatalf("bad path: %s", res.Summary())
	}
}
