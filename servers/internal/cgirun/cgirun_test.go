package cgirun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/internal/proctest"
	"golang.org/x/sys/unix"
)

// bound is the most any wait in these tests lasts.
const bound = 10 * time.Second

// script writes a /bin/sh program into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// eventually polls cond every few milliseconds until it holds or bound
// passes.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// children lists the processes whose parent is this test process, with
// their state.
func children(t *testing.T) map[int]byte {
	t.Helper()
	procs, err := proctest.Children()
	if err != nil {
		t.Fatal(err)
	}
	kids := map[int]byte{}
	for _, p := range procs {
		kids[p.PID] = p.State
	}
	return kids
}

// checkNoZombies fails t when a child of the test process is a zombie.
func checkNoZombies(t *testing.T) {
	t.Helper()
	for pid, state := range children(t) {
		if state == 'Z' {
			t.Errorf("zombie child %d left unreaped", pid)
		}
	}
}

// newRunner returns a Runner whose error log is collected, closed (and
// checked for zombies) when the test ends.
func newRunner(t *testing.T, opts Options) (*Runner, *logSink) {
	t.Helper()
	sink := &logSink{}
	opts.ErrorLog = sink.log
	r := New(opts)
	t.Cleanup(func() {
		r.Close()
		checkNoZombies(t)
	})
	return r, sink
}

type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) log(level, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, level+": "+msg)
}

func (s *logSink) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// runBounded runs one child, failing t if it takes longer than bound.
func runBounded(t *testing.T, r *Runner, ctx context.Context, prog, dir string, env []string, body []byte, timeout time.Duration) result {
	t.Helper()
	ch := make(chan result, 1)
	go func() { ch <- r.run(ctx, prog, dir, env, body, timeout) }()
	select {
	case res := <-ch:
		return res
	case <-time.After(bound):
		t.Fatalf("run of %s did not return within %v", prog, bound)
		return result{}
	}
}

func TestRun(t *testing.T) {
	// The child must not see this: its environment is only what Serve
	// passes.
	t.Setenv("CGIRUN_TEST_LEAK", "parent-secret")

	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KiB, more than a pipe holds
	tests := []struct {
		name     string
		body     string // the program after #!/bin/sh
		env      []string
		stdin    []byte
		wantOut  string
		checkOut func(t *testing.T, out []byte)
		wantExit int
		startErr bool
	}{
		{
			name:    "output",
			body:    "printf 'Content-Type: text/plain\\n\\nhello'\n",
			wantOut: "Content-Type: text/plain\n\nhello",
		},
		{
			name:     "exit status",
			body:     "echo partial\nexit 3\n",
			wantOut:  "partial\n",
			wantExit: 3,
		},
		{
			name:     "killed by signal",
			body:     "echo before\nkill -KILL $$\n",
			wantOut:  "before\n",
			wantExit: 128 + int(syscall.SIGKILL),
		},
		{
			name:    "environment is exactly what was passed",
			body:    "cat /proc/$$/environ\n",
			env:     []string{"GATEWAY_INTERFACE=CGI/1.1", "QUERY_STRING=a=1&b=2", "X_SPACES=two words"},
			wantOut: "GATEWAY_INTERFACE=CGI/1.1\x00QUERY_STRING=a=1&b=2\x00X_SPACES=two words\x00",
		},
		{
			name:    "empty environment",
			body:    "cat /proc/$$/environ\n",
			env:     nil,
			wantOut: "",
		},
		{
			name:    "working directory",
			body:    "pwd -P\n",
			wantOut: mustEvalSymlinks(t, dir) + "\n",
		},
		{
			name:    "stdin body",
			body:    "exec cat\n",
			stdin:   []byte("name=value&x=\x00\xff binary\n"),
			wantOut: "name=value&x=\x00\xff binary\n",
		},
		{
			name: "large stdin body and output",
			body: "exec cat\n",
			// Output larger than the pipe and the initial buffer: read
			// while the child still writes.
			stdin: big,
			checkOut: func(t *testing.T, out []byte) {
				if !bytes.Equal(out, big) {
					t.Errorf("output: %d bytes, want the %d-byte body back", len(out), len(big))
				}
			},
		},
		{
			name:    "no body: stdin is empty",
			body:    "exec wc -c\n",
			wantOut: "0\n",
		},
		{
			name:     "missing program",
			startErr: true,
		},
	}
	r, _ := newRunner(t, Options{Grace: 100 * time.Millisecond})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := filepath.Join(dir, "does-not-exist")
			if !tt.startErr {
				prog = script(t, dir, fmt.Sprintf("prog%d", i), tt.body)
			}
			res := runBounded(t, r, context.Background(), prog, dir, tt.env, tt.stdin, 0)
			if tt.startErr {
				if res.startErr == nil {
					t.Fatalf("startErr = nil, want an error")
				}
				return
			}
			if res.startErr != nil || res.timedOut || res.tooLarge || res.gone {
				t.Fatalf("result %+v, want a clean run", res)
			}
			if tt.checkOut != nil {
				tt.checkOut(t, res.out)
			} else if string(res.out) != tt.wantOut {
				t.Errorf("output %q, want %q", res.out, tt.wantOut)
			}
			if bytes.Contains(res.out, []byte("CGIRUN_TEST_LEAK")) || bytes.Contains(res.out, []byte("parent-secret")) {
				t.Errorf("parent environment leaked into the child: %q", res.out)
			}
			if res.exit != tt.wantExit {
				t.Errorf("exit %d, want %d", res.exit, tt.wantExit)
			}
		})
	}
}

