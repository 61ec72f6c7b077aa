package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// proc is a child process the runner started: a server, a backend. It
// runs in its own process group (Setpgid), so a terminal's ^C reaches
// only the runner, which then stops it; and the group, with every
// descendant found in /proc, is what a kill ends.
type proc struct {
	name string // for messages: "server event", "backend b1"
	log  string // the file its stdout and stderr go to
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed when the process was reaped
	err  error         // Wait's error, set before done closes
	set  *procSet
}

// procSet holds every child process still running, so that nothing
// outlives the run.
type procSet struct {
	mu    sync.Mutex
	procs map[*proc]bool
}

func newProcSet() *procSet { return &procSet{procs: make(map[*proc]bool)} }

// start starts argv with stdout and stderr appended to logPath, in dir,
// on CPU cpu (-1: wherever this thread may run). The process gets a
// goroutine that reaps it; stop (or the set's killAll) waits for it.
func (ps *procSet) start(name string, argv []string, dir, logPath string, cpu int) (*proc, error) {
	lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: log: %w", name, err)
	}
	defer lf.Close() // the child has its own copy
	fmt.Fprintf(lf, "---- %s %s: %s\n", time.Now().UTC().Format(time.RFC3339Nano), name, strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = lf, lf
	// Pdeathsig: if the runner itself is killed, its children follow
	// (the thread that forked them never exits: it is only ever locked
	// for the fork, then unlocked).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startOn(cmd, cpu); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, argv[0], err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{}), set: ps}
	ps.mu.Lock()
	ps.procs[p] = true
	ps.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// startOn starts cmd on CPU cpu: children inherit the affinity of the
// thread that forks them, so the calling goroutine is locked to its
// thread, the thread is pinned, the child forked, and the thread's
// affinity restored.
func startOn(cmd *exec.Cmd, cpu int) error {
	if cpu < 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPU %d: %w", cpu, err)
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &old); rerr != nil && err == nil {
		err = fmt.Errorf("restore the thread's CPUs after starting %s: %w", cmd.Path, rerr)
	}
	return err
}

// exited reports whether the process has exited (and was reaped).
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitStatus describes how the process ended.
func (p *proc) exitStatus() string {
	if !p.exited() {
		return "running"
	}
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// signal sends sig to the process itself (not its group).
func (p *proc) signal(sig syscall.Signal) error {
	if p.exited() {
		return fmt.Errorf("%s: pid %d has exited (%s)", p.name, p.pid, p.exitStatus())
	}
	if err := syscall.Kill(p.pid, sig); err != nil {
		return fmt.Errorf("%s: signal %v to pid %d: %w", p.name, sig, p.pid, err)
	}
	return nil
}

// stop asks the process to end (SIGTERM), waits up to grace, then kills
// it and everything it started. Whatever is left of its process group
// after it exits is killed too. It returns once the process was reaped.
func (p *proc) stop(grace time.Duration) {
	if !p.exited() {
		// Descendants in process groups of their own (the cgi core's
		// children) would outlive a parent that failed to end them.
		kids := descendants(p.pid)
		syscall.Kill(p.pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			p.kill()
		}
		killSame(kids)
	}
	p.reap()
}

// kill ends the process and every descendant at once (SIGKILL) and
// waits until it was reaped.
func (p *proc) kill() {
	if !p.exited() {
		kids := descendants(p.pid)
		syscall.Kill(-p.pid, syscall.SIGKILL)
		killSame(kids)
	}
	p.reap()
}

// reap waits for the process (SIGKILL is certain within seconds; a
// process stuck in the kernel is reported, not waited for forever),
// then kills what remains of its group and forgets it.
func (p *proc) reap() {
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		return
	}
	for _, pid := range groupMembers(p.pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	p.set.mu.Lock()
	delete(p.set.procs, p)
	p.set.mu.Unlock()
}

// killAll kills every process still in the set.
func (ps *procSet) killAll() {
	ps.mu.Lock()
	var all []*proc
	for p := range ps.procs {
		all = append(all, p)
	}
	ps.mu.Unlock()
	for _, p := range all {
		p.kill()
	}
}

// pids returns the pids of the processes still in the set.
func (ps *procSet) pids() []int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []int
	for p := range ps.procs {
		out = append(out, p.pid)
	}
	return out
}

// tail returns the last lines of a log file, at most n of them and about
// 2 KB, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 2048
	if st, err := f.Stat(); err == nil && st.Size() > max {
		f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, max))
	lines := strings.Split(strings.TrimRight(string(bytes.ToValidUTF8(b, []byte("?"))), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// errExited says a process ended while it should be running.
func (p *proc) errExited(what string) error {
	t := tail(p.log, 8)
	if t != "" {
		t = "; the end of " + p.log + ":\n" + t
	}
	return fmt.Errorf("%s %s (%s)%s: %w", p.name, what, p.exitStatus(), t, ErrServerDied)
}
