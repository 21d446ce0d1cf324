package loadgen

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	check := func(v uint64) {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		lo := lowerBound(i)
		if lo > v {
			t.Fatalf("lowerBound(bucketOf(%d)) = %d > v", v, lo)
		}
		if i+1 < numBuckets {
			hi := lowerBound(i + 1)
			if v >= hi {
				t.Fatalf("v=%d not below next bucket %d", v, hi)
			}
			if v >= 2*subCount && float64(hi-lo)/float64(lo) > 1.0/subCount+1e-12 {
				t.Fatalf("bucket %d [%d,%d) wider than 1/%d", i, lo, hi, subCount)
			}
		}
	}
	for v := uint64(0); v < 5000; v++ {
		check(v)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		check(r.Uint64() >> r.UintN(64))
	}
	check(1<<63 - 1)
	check(1<<64 - 1)
}

func TestQuantile(t *testing.T) {
	h := NewHistogram()
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{.5, 5000 * time.Microsecond}, {.99, 9900 * time.Microsecond}, {1, 10000 * time.Microsecond}} {
		got := h.Quantile(c.q)
		if got < c.want || float64(got-c.want) > float64(c.want)/subCount {
			t.Errorf("Quantile(%v) = %v, want %v (+%.1f%%)", c.q, got, c.want, 100.0/subCount)
		}
	}
	if h.Max() != 10*time.Millisecond || h.Min() != time.Microsecond || h.Count() != 10000 {
		t.Errorf("max/min/count = %v/%v/%d", h.Max(), h.Min(), h.Count())
	}
	if NewHistogram().Quantile(.99) != 0 {
		t.Error("empty histogram quantile is not 0")
	}
}
