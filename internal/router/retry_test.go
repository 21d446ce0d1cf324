package router

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		e    provider.Error
		want ErrorClass
	}{
		{provider.Error{Status: 400}, BadRequestError},
		{provider.Error{Status: 422}, BadRequestError},
		{provider.Error{Status: 400, Code: CodeContentPolicy}, ContentPolicyViolationError},
		{provider.Error{Status: 401}, AuthenticationError},
		{provider.Error{Status: 403}, AuthenticationError},
		{provider.Error{Status: 429}, RateLimitError},
		{provider.Error{Status: 504, Type: "timeout"}, TimeoutError},
		{provider.Error{Status: 408}, TimeoutError},
		{provider.Error{Status: 500}, InternalServerError},
		{provider.Error{Status: 503}, InternalServerError},
	} {
		if got := Classify(&tc.e); got != tc.want {
			t.Errorf("%d %q %q: %v, want %v", tc.e.Status, tc.e.Type, tc.e.Code, got, tc.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		name       string
		e          provider.Error
		idempotent bool
		want       bool
	}{
		{"429", provider.Error{Status: 429, Retryable: true, MayHaveBeenSent: true}, false, true},
		{"500 answered", provider.Error{Status: 500, Retryable: true, MayHaveBeenSent: true}, false, true},
		{"400", provider.Error{Status: 400, MayHaveBeenSent: true}, false, false},
		{"401", provider.Error{Status: 401}, true, false},
		{"connect refused", provider.Error{Status: 502, Retryable: true}, false, true},
		{"timeout after sending", provider.Error{Status: 504, Type: "timeout", Retryable: true, MayHaveBeenSent: true}, false, false},
		{"timeout after sending, idempotency key", provider.Error{Status: 504, Type: "timeout", Retryable: true, MayHaveBeenSent: true}, true, true},
		{"timeout before sending", provider.Error{Status: 504, Type: "timeout", Retryable: true}, false, true},
		{"client gone", provider.Error{Status: provider.StatusClientClosed, Retryable: true}, true, false},
	} {
		if got := Retryable(&tc.e, tc.idempotent); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRetriesMax(t *testing.T) {
	var p, g RetryPolicy
	p.Set(RateLimitError, 5)
	p.Set(AuthenticationError, 0)
	g.Set(RateLimitError, 1)
	r := Retries{NumRetries: 2, Policy: p, Groups: map[string]RetryPolicy{"special": g}}
	for _, tc := range []struct {
		group      string
		c          ErrorClass
		perRequest int
		want       int
	}{
		{"any", InternalServerError, -1, 2},
		{"any", InternalServerError, 4, 4},
		{"any", InternalServerError, 1000, MaxPerRequest},
		{"any", RateLimitError, 0, 5},      // the policy wins over the request, as in LiteLLM
		{"special", RateLimitError, -1, 1}, // the group's policy wins over the general one
		{"special", InternalServerError, -1, 2},
		{"any", AuthenticationError, -1, 0},
	} {
		if got := r.Max(tc.group, tc.c, tc.perRequest); got != tc.want {
			t.Errorf("Max(%s, %v, %d) = %d, want %d", tc.group, tc.c, tc.perRequest, got, tc.want)
		}
	}
	if r.Explicit("any", AuthenticationError) || !r.Explicit("any", RateLimitError) || r.Explicit("any", BadRequestError) {
		t.Errorf("Explicit: only classes a policy gives retries are explicit")
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n <= 12; n++ {
		lo := Backoff(n, 0, 0)
		hi := Backoff(n, 0, 0.999999)
		if lo <= 0 || hi < lo || hi > BackoffCap {
			t.Errorf("retry %d: [%v, %v]", n, lo, hi)
		}
		if n > 1 && lo < Backoff(n-1, 0, 0) {
			t.Errorf("retry %d waits less than retry %d", n, n-1)
		}
	}
	if Backoff(1, 0, 0) != BackoffBase/2 || Backoff(2, 0, 0) != BackoffBase {
		t.Errorf("first waits: %v, %v", Backoff(1, 0, 0), Backoff(2, 0, 0))
	}
	if got := Backoff(1, 3*time.Second, 0.5); got != 3*time.Second {
		t.Errorf("an upstream Retry-After of 3 s: waited %v", got)
	}
}

func TestSleep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if !Sleep(ctx, time.Millisecond) {
		t.Error("a short wait within the deadline did not pass")
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	start := time.Now()
	if Sleep(short, time.Minute) || time.Since(start) > 10*time.Second {
		t.Error("a wait past the deadline was started")
	}
	gone, cancel3 := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel3() }()
	if Sleep(gone, time.Minute) {
		t.Error("a cancelled request kept waiting")
	}
}

// Under a full outage every request wants its retries; the budget keeps
// the extra attempts within BudgetPercent of the requests, over time, not
// just in one window.
func TestBudgetBoundsRetries(t *testing.T) {
	var b Budget
	now := time.Unix(1_700_000_000, 0)
	requests, retries := 0, 0
	for i := range 6000 {
		now = now.Add(10 * time.Millisecond) // 100 requests a second for a minute
		b.Request(now)
		requests++
		for range 2 {
			if b.Retry(now) {
				retries++
			}
		}
		if i == 0 && retries != 2 {
			t.Fatalf("a quiet gateway's first failing request got %d retries, want 2 (the minimum)", retries)
		}
	}
	if ratio := float64(requests+retries) / float64(requests); ratio > 1.2+1e-9 || ratio < 1.15 {
		t.Errorf("attempts/requests = %.3f (%d retries for %d requests), want just under 1.2", ratio, retries, requests)
	}
}

// After a burst, the window forgets: a later quiet period can retry again.
func TestBudgetWindowSlides(t *testing.T) {
	var b Budget
	now := time.Unix(1_700_000_000, 0)
	for range 100 {
		b.Request(now)
	}
	n := 0
	for b.Retry(now) {
		n++
	}
	if n != 20 {
		t.Fatalf("100 requests allow %d retries, want 20", n)
	}
	now = now.Add(BudgetWindow + bucketSpan)
	b.Request(now)
	if !b.Retry(now) {
		t.Fatal("a window later the budget did not allow the minimum")
	}
}

func BenchmarkBudgetRequest(b *testing.B) {
	var bu Budget
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		bu.Request(now)
	}
}
