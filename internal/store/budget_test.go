package store

import (
	"errors"
	"testing"
	"time"
)

func TestNextReset(t *testing.T) {
	// 2026-03-18 is a Wednesday.
	from := time.Date(2026, 3, 18, 13, 47, 12, 500, time.UTC)
	cases := []struct {
		dur  string
		want time.Time
	}{
		{"30s", time.Date(2026, 3, 18, 13, 47, 30, 0, time.UTC)},
		{"1m", time.Date(2026, 3, 18, 13, 48, 0, 0, time.UTC)},
		{"15m", time.Date(2026, 3, 18, 14, 0, 0, 0, time.UTC)},
		{"1h", time.Date(2026, 3, 18, 14, 0, 0, 0, time.UTC)},
		{"6h", time.Date(2026, 3, 18, 18, 0, 0, 0, time.UTC)},
		{"1d", time.Date(2026, 3, 19, 0, 0, 0, 0, time.UTC)},
		{"2d", time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)},
		{"7d", time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC)},
		{"1w", time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC)},
		{"2w", time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)},
		{"30d", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
		{"1mo", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
		{"12mo", time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)},
		{" 1D ", time.Date(2026, 3, 19, 0, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		got, err := NextReset(from, c.dur)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("NextReset(%s, %q) = %v, %v; want %v", from, c.dur, got, err, c.want)
		}
	}
	// Exactly on a boundary the next window starts strictly later.
	mid := time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC) // a Monday
	if got, _ := NextReset(mid, "7d"); !got.Equal(mid.AddDate(0, 0, 7)) {
		t.Errorf("7d from a Monday midnight = %v", got)
	}
	if got, _ := NextReset(mid, "1d"); !got.Equal(mid.AddDate(0, 0, 1)) {
		t.Errorf("1d from midnight = %v", got)
	}
	// December rolls into the next year.
	if got, _ := NextReset(time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "1mo"); !got.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("1mo from Dec 31 = %v", got)
	}
	// Non-UTC input is interpreted in UTC.
	loc := time.FixedZone("x", 5*3600)
	if got, _ := NextReset(time.Date(2026, 3, 19, 2, 0, 0, 0, loc), "1d"); !got.Equal(time.Date(2026, 3, 19, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("1d from +05:00 = %v", got)
	}
	for _, bad := range []string{"", "d", "0d", "-1d", "1y", "1.5h", "abc", "1 d"} {
		if _, err := NextReset(from, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("NextReset(%q) err = %v, want ErrInvalid", bad, err)
		}
		if ValidDuration(bad) {
			t.Errorf("ValidDuration(%q) = true", bad)
		}
	}
}

// Every instant of a window names the same window, and consecutive windows
// tile time without gaps.
func TestPeriod(t *testing.T) {
	at := time.Date(2026, 11, 22, 15, 4, 5, 0, time.UTC) // a Sunday
	for _, tc := range []struct{ d, start, end string }{
		{"30s", "2026-11-22T15:04:00Z", "2026-11-22T15:04:30Z"},
		{"1h", "2026-11-22T15:00:00Z", "2026-11-22T16:00:00Z"},
		{"1d", "2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z"},
		{"7d", "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"},
		{"1w", "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"},
		{"30d", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"},
		{"1mo", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"},
		{"3mo", "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"},
	} {
		start, end, err := Period(at, tc.d)
		if err != nil || start.Format(time.RFC3339) != tc.start || end.Format(time.RFC3339) != tc.end {
			t.Errorf("Period(%s) = %v, %v, %v; want %s, %s", tc.d, start, end, err, tc.start, tc.end)
		}
	}
	for _, d := range []string{"45s", "7m", "5h", "1d", "2d", "3d", "7d", "2w", "30d", "1mo", "2mo", "5mo"} {
		start, end, _ := Period(at, d)
		for _, probe := range []time.Time{start, start.Add((end.Sub(start)) / 2), end.Add(-time.Nanosecond)} {
			s2, e2, _ := Period(probe, d)
			if !s2.Equal(start) || !e2.Equal(end) {
				t.Errorf("%s: Period(%v) = [%v, %v), want [%v, %v)", d, probe, s2, e2, start, end)
			}
		}
		if s3, _, _ := Period(end, d); !s3.Equal(end) {
			t.Errorf("%s: the window after [%v, %v) starts at %v", d, start, end, s3)
		}
	}
	if _, _, err := Period(at, "1x"); err == nil {
		t.Error("Period accepted a bad duration")
	}
}
