//go:build !linux

package loadgen

import "time"

// sleeper falls back to the runtime timer off Linux (millisecond-ish
// precision on some hosts; see pacer_linux.go).
type sleeper struct{}

func newSleeper() *sleeper { return &sleeper{} }

func (*sleeper) sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

func (*sleeper) close() {}
