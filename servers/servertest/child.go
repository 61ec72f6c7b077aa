package servertest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment of a child core (StartChild → ServeChild).
const (
	childConfEnv   = "C10K_SERVERTEST_CHILD_CONF"
	childNofileEnv = "C10K_SERVERTEST_CHILD_NOFILE"
	childAddrLine  = "c10k-child-addr "
)

// IsChild reports whether this test binary runs as a child core of
// StartChild; a TestMain that does other work first (building a
// binary) can skip it then.
func IsChild() bool { return os.Getenv(childConfEnv) != "" }

// ServeChild is the body of the helper test a core's package declares
// for StartChild. Run by StartChild as a child process, it lowers the
// process's RLIMIT_NOFILE as asked, starts the core with start on the
// config StartChild names, prints the address, and serves until its
// stdin closes; the core's error log goes to its stdout, line by line
// (the child runs with -test.v). In a normal test run it skips.
func ServeChild(t *testing.T, start Start) {
	conf := os.Getenv(childConfEnv)
	if conf == "" {
		t.Skip("the helper of StartChild: runs only as its child process")
	}
	if s := os.Getenv(childNofileEnv); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", childNofileEnv, s, err)
		}
		lim := syscall.Rlimit{Cur: n, Max: n}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatalf("setrlimit(RLIMIT_NOFILE, %d): %v", n, err)
		}
	}
	core := start(t, conf)
	fmt.Printf("%s%s\n", childAddrLine, core.Addr)
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
}

// Child is a core serving in a child process (StartChild).
type Child struct {
	Addr string // where it accepts
	Pid  int

	mu    sync.Mutex
	lines []string // its output: error log lines among them
}

// Count returns how many output lines of the child contain s.
func (c *Child) Count(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// WaitLine waits up to d for an output line containing s.
func (c *Child) WaitLine(t *testing.T, s string, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for c.Count(s) == 0 {
		if time.Now().After(end) {
			t.Fatalf("no line with %q from the child core within %v", s, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// CPUTicks returns the child's user and system CPU time so far, in
// clock ticks (/proc/PID/stat).
func (c *Child) CPUTicks(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.Pid) + "/stat")
	if err != nil {
		t.Fatalf("child stat: %v", err)
	}
	// The fields after the command name, which ends at the last ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		t.Fatalf("child stat %q: too few fields", b)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// RSS returns the child's resident set size in bytes (/proc/PID/status).
func (c *Child) RSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.Pid) + "/status")
	if err != nil {
		t.Fatalf("child status: %v", err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("child VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in the child's status")
	return 0
}

// FDs returns how many descriptors the child has open.
func (c *Child) FDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(c.Pid) + "/fd")
	if err != nil {
		t.Fatalf("child fds: %v", err)
	}
	return len(ents)
}

// Open returns how many of the child's descriptors refer to target
// (as /proc/PID/fd shows it: a path, "pipe:[N]", "anon_inode:[pidfd]").
func (c *Child) Open(t *testing.T, target string) int {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(c.Pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("child fds: %v", err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == target {
			n++
		}
	}
	return n
}

// Children returns how many processes the child core has started that
// are still there (/proc/PID/task/*/children).
func (c *Child) Children(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob("/proc/" + strconv.Itoa(c.Pid) + "/task/*/children")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		b, _ := os.ReadFile(f) // a thread may end meanwhile
		n += len(strings.Fields(string(b)))
	}
	return n
}

// StartChild runs this test binary's test named helper, whose body is
// ServeChild with the core to test, as a child process serving the
// config at confPath, with RLIMIT_NOFILE lowered to nofile (0: left
// as is), and returns once it accepts. The child stops (its stdin
// closed, then killed if it has not exited within 10s) and is waited
// for in t.Cleanup. It runs under /proc-based Linux only.
func StartChild(t *testing.T, helper, confPath string, nofile int) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childConfEnv+"="+confPath)
	if nofile > 0 {
		cmd.Env = append(cmd.Env, childNofileEnv+"="+strconv.Itoa(nofile))
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the child core: %v", err)
	}
	c := &Child{Pid: cmd.Process.Pid}
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() { // owned by the cleanup below, which waits for done
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if a, ok := strings.CutPrefix(l, childAddrLine); ok {
				addr <- a
			}
			c.mu.Lock()
			c.lines = append(c.lines, l)
			c.mu.Unlock()
		}
		io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		stdin.Close()
		exited := make(chan struct{})
		go func() { // waited for below
			<-done
			cmd.Wait()
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Error("the child core did not stop within 10s of its stdin closing")
		}
		if t.Failed() || testing.Verbose() {
			c.mu.Lock()
			t.Logf("child core output:\n%s", strings.Join(c.lines, "\n"))
			c.mu.Unlock()
		}
	})
	select {
	case c.Addr = <-addr:
	case <-done:
		t.Fatal("the child core exited before it accepted")
	case <-time.After(30 * time.Second):
		t.Fatal("the child core did not start within 30s")
	}
	return c
}
