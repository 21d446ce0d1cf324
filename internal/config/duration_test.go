package config

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDurationUnmarshal(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		yaml string
		want time.Duration
		ok   bool
	}{
		{"30", 30 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"6000", 6000 * time.Second, true},
		{`"30"`, 30 * time.Second, true},
		{"30s", 30 * time.Second, true},
		{"1.5m", 90 * time.Second, true},
		{"2h", 2 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"500ms", 500 * time.Millisecond, true},
		{"1d", day, true},
		{"30d", 30 * day, true},
		{"1.5d", 36 * time.Hour, true},
		{"2w", 14 * day, true},
		{"1mo", 30 * day, true},
		{"3mo", 90 * day, true},
		{"-5", -5 * time.Second, true}, // rejected by validation, with its path
		{"0", 0, true},
		{"soon", 0, false},
		{"5 minutes", 0, false},
		{"1y", 0, false},
		{"d", 0, false},
		{"mo", 0, false},
		{`""`, 0, false},
		{"true", 0, false},
		{"[1]", 0, false},
		{"{a: 1}", 0, false},
		{".inf", 0, false},
		{"1e300", 0, false},
	}
	for _, tt := range tests {
		var d Duration
		err := yaml.Unmarshal([]byte(tt.yaml), &d)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.yaml, err, tt.ok)
			continue
		}
		if tt.ok && d.Std() != tt.want {
			t.Errorf("%s: got %v, want %v", tt.yaml, d.Std(), tt.want)
		}
		if err != nil && len(tt.yaml) > 3 && strings.Contains(err.Error(), tt.yaml) {
			t.Errorf("%s: error echoes the value (it may be a secret): %v", tt.yaml, err)
		}
	}
}

func TestDurationRoundTrip(t *testing.T) {
	d := Duration(90 * time.Second)
	out, err := yaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Duration
	if err := yaml.Unmarshal(out, &back); err != nil || back != d {
		t.Errorf("round trip %q → %v, %v", out, back, err)
	}
	if d.String() != "1m30s" || d.Seconds() != 90 {
		t.Errorf("String/Seconds = %s %v", d, d.Seconds())
	}
}
