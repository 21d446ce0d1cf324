package counter_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/counter"
)

// fiveLimits is one request's admission set: key RPM, team TPM, user
// budget, end-user RPM and key+model parallel slots. Limits are high so
// every Admit is allowed and applies all five amounts.
func fiveLimits(id string) []counter.Limit {
	return []counter.Limit{
		{Key: "key:" + id + ":rpm", Kind: counter.Requests, Max: 1 << 50, Amount: 1, Window: time.Minute},
		{Key: "team:" + id + ":tpm", Kind: counter.Tokens, Max: 1 << 50, Amount: 1500, Window: time.Minute},
		{Key: "user:" + id + ":budget:2026-01", Kind: counter.Budget, Max: 1 << 50, Amount: 2500, Window: 24 * time.Hour},
		{Key: "enduser:" + id + ":rpm", Kind: counter.Requests, Max: 1 << 50, Amount: 1, Window: time.Minute},
		{Key: "key:" + id + ":gpt-4o:parallel", Kind: counter.Concurrency, Max: 1 << 50, Amount: 1, Window: 10 * time.Minute},
	}
}

func benchAdmit(b *testing.B, s counter.Store) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		limits := fiveLimits("serial")
		var d counter.Decision
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Admit(ctx, limits, &d); err != nil || !d.Allowed {
				b.Fatalf("%v %+v", err, d)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var id atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine is its own key, sharing nothing but the store.
			limits := fiveLimits("p" + strconv.FormatInt(id.Add(1), 10))
			var d counter.Decision
			for pb.Next() {
				if err := s.Admit(ctx, limits, &d); err != nil || !d.Allowed {
					b.Fatalf("%v %+v", err, d)
				}
			}
		})
	})
}

func BenchmarkAdmit(b *testing.B) {
	b.Run("Memory", func(b *testing.B) { benchAdmit(b, counter.NewMemory(nil)) })
	b.Run("Redis", func(b *testing.B) { benchAdmit(b, newRedis(b)) })
}
