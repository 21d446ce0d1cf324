package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time span written the way LiteLLM users write them: a bare
// number is seconds (LiteLLM's timeouts are plain seconds, int or float), and a
// string may be a Go duration ("30s", "1.5m", "1h30m", "500ms") or use the day
// based units LiteLLM's budget code understands ("1d", "2w", "1mo" = 30 days).
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Seconds returns d in (fractional) seconds.
func (d Duration) Seconds() float64 { return time.Duration(d).Seconds() }

// String formats d like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes d back in a form UnmarshalYAML accepts.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// durationHint does not include the offending text: the loader adds it itself
// unless it came from an environment variable, which may hold a secret.
const durationHint = `not a valid duration (use seconds, or a string like "30s", "5m", "1h", "1d", "1mo")`

func errDuration() error { return errors.New(durationHint) }

// UnmarshalYAML accepts a YAML number (seconds) or a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errDuration()
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		var secs float64
		if err := n.Decode(&secs); err != nil {
			return errDuration()
		}
		v, err := secondsToDuration(secs)
		if err != nil {
			return err
		}
		*d = v
		return nil
	case "!!str":
		v, err := ParseDuration(n.Value)
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
	return errDuration()
}

// ParseDuration parses the string forms Duration accepts: a bare number of
// seconds ("30", "0.5"), a Go duration ("30s", "1h30m") or a number followed by
// "d", "w" or "mo" (30 days), as LiteLLM's budget_duration does.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errDuration()
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return secondsToDuration(secs)
	}
	// The units time.ParseDuration lacks, longest first so that "mo" is not
	// read as "o" after a number ending in "m".
	dayUnits := [...]struct {
		suffix string
		size   time.Duration
	}{
		{"mo", 30 * 24 * time.Hour},
		{"w", 7 * 24 * time.Hour},
		{"d", 24 * time.Hour},
	}
	for _, u := range dayUnits {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(num, 64)
		if err != nil {
			// Not a day-based value ("1h30mo" and the like); let
			// time.ParseDuration have the last word.
			break
		}
		return secondsToDuration(n * u.size.Seconds())
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, errDuration()
	}
	return Duration(v), nil
}

func secondsToDuration(secs float64) (Duration, error) {
	if math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, errDuration()
	}
	ns := secs * float64(time.Second)
	if ns >= math.MaxInt64 || ns <= math.MinInt64 {
		return 0, errors.New("duration out of range")
	}
	return Duration(time.Duration(ns)), nil
}
