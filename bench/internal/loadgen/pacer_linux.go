package loadgen

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Constants from <sys/timerfd.h> and <time.h>.
const (
	clockMonotonic = 1
	tfdNonblock    = syscall.O_NONBLOCK
	tfdCloexec     = syscall.O_CLOEXEC
)

type itimerspec struct{ interval, value syscall.Timespec }

// sleeper waits until a deadline with ~20–60 µs precision.
//
// The Go runtime's timers park in epoll_wait, whose timeout has millisecond
// granularity: on these hosts time.Sleep(200µs) takes ~1.1 ms, which in an
// open loop measured from the scheduled send time would charge up to a
// millisecond of harness-made latency to every sample. A timerfd is a file
// descriptor that becomes readable at an exact hrtimer expiry, and reading
// it through the runtime's netpoller parks only the goroutine: epoll returns
// as soon as the fd fires, and the P is free to run the worker just handed
// a request (a blocking nanosleep would hold it).
type sleeper struct {
	fd uintptr
	f  *os.File
}

func newSleeper() *sleeper {
	fd, _, errno := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, tfdNonblock|tfdCloexec, 0)
	if errno != 0 {
		return &sleeper{} // fall back to time.Sleep
	}
	// A non-blocking fd given to os.NewFile is registered with the poller.
	return &sleeper{fd: fd, f: os.NewFile(fd, "pacer-timerfd")}
}

func (s *sleeper) sleepUntil(t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	if s.f != nil {
		spec := itimerspec{value: syscall.NsecToTimespec(int64(d))}
		_, _, errno := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, s.fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
		if errno == 0 {
			var buf [8]byte // expiration count
			if _, err := s.f.Read(buf[:]); err == nil {
				return
			}
		}
	}
	time.Sleep(time.Until(t))
}

func (s *sleeper) close() {
	if s.f != nil {
		s.f.Close()
	}
}
