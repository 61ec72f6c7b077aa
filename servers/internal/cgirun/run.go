package cgirun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
)

// Defaults of Options.
const (
	DefaultMaxChildren = 256 // Apache prefork's MaxRequestWorkers
	DefaultGrace       = 2 * time.Second
	DefaultMaxOutput   = 64 << 20
)

// Options configure a Runner.
type Options struct {
	// MaxChildren is how many children may run at once; requests beyond
	// wait in FIFO order. Default DefaultMaxChildren.
	MaxChildren int
	// Grace is how long a child has between SIGTERM and SIGKILL.
	Grace time.Duration
	// MaxOutput bounds a child's output (header block and body); past
	// it the child is killed and the client gets 502.
	MaxOutput int64
	// ErrorLog receives the children's stderr lines and failures; nil
	// discards them.
	ErrorLog func(level, msg string)
}

// Runner runs CGI children. Safe for concurrent use; Close ends it.
//
// What every child shares is made once, on first use: /dev/null for
// the stdin of a request without a body, and one stderr pipe whose read
// end a single goroutine turns into error-log lines (as lighttpd hands
// every child its error log as stderr). A child then costs one fork+exec
// (vfork), one stdout pipe and the reap, all on the calling goroutine.
type Runner struct {
	opts Options
	sem  chan struct{}

	initOnce sync.Once
	initErr  error
	null     int      // /dev/null, read-only
	errW     int      // write end of the shared stderr pipe
	errR     *os.File // its read end, read by the log goroutine
	errDone  chan struct{}

	closeOnce sync.Once
}

// New returns a Runner with opts, defaults filled in.
func New(opts Options) *Runner {
	if opts.MaxChildren <= 0 {
		opts.MaxChildren = DefaultMaxChildren
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.MaxOutput <= 0 {
		opts.MaxOutput = DefaultMaxOutput
	}
	return &Runner{opts: opts, sem: make(chan struct{}, opts.MaxChildren), null: -1, errW: -1}
}

// init opens what the children share.
func (r *Runner) init() error {
	r.initOnce.Do(func() {
		null, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			r.initErr = fmt.Errorf("cgi: open %s: %w", os.DevNull, err)
			return
		}
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			unix.Close(null)
			r.initErr = fmt.Errorf("cgi: stderr pipe: %w", err)
			return
		}
		unix.SetNonblock(p[0], true) // on the netpoller
		r.null, r.errW = null, p[1]
		r.errR = os.NewFile(uintptr(p[0]), "cgi stderr")
		r.errDone = make(chan struct{})
		go r.readStderr()
	})
	return r.initErr
}

// readStderr passes the children's stderr lines to the error log until
// the pipe's write ends are all closed (or Close gives up on them).
func (r *Runner) readStderr() {
	defer close(r.errDone)
	l := lineLog{log: func(line string) { r.log("error", "child stderr: "+line) }}
	buf := make([]byte, 4096)
	for {
		n, err := r.errR.Read(buf)
		l.Write(buf[:n])
		if err != nil {
			l.flush()
			return
		}
	}
}

// Stderr returns the write end of the stderr pipe the children share,
// for a child a core starts itself (Acquire), or -1 when it cannot be
// made. It stays the Runner's.
func (r *Runner) Stderr() int {
	if r.init() != nil {
		return -1
	}
	return r.errW
}

// Close releases what the children shared, once every child has been
// reaped: the stderr pipe (its last lines are logged; Close waits at
// most Grace for a process that escaped its group and still holds it)
// and /dev/null. Serve must not be called after Close.
func (r *Runner) Close() error {
	r.closeOnce.Do(func() {
		r.initOnce.Do(func() { r.initErr = errors.New("cgi: runner closed") })
		if r.errR == nil {
			return
		}
		unix.Close(r.errW)
		unix.Close(r.null)
		t := time.NewTimer(r.opts.Grace)
		defer t.Stop()
		select {
		case <-r.errDone:
		case <-t.C:
		}
		r.errR.Close() // ends a read still waiting
		<-r.errDone
	})
	return nil
}

// ErrClientGone is returned by Serve when ctx ended (the client went
// away): the child was killed and the core closes the connection
// without a response.
var ErrClientGone = errors.New("cgi: client closed connection while running CGI program")

