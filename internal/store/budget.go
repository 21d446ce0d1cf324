package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// NextReset returns when a budget window of the given duration that is
// current at from ends: the first boundary strictly after from. Windows are
// aligned to UTC calendar boundaries, as LiteLLM's standardized reset times
// are, so every replica and every row with the same duration resets at the
// same instant whatever time it was created:
//
//	Ns, Nm, Nh  next multiple of N units (1h: top of the hour, 30s: :00/:30)
//	1d, Nd      UTC midnight N days after the start of from's day (1d: next midnight)
//	7d, Nw      next Monday 00:00 UTC (Nw: N-1 further weeks)
//	30d, Nmo    00:00 UTC on the 1st of the month N months ahead (30d = 1mo)
//
// An unknown or non-positive duration returns an error wrapping ErrInvalid.
func NextReset(from time.Time, duration string) (time.Time, error) {
	n, unit, err := parseDuration(duration)
	if err != nil {
		return time.Time{}, err
	}
	from = from.UTC()
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	switch unit {
	case "s", "m", "h":
		step := clockUnits[unit] * time.Duration(n)
		// Truncate aligns to multiples of step since the zero time, which for
		// steps dividing a day are wall-clock boundaries in UTC.
		return from.Truncate(step).Add(step), nil
	case "d":
		switch n {
		case 7:
			return nextMonday(day), nil
		case 30:
			return firstOfMonth(day, 1), nil
		}
		return day.AddDate(0, 0, n), nil
	case "w":
		return nextMonday(day).AddDate(0, 0, 7*(n-1)), nil
	case "mo":
		return firstOfMonth(day, n), nil
	}
	return time.Time{}, fmt.Errorf("budget duration %q: %w", duration, ErrInvalid)
}

// Period returns the fixed budget window of the given duration containing
// at, for budgets that have no stored reset time (per-model budgets). Unlike
// NextReset, whose multi-day windows start from the day it is asked, the
// windows are aligned to the Unix epoch, so every instant inside one window
// names the same window: seconds, minutes and hours as in NextReset; N days
// from 1970-01-01; 7d and N weeks from Monday 1970-01-05; 30d and N months
// from January 1970. Start is inclusive, end exclusive.
func Period(at time.Time, duration string) (start, end time.Time, err error) {
	n, unit, err := parseDuration(duration)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	at = at.UTC()
	floor := func(i, n int64) int64 { return i - ((i%n)+n)%n }
	switch {
	case unit == "s" || unit == "m" || unit == "h":
		step := clockUnits[unit] * time.Duration(n)
		start = at.Truncate(step)
		return start, start.Add(step), nil
	case unit == "w" || unit == "d" && n == 7:
		weeks := int64(n)
		if unit == "d" {
			weeks = 1
		}
		monday := time.Date(1970, 1, 5, 0, 0, 0, 0, time.UTC)
		w := floor(int64(at.Sub(monday)/(7*24*time.Hour)), weeks) // budgets are never before 1970
		start = monday.AddDate(0, 0, int(7*w))
		return start, start.AddDate(0, 0, 7*int(weeks)), nil
	case unit == "mo" || unit == "d" && n == 30:
		months := int64(n)
		if unit == "d" {
			months = 1
		}
		m := floor(int64(at.Year()-1970)*12+int64(at.Month()-1), months)
		start = time.Date(1970, time.Month(1+m), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, int(months), 0), nil
	default: // N days
		day := at.Truncate(24 * time.Hour)
		d := floor(day.Unix()/86400, int64(n))
		start = time.Unix(d*86400, 0).UTC()
		return start, start.AddDate(0, 0, n), nil
	}
}

// clockUnits are the units whose windows are fixed lengths of time.
var clockUnits = map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}

// ValidDuration reports whether NextReset accepts d.
func ValidDuration(d string) bool {
	_, _, err := parseDuration(d)
	return err == nil
}

func parseDuration(d string) (int, string, error) {
	s := strings.TrimSpace(strings.ToLower(d))
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(s[:i])
	unit := s[i:]
	if err != nil || n <= 0 || n > 100000 {
		return 0, "", fmt.Errorf("budget duration %q: want a positive number and a unit (s, m, h, d, w, mo): %w", d, ErrInvalid)
	}
	switch unit {
	case "s", "m", "h", "d", "w", "mo":
		return n, unit, nil
	}
	return 0, "", fmt.Errorf("budget duration %q: unknown unit %q (want s, m, h, d, w, mo): %w", d, unit, ErrInvalid)
}

// nextMonday returns the Monday strictly after day (a UTC midnight).
func nextMonday(day time.Time) time.Time {
	ahead := (8 - int(day.Weekday())) % 7 // Sunday=0 -> 1, Monday=1 -> 0
	if ahead == 0 {
		ahead = 7
	}
	return day.AddDate(0, 0, ahead)
}

func firstOfMonth(day time.Time, months int) time.Time {
	return time.Date(day.Year(), day.Month()+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
}