func mustEvalSymlinks(t *testing.T, p string) string {
	t.Helper()
	q, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestStderrToErrorLog(t *testing.T) {
	dir := t.TempDir()
	r, sink := newRunner(t, Options{})
	long := strings.Repeat("x", maxLine+10)
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"lines", "echo first >&2\nprintf 'second\\r\\n' >&2\necho out\n", []string{"first", "second"}},
		// An overlong line is cut at maxLine bytes (its tail is dropped
		// when the line arrives in one read, as here).
		{"long line cut", "printf '" + long + "\\n' >&2\n", []string{long[:maxLine]}},
		{"blank lines dropped", "printf '\\n\\nthird\\n' >&2\n", []string{"third"}},
	}
	var want []string
	for i, tt := range tests {
		prog := script(t, dir, fmt.Sprintf("err%d", i), tt.body)
		res := runBounded(t, r, context.Background(), prog, dir, nil, nil, 0)
		if res.startErr != nil || res.exit != 0 {
			t.Fatalf("%s: result %+v", tt.name, res)
		}
		for _, w := range tt.want {
			want = append(want, "error: child stderr: "+w)
		}
	}
	// A last line without a newline is logged when the pipe ends, at
	// Close.
	prog := script(t, dir, "partial", "printf 'no newline' >&2\n")
	if res := runBounded(t, r, context.Background(), prog, dir, nil, nil, 0); res.exit != 0 {
		t.Fatalf("result %+v", res)
	}
	want = append(want, "error: child stderr: no newline")
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(bound):
		t.Fatal("Close did not return")
	}
	got := sink.get()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("error log:\n%q\nwant\n%q", got, want)
	}
}