// Serve runs the CGI exchanges of p (p.CGI != nil) until p is an
// ordinary plan to send: each child's output goes to the engine, which
// may re-route (local redirect, error_page) to another exchange. body
// is the de-chunked request body. The plan's Body may alias buffers
// Serve allocated; they stay valid as long as the plan does.
func (r *Runner) Serve(ctx context.Context, p *engine.Plan, body []byte) error {
	for p.CGI != nil {
		x := p.CGI
		in := body
		if !x.Stdin() {
			in = nil
		} else {
			x.SetBody(int64(len(body)))
		}
		res := r.run(ctx, x.Program(), x.Dir(), x.Env(), in, x.Timeout())
		switch {
		case res.gone:
			return ErrClientGone
		case res.timedOut:
			x.Failed(fmt.Sprintf("CGI program timed out after %v", x.Timeout()), true)
		case res.startErr != nil:
			x.Failed(fmt.Sprintf("cannot run CGI program (%v)", res.startErr), false)
		case res.tooLarge:
			x.Failed(fmt.Sprintf("CGI program output exceeds %d bytes", r.opts.MaxOutput), false)
		case res.exit != 0 && !completeHead(res.out):
			x.Failed(fmt.Sprintf("CGI program exited with status %d before a complete header", res.exit), false)
		default:
			if res.exit != 0 {
				r.log("warn", fmt.Sprintf("CGI program %q exited with status %d", x.Program(), res.exit))
			}
			x.Response(res.out)
		}
	}
	return nil
}

// completeHead reports whether out holds an empty line ending a header
// block.
func completeHead(out []byte) bool {
	return bytes.Contains(out, []byte("\n\n")) || bytes.Contains(out, []byte("\n\r\n"))
}

// result is the outcome of one child.
type result struct {
	out      []byte
	exit     int // exit status; 128+n for a signal
	startErr error
	timedOut bool
	tooLarge bool
	gone     bool
}

// initialOutput is the first output buffer of a child; it grows as
// needed.
const initialOutput = 4 << 10

func (r *Runner) run(ctx context.Context, prog, dir string, env []string, body []byte, timeout time.Duration) (res result) {
	if !r.Acquire(ctx) {
		res.gone = true
		return res
	}
	defer r.Release()
	if err := r.init(); err != nil {
		res.startErr = err
		return res
	}
	stdin := r.null
	if len(body) > 0 {
		fd, err := bodyFile(body)
		if err != nil {
			res.startErr = err
			return res
		}
		defer unix.Close(fd)
		stdin = fd
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		res.startErr = err
		return res
	}
	pidfd := -1
	pid, err := syscall.ForkExec(prog, []string{prog}, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{uintptr(stdin), uintptr(p[1]), uintptr(r.errW)},
		Sys:   &syscall.SysProcAttr{Setpgid: true, PidFD: &pidfd},
	})
	unix.Close(p[1])
	if err != nil {
		unix.Close(p[0])
		res.startErr = err
		return res
	}
	unix.SetNonblock(p[0], true)
	out := os.NewFile(uintptr(p[0]), "cgi stdout")
	defer out.Close()

	k := NewEnder(pid, r.opts.Grace, out)
	k.SetPidFD(pidfd)
	if timeout > 0 {
		k.Limit(timeout, EndTimeout)
	}
	k.Watch(ctx, EndGone)

	// The output until EOF (the program and whatever it started closed
	// stdout), or until the child is ended.
	buf := make([]byte, 0, initialOutput)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := out.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > r.opts.MaxOutput {
			k.End(EndTooLarge)
			break
		}
		if err != nil {
			break
		}
	}
	ws, why := k.Reap()
	res.out = buf
	switch {
	case ws.Exited():
		res.exit = ws.ExitStatus()
	case ws.Signaled():
		res.exit = 128 + int(ws.Signal())
	}
	switch why {
	case EndTimeout:
		res.timedOut = true
	case EndGone:
		res.gone = true
	case EndTooLarge:
		res.tooLarge = true
	}
	return res
}

// bodyFile returns a descriptor reading body from its start, for a
// child's stdin: an anonymous memory file, so that no goroutine has to
// feed a pipe while the output is read.
func bodyFile(body []byte) (int, error) {
	fd, err := unix.MemfdCreate("cgi-body", unix.MFD_CLOEXEC)
	if err != nil {
		f, terr := os.CreateTemp("", "c10k-cgi-body-")
		if terr != nil {
			return -1, fmt.Errorf("request body file: %w", err)
		}
		os.Remove(f.Name())
		fd, err = unix.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			return -1, err
		}
		unix.CloseOnExec(fd)
	}
	for b := body; len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("request body file: %w", err)
		}
		b = b[n:]
	}
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Why says why a child was ended early.
type Why int

// The reasons to end a child early.
const (
	EndNone     Why = iota // it ended by itself
	EndTimeout             // it ran past its time
	EndGone                // the client went away
	EndTooLarge            // its output passed the limit
)

// An Ender ends and reaps one child that leads its own process group:
// End sends the group SIGTERM, interrupts the read of the child's
// output, and sends SIGKILL Grace later unless the child was reaped by
// then. Limit and Watch end it on a deadline or a context; their
// callbacks are owned by the Ender, and Reap waits for them.
type Ender struct {
	pgid  int
	grace time.Duration
	out   *os.File
	pidfd *os.File       // on the netpoller, or nil
	wg    sync.WaitGroup // callbacks that may still run
	stops []func() bool  // their stop functions

	mu    sync.Mutex
	why   Why
	done  bool // reaped: the pgid may be reused, signal nothing more
	timer *time.Timer
}

