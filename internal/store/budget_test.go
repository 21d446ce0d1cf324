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
