//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// newClient is an HTTP client for load: many keep-alive connections, so
// that latency never throttles an open-loop pacer.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConns:          conns,
			MaxIdleConnsPerHost:   conns,
			IdleConnTimeout:       90 * time.Second,
			DisableCompression:    true,
			ResponseHeaderTimeout: 45 * time.Second,
		},
	}
}

// chatBody is a chat request; max_tokens equals the mock's completion
// tokens; pad (bytes of prompt text) makes the body longer.
func chatBody(stream bool, pad int) []byte {
	content := "hi"
	if pad > len(content) {
		content = strings.Repeat("a", pad)
	}
	s := ""
	if stream {
		s = `,"stream":true`
	}
	return []byte(`{"model":"m","messages":[{"role":"user","content":"` + content + `"}],"max_tokens":50` + s + `}`)
}

// result is one request as the client saw it.
type result struct {
	ID         string // x-request-id
	Status     int    // 0: transport error
	ErrType    string // the error envelope's type
	ErrCode    string
	ErrMsg     string
	RetryAfter string
	Stream     bool
	Complete   bool // 200, body read to the end and valid (stream: ended with [DONE])
	Sent       time.Time
	Done       time.Time
	Err        error
	Target     int // which replica
}

func (r *result) latency() time.Duration { return r.Done.Sub(r.Sent) }

// statusKey is a short label for counting outcomes.
func (r *result) statusKey() string {
	switch {
	case r.Status == 0:
		return "transport error"
	case r.Status == 200 && !r.Complete:
		return "200 incomplete"
	case r.ErrType != "":
		return strconv.Itoa(r.Status) + " " + r.ErrType
	default:
		return strconv.Itoa(r.Status)
	}
}

// chat sends one chat completion and reads the whole response.
func chat(ctx context.Context, c *http.Client, url, key string, body []byte, stream bool) result {
	r := result{Stream: stream}
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		r.Err = err
		return r
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	r.Sent = time.Now()
	resp, err := c.Do(req)
	if err != nil {
		r.Done, r.Err = time.Now(), err
		return r
	}
	r.Status = resp.StatusCode
	r.ID = resp.Header.Get("x-request-id")
	r.RetryAfter = resp.Header.Get("Retry-After")
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.Done = time.Now()
	if err != nil {
		r.Err = err
		return r
	}
	judge(&r, resp.Header.Get("Content-Type"), b)
	return r
}

// judge fills Complete or the error fields from a response body.
func judge(r *result, contentType string, b []byte) {
	if r.Status != 200 {
		var e struct {
			Error struct {
				Type    string `json:"type"`
				Code    any    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil {
			r.ErrType, r.ErrMsg = e.Error.Type, e.Error.Message
			if e.Error.Code != nil {
				r.ErrCode = fmt.Sprint(e.Error.Code)
			}
		}
		return
	}
	if r.Stream {
		if !strings.HasPrefix(contentType, "text/event-stream") {
			return
		}
		events := 0
		for _, line := range strings.Split(string(b), "\n") {
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			if data == "[DONE]" {
				// [DONE] must be the last event.
				r.Complete = events > 0 && strings.HasSuffix(string(b), "data: [DONE]\n\n")
				return
			}
			if strings.Contains(data, `"error"`) {
				r.ErrType = "stream error event"
				return
			}
			events++
		}
		return
	}
	var ok struct {
		Choices []json.RawMessage `json:"choices"`
	}
	r.Complete = json.Unmarshal(b, &ok) == nil && len(ok.Choices) > 0
}

// rawRequest is an HTTP/1.1 request written on a pre-dialled connection,
// for bursts that must leave at the same instant.
func rawRequest(addr, key string, body []byte) []byte {
	return []byte("POST /v1/chat/completions HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + key +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
}

// burst dials one connection per request, then releases them all at once
// and reads every response.
func burst(ctx context.Context, targets []string, key string, body []byte) ([]result, error) {
	type slot struct {
		c   net.Conn
		req []byte
	}
	slots := make([]slot, len(targets))
	for i, addr := range targets {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			for _, s := range slots[:i] {
				s.c.Close()
			}
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		slots[i] = slot{c: c, req: rawRequest(addr, key, body)}
	}
	out := make([]result, len(targets))
	start := make(chan struct{})
	var ready, wg sync.WaitGroup
	for i := range slots {
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := slots[i]
			defer s.c.Close()
			r := &out[i]
			ready.Done()
			<-start
			r.Sent = time.Now()
			_ = s.c.SetDeadline(time.Now().Add(60 * time.Second))
			if _, err := s.c.Write(s.req); err != nil {
				r.Err = err
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(s.c), nil)
			if err != nil {
				r.Err, r.Done = err, time.Now()
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			r.Done = time.Now()
			r.Status, r.ID = resp.StatusCode, resp.Header.Get("x-request-id")
			if err != nil {
				r.Err = err
				return
			}
			judge(r, resp.Header.Get("Content-Type"), b)
		}()
	}
	ready.Wait()
	close(start)
	wg.Wait()
	return out, ctx.Err()
}

// pacer sends requests open loop: request i is started at start+i/rate in
// its own goroutine, whatever the latency of the earlier ones, until stop
// is closed or the deadline (zero: none) passes. fn runs for each request.
// It returns when every request has finished.
func pacer(ctx context.Context, rate float64, start, deadline time.Time, stop <-chan struct{}, fn func(i int)) int {
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	i := 0
	for ; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if !deadline.IsZero() && !at.Before(deadline) {
			break
		}
		if d := time.Until(at); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				wg.Wait()
				return i
			case <-stop:
				t.Stop()
				wg.Wait()
				return i
			case <-t.C:
			}
		} else {
			select {
			case <-ctx.Done():
				wg.Wait()
				return i
			case <-stop:
				wg.Wait()
				return i
			default:
			}
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			fn(i)
		}(i)
	}
	wg.Wait()
	return i
}