// NewEnder returns the Ender of child pid, started with Setpgid. out,
// if not nil, is the parent's end of the child's output pipe (on the
// netpoller), whose read End interrupts.
func NewEnder(pid int, grace time.Duration, out *os.File) *Ender {
	if grace <= 0 {
		grace = DefaultGrace
	}
	return &Ender{pgid: pid, grace: grace, out: out}
}

// Limit ends the child for why when it runs longer than d.
func (k *Ender) Limit(d time.Duration, why Why) {
	k.wg.Add(1)
	t := time.AfterFunc(d, func() {
		defer k.wg.Done()
		k.End(why)
	})
	k.stops = append(k.stops, t.Stop)
}

// Watch ends the child for why when ctx ends.
func (k *Ender) Watch(ctx context.Context, why Why) {
	if ctx.Done() == nil {
		return
	}
	k.wg.Add(1)
	k.stops = append(k.stops, context.AfterFunc(ctx, func() {
		defer k.wg.Done()
		k.End(why)
	}))
}

// Why returns why the child is being ended, EndNone while it is not.
func (k *Ender) Why() Why {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.why
}

// End starts ending the child for why, unless it is already ending or
// reaped.
func (k *Ender) End(why Why) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.why != EndNone || k.done {
		return
	}
	k.why = why
	syscall.Kill(-k.pgid, syscall.SIGTERM)
	if k.out != nil {
		k.out.SetReadDeadline(time.Unix(1, 0))
	}
	k.wg.Add(1)
	k.timer = time.AfterFunc(k.grace, func() {
		defer k.wg.Done()
		k.mu.Lock()
		defer k.mu.Unlock()
		if !k.done {
			syscall.Kill(-k.pgid, syscall.SIGKILL)
		}
	})
}

// SetPidFD gives the Ender the child's pidfd (SysProcAttr.PidFD; -1 for
// none), which it then owns: Reap waits on it through the netpoller
// instead of blocking a thread in wait4.
func (k *Ender) SetPidFD(fd int) {
	if fd < 0 {
		return
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return
	}
	k.pidfd = os.NewFile(uintptr(fd), "pidfd")
}

// wait reaps the child.
func (k *Ender) wait() syscall.WaitStatus {
	var ws syscall.WaitStatus
	if k.pidfd != nil {
		defer k.pidfd.Close()
		if rc, err := k.pidfd.SyscallConn(); err == nil {
			reaped := false
			rc.Read(func(uintptr) bool {
				pid, err := syscall.Wait4(k.pgid, &ws, syscall.WNOHANG, nil)
				reaped = pid == k.pgid || err != nil && err != syscall.EINTR
				return reaped // else wait for the pidfd to say it exited
			})
			if reaped {
				return ws
			}
		}
	}
	for {
		_, err := syscall.Wait4(k.pgid, &ws, 0, nil)
		if err != syscall.EINTR {
			return ws
		}
	}
}

// Reap waits for the child, stops the callbacks (waiting for one that
// is running), kills what the child left in its group and returns its
// wait status and why it was ended (EndNone: it ended by itself).
func (k *Ender) Reap() (syscall.WaitStatus, Why) {
	ws := k.wait()
	k.mu.Lock()
	k.done = true
	why := k.why
	if k.timer != nil {
		k.stops = append(k.stops, k.timer.Stop)
	}
	k.mu.Unlock()
	for _, stop := range k.stops {
		if stop() {
			k.wg.Done() // it will not run
		}
	}
	k.wg.Wait()
	// Whatever the child left in its group dies with it.
	syscall.Kill(-k.pgid, syscall.SIGKILL)
	return ws, why
}

func (r *Runner) log(level, msg string) {
	if r.opts.ErrorLog != nil {
		r.opts.ErrorLog(level, msg)
	}
}

// lineLog splits stderr into lines for the error log, each at most
// maxLine bytes.
type lineLog struct {
	part []byte
	log  func(string)
}

const maxLine = 2048

func (l *lineLog) Write(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.part = append(l.part, b...)
			if len(l.part) >= maxLine {
				l.emit()
			}
			return
		}
		l.part = append(l.part, b[:i]...)
		b = b[i+1:]
		l.emit()
	}
}

func (l *lineLog) emit() {
	s := string(bytes.TrimRight(l.part, "\r"))
	if len(s) > maxLine {
		s = s[:maxLine]
	}
	l.part = l.part[:0]
	if s != "" {
		l.log(s)
	}
}

func (l *lineLog) flush() { l.emit() }

// Acquire takes one of the MaxChildren slots, waiting in FIFO order, for
// a child the core starts itself (the cgi core's c10k children); false
// when ctx ended first. Release gives it back.
func (r *Runner) Acquire(ctx context.Context) bool {
	select {
	case r.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// Release gives back a slot Acquire took.
func (r *Runner) Release() { <-r.sem }
