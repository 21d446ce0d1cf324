//go:build linux

// Package proc runs the child processes of the bench programs: each in its
// own process group with Pdeathsig SIGKILL (so a SIGKILLed parent takes them
// along) and tracked, so that every exit path of the parent can kill them.
package proc

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one child process.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit status, once done is closed
}

var running = struct {
	sync.Mutex
	m map[*Proc]struct{}
}{m: map[*Proc]struct{}{}}

// Start runs bin with args, its output going to out. env is the complete
// environment (nil: the parent's).
func Start(name string, out io.Writer, env []string, bin string, args ...string) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	running.Lock()
	running.m[p] = struct{}{}
	running.Unlock()
	go func() {
		p.err = cmd.Wait()
		running.Lock()
		delete(running.m, p)
		running.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id (and process group id).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the exit status; valid once Done is closed.
func (p *Proc) Err() error { return p.err }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL to the process group and waits for the exit.
func (p *Proc) Kill() {
	if p == nil || p.Exited() {
		return
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

// Term sends SIGTERM to the process group, waits up to wait for the exit,
// then kills it. It reports whether the process exited on its own.
func (p *Proc) Term(wait time.Duration) bool {
	if p == nil || p.Exited() {
		return true
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(wait):
		p.Kill()
		return false
	}
}

// KillAll kills every child still running (the parent is exiting).
func KillAll() {
	running.Lock()
	ps := make([]*Proc, 0, len(running.m))
	for p := range running.m {
		ps = append(ps, p)
	}
	running.Unlock()
	for _, p := range ps {
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	}
	for _, p := range ps {
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	}
}

// Tail returns the last n lines of a log file ("" if it cannot be read).
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