// collector gathers results from many goroutines.
type collector struct {
	mu  sync.Mutex
	all []result
}

func (c *collector) add(r result) {
	c.mu.Lock()
	c.all = append(c.all, r)
	c.mu.Unlock()
}

func (c *collector) results() []result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.all)
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func sortedDurations(ds []time.Duration) []time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s
}

// countBy counts results by key.
func countBy(rs []result, key func(*result) string) map[string]int {
	m := map[string]int{}
	for i := range rs {
		m[key(&rs[i])]++
	}
	return m
}

// formatCounts renders a count map as "a: 1, b: 2" in descending order.
func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "—"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// firstErrors lists up to n distinct transport errors, for the report.
func firstErrors(rs []result, n int) []string {
	seen := map[string]bool{}
	var out []string
	for i := range rs {
		if rs[i].Err == nil {
			continue
		}
		s := rs[i].Err.Error()
		if seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
		if len(out) == n {
			break
		}
	}
	return out
}

func us(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }

func ms(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }

// postJSON sends an admin request with the master key.
func postJSON(c *http.Client, url, key string, body any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest("POST", url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, rb)
	}
	return json.Unmarshal(rb, out)
}

// dumpResults writes every request as a CSV line to <tmp>/<name>.csv,
// for inspection with -keep.
func (h *harness) dumpResults(name string, rs []result) {
	f, err := os.Create(filepath.Join(h.tmp, name+".csv"))
	if err != nil {
		return
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "sent_utc,done_utc,latency_us,target,stream,status,complete,error_type,retry_after,request_id,transport_error")
	for i := range rs {
		r := &rs[i]
		errText := ""
		if r.Err != nil {
			errText = strconv.Quote(r.Err.Error())
		}
		fmt.Fprintf(w, "%s,%s,%d,%d,%v,%d,%v,%s,%s,%s,%s\n", r.Sent.UTC().Format("15:04:05.000000"), r.Done.UTC().Format("15:04:05.000000"),
			r.latency().Microseconds(), r.Target, r.Stream, r.Status, r.Complete, r.ErrType, r.RetryAfter, r.ID, errText)
	}
	_ = w.Flush()
}

// adminClient is for management calls.
var adminClient = &http.Client{Timeout: 15 * time.Second}

// vkey is a virtual key the gateway generated.
type vkey struct {
	Key  string `json:"key"`   // plaintext
	Hash string `json:"token"` // hex SHA-256, spend_logs.key_hash
}

// generateKey calls /key/generate on g with fields.
func generateKey(g *gateway, fields map[string]any) (vkey, error) {
	var k vkey
	if err := postJSON(adminClient, g.url+"/key/generate", masterKey, fields, &k); err != nil {
		return k, err
	}
	if !strings.HasPrefix(k.Key, "sk-") || len(k.Hash) != 64 {
		return k, fmt.Errorf("/key/generate: unexpected answer %+v", k)
	}
	return k, nil
}
