//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/switchboard-gw/switchboard/bench/internal/proc"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ticksPerSec is USER_HZ, the unit of /proc CPU times. It is 100 on every
// Linux architecture Go supports, whatever the kernel's internal HZ.
const ticksPerSec = 100

// child is a process the report started, with its log file.
type child struct {
	*proc.Proc
	logPath string
}

// startProc runs bin with output to logPath. Children inherit the raised
// RLIMIT_NOFILE (see raiseNoFile).
func startProc(name, logPath, bin string, args ...string) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(name, logf, nil, bin, args...)
	if err != nil {
		logf.Close()
		return nil, err
	}
	go func() { <-p.Done(); logf.Close() }()
	return &child{Proc: p, logPath: logPath}, nil
}

// stop sends SIGTERM, then SIGKILL after 3 s, and waits for the exit.
// Safe to call more than once.
func (p *child) stop() {
	if p != nil {
		p.Term(3 * time.Second)
	}
}

// logTail returns the last n lines of the process's output.
func (p *child) logTail(n int) string { return proc.Tail(p.logPath, n) }

// waitReady polls until ready() succeeds, the process exits, or timeout.
func (p *child) waitReady(ctx context.Context, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ready() {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited during start-up:\n%s", p.Name, p.logTail(20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v:\n%s", p.Name, timeout, p.logTail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// tcpReady is the readiness probe for the fake and the floors.
func tcpReady(addr string) func() bool {
	return func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
}

// httpReady is the gateway's probe: GET url answers 200.
func httpReady(url string) func() bool {
	client := &http.Client{Timeout: 500 * time.Millisecond}
	return func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago (the child binds it right after; a collision fails loudly at start).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cpuTicks is utime+stime of pid (its own threads, not its children) in
// USER_HZ ticks, from /proc/<pid>/stat.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// comm (field 2) may contain spaces and parentheses: parse after the
	// last ')'. Then state is field 3, utime field 14, stime field 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return ut + st, nil
}

// selfTicks is the report's own CPU plus that of its reaped children.
func selfTicks() int64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	var sum int64
	for _, k := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		v, _ := strconv.ParseInt(f[k], 10, 64)
		sum += v
	}
	return sum
}

// machineBusyTicks sums user, nice and system time of the whole machine
// from the "cpu" line of /proc/stat. irq/softirq are left out on purpose:
// loopback networking runs in softirq, which per-process utime+stime do not
// include either, so counting it would show our own traffic as foreign load.
// steal (the hypervisor's) is not another process's either.
func machineBusyTicks() int64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	fs := strings.Fields(sc.Text()) // "cpu" user nice system idle ...
	var sum int64
	for _, s := range fs[1:min(4, len(fs))] {
		v, _ := strconv.ParseInt(s, 10, 64)
		sum += v
	}
	return sum
}

// peakRSS is VmHWM of pid in bytes: the resident set's high-water mark
// since the process started.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

// raiseNoFile lifts RLIMIT_NOFILE as far as allowed. An explicit Setrlimit
// also makes os/exec pass the raised limit to children (Go otherwise
// restores the original soft limit for them), so every process of the run
// can hold thousands of connections.
func raiseNoFile() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	want := syscall.Rlimit{Cur: 65536, Max: max(r.Max, 65536)}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil { // needs CAP_SYS_RESOURCE
		return want.Cur, nil
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	return r.Cur, nil
}