func TestStderrBeforeInitAfterClose(t *testing.T) {
	r := New(Options{})
	r.Close()
	if fd := r.Stderr(); fd != -1 {
		t.Errorf("Stderr of a closed, never used Runner = %d, want -1", fd)
	}
	if res := r.run(context.Background(), "/bin/true", "/", nil, nil, 0); res.startErr == nil {
		t.Errorf("run after Close: startErr nil, want an error")
	}
	r.Close() // idempotent
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantExit int
	}{
		{
			// SIGTERM is enough.
			name:     "term",
			body:     "sleep 100 &\necho $! > \"$PIDFILE\"\necho started\nwait\n",
			wantExit: 128 + int(syscall.SIGTERM),
		},
		{
			// SIGTERM ignored by the program and its grandchild
			// (ignored signals survive exec): SIGKILL after Grace.
			name:     "kill after grace",
			body:     "trap '' TERM\nsleep 100 &\necho $! > \"$PIDFILE\"\necho started\nwhile :; do sleep 1; done\n",
			wantExit: 128 + int(syscall.SIGKILL),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pidfile := filepath.Join(dir, "grandchild.pid")
			prog := script(t, dir, "slow", tt.body)
			r, _ := newRunner(t, Options{Grace: 200 * time.Millisecond})
			res := runBounded(t, r, context.Background(), prog, dir, []string{"PIDFILE=" + pidfile, "PATH=/usr/bin:/bin"}, nil, time.Second)
			if !res.timedOut {
				t.Errorf("result %+v, want timedOut", res)
			}
			if res.gone || res.tooLarge || res.startErr != nil {
				t.Errorf("result %+v, want only timedOut", res)
			}
			if string(res.out) != "started\n" {
				t.Errorf("output %q, want %q", res.out, "started\n")
			}
			if res.exit != tt.wantExit {
				t.Errorf("exit %d, want %d", res.exit, tt.wantExit)
			}
			b, err := os.ReadFile(pidfile)
			if err != nil {
				t.Fatalf("grandchild pid file: %v (timeout hit before the program wrote it?)", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 0 {
				t.Fatalf("grandchild pid file %q", b)
			}
			// Gone, or a zombie waiting for init (the container's init may
			// be slow to reap orphans): either way no longer running.
			var last byte
			if !eventually(func() bool {
				proc, ok := proctest.Read(pid)
				last = proc.State
				return !ok || proc.State == 'Z' || proc.State == 'X' || proc.Comm != "sleep"
			}) {
				t.Errorf("grandchild %d still alive (state %c) after the timeout", pid, last)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}
}

func TestMaxOutput(t *testing.T) {
	dir := t.TempDir()
	prog := script(t, dir, "yes", "exec yes\n")
	r, _ := newRunner(t, Options{MaxOutput: 10000, Grace: 200 * time.Millisecond})
	res := runBounded(t, r, context.Background(), prog, dir, []string{"PATH=/usr/bin:/bin"}, nil, 0)
	if !res.tooLarge || res.timedOut || res.gone {
		t.Errorf("result flags %+v, want tooLarge only", res)
	}
	if len(res.out) <= 10000 {
		t.Errorf("output %d bytes, want more than MaxOutput", len(res.out))
	}
}

func TestContextEndKillsChild(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid")
	prog := script(t, dir, "wait", "echo $$ > \"$PIDFILE\"\nexec sleep 100\n")
	r, _ := newRunner(t, Options{Grace: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan result, 1)
	go func() { ch <- r.run(ctx, prog, dir, []string{"PIDFILE=" + pidfile, "PATH=/usr/bin:/bin"}, nil, 0) }()
	if !eventually(func() bool { b, _ := os.ReadFile(pidfile); return len(b) > 0 && b[len(b)-1] == '\n' }) {
		t.Fatal("child did not start")
	}
	cancel()
	select {
	case res := <-ch:
		if !res.gone || res.timedOut {
			t.Errorf("result %+v, want gone", res)
		}
	case <-time.After(bound):
		t.Fatal("run did not return after ctx ended")
	}
	// With all slots taken, Acquire gives up when ctx ends.
	r1 := New(Options{MaxChildren: 1})
	defer r1.Close()
	if !r1.Acquire(context.Background()) {
		t.Fatal("Acquire of a free slot failed")
	}
	if r1.Acquire(ctx) {
		t.Error("Acquire with ended ctx and no free slot succeeded")
	}
	if res := r1.run(ctx, prog, dir, nil, nil, 0); !res.gone {
		t.Errorf("run waiting for a slot when ctx ended: %+v, want gone", res)
	}
	r1.Release()
}

// acquireWaiters counts goroutines blocked in Runner.Acquire.
func acquireWaiters() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "[select") && strings.Contains(g, "cgirun.(*Runner).Acquire(") {
			count++
		}
	}
	return count
}

func TestConcurrencyLimitFIFO(t *testing.T) {
	const limit, jobs = 2, 5
	dir := t.TempDir()
	logf := filepath.Join(dir, "log")
	for i := 0; i < jobs; i++ {
		if err := unix.Mkfifo(filepath.Join(dir, fmt.Sprintf("gate%d", i)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Each job logs its start, blocks until its gate fifo is written,
	// logs its end: the lines are appended by one process at a time
	// (O_APPEND, short writes).
	prog := script(t, dir, "job", `echo "start $ID" >> "$LOG"
read x < "$GATE"
echo "end $ID" >> "$LOG"
`)
	r, _ := newRunner(t, Options{MaxChildren: limit, Grace: 200 * time.Millisecond})

	// started returns the job ids in start order, checking that no more
	// than limit ever ran at once.
	started := func() []string {
		var order []string
		running := 0
		lines := strings.Split(strings.TrimSpace(func() string { b, _ := os.ReadFile(logf); return string(b) }()), "\n")
		for _, l := range lines {
			switch {
			case strings.HasPrefix(l, "start "):
				order = append(order, strings.TrimPrefix(l, "start "))
				running++
				if running > limit {
					t.Errorf("%d children running at once, limit %d: log %q", running, limit, lines)
				}
			case strings.HasPrefix(l, "end "):
				running--
			}
		}
		return order
	}

	results := make(chan result, jobs)
	for i := 0; i < jobs; i++ {
		env := []string{"ID=" + strconv.Itoa(i), "LOG=" + logf, "GATE=" + filepath.Join(dir, fmt.Sprintf("gate%d", i))}
		go func() { results <- r.run(context.Background(), prog, dir, env, nil, 0) }()
		// Enqueue in a known order: job i is running (i < limit) or
		// waiting for a slot before job i+1 is started.
		if i < limit {
			if !eventually(func() bool { return len(started()) == i+1 }) {
				t.Fatalf("job %d did not start; started %v", i, started())
			}
		} else if !eventually(func() bool { return acquireWaiters() == i+1-limit }) {
			t.Fatalf("job %d is not waiting for a slot (%d waiters)", i, acquireWaiters())
		}
	}
	if s := started(); len(s) != limit {
		t.Fatalf("started %v with limit %d", s, limit)
	}
	// Open each gate in start order; the slot it frees goes to the
	// longest waiting job.
	for i := 0; i < jobs; i++ {
		openGate(t, filepath.Join(dir, fmt.Sprintf("gate%d", i)))
		select {
		case res := <-results:
			if res.exit != 0 || res.startErr != nil || res.timedOut {
				t.Errorf("job result %+v", res)
			}
		case <-time.After(bound):
			t.Fatalf("no job finished after gate %d opened", i)
		}
		if want := min(jobs, i+1+limit); !eventually(func() bool { return len(started()) == want }) {
			t.Fatalf("after gate %d: started %v, want %d jobs", i, started(), want)
		}
	}
	want := []string{"0", "1", "2", "3", "4"}
	if got := started(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("start order %v, want FIFO %v", got, want)
	}
	if n := len(r.sem); n != 0 {
		t.Errorf("%d slots still held after every job", n)
	}
}

// openGate writes a line to the fifo at path once its reader has opened
// it.
func openGate(t *testing.T, path string) {
	t.Helper()
	var fd int
	if !eventually(func() bool {
		var err error
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		return err == nil || !errors.Is(err, unix.ENXIO)
	}) {
		t.Fatalf("no reader opened %s", path)
	}
	if fd < 0 {
		t.Fatalf("open %s failed", path)
	}
	unix.Write(fd, []byte("go\n"))
	unix.Close(fd)
}

func TestNoZombies(t *testing.T) {
	dir := t.TempDir()
	progs := []string{
		script(t, dir, "ok", "echo ok\n"),
		script(t, dir, "fail", "exit 7\n"),
		script(t, dir, "bg", "sleep 100 >/dev/null 2>&1 &\necho spawned\n"),
		script(t, dir, "slow", "exec sleep 100\n"),
	}
	r, _ := newRunner(t, Options{MaxChildren: 3, Grace: 100 * time.Millisecond})
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(context.Background(), progs[i%len(progs)], dir, []string{"PATH=/usr/bin:/bin"}, nil, 300*time.Millisecond)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(bound):
		t.Fatal("runs did not finish")
	}
	r.Close()
	checkNoZombies(t)
	// No child of this process at all is left: what the programs
	// started was killed with their group.
	if !eventually(func() bool { return len(children(t)) == 0 }) {
		t.Errorf("children left: %v", children(t))
	}
}

func TestWatchHangup(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	ctx, stop := WatchHangup(context.Background(), fds[0])
	defer stop()
	// Bytes from the peer are no hangup.
	unix.Write(fds[1], []byte("pipelined"))
	if ctx.Err() != nil {
		t.Fatal("ctx ended before the peer closed")
	}
	unix.Close(fds[1])
	select {
	case <-ctx.Done():
	case <-time.After(bound):
		t.Fatal("ctx did not end after the peer closed")
	}
	// The pipelined bytes stay unread.
	buf := make([]byte, 16)
	if n, _ := unix.Read(fds[0], buf); string(buf[:n]) != "pipelined" {
		t.Errorf("read %q after the watch, want the pipelined bytes", buf[:n])
	}

	// stop returns at once with the peer still there, and ends ctx.
	a, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(a[0])
	defer unix.Close(a[1])
	ctx2, stop2 := WatchHangup(context.Background(), a[0])
	stopped := make(chan struct{})
	go func() { stop2(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(bound):
		t.Fatal("stop did not return")
	}
	if ctx2.Err() == nil {
		t.Error("ctx still live after stop")
	}
}
