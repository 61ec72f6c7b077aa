package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/config"
)

// Defaults of Options.
const (
	DefaultHealth        = "/health"
	DefaultHealthTimeout = 30 * time.Second
	DefaultDrain         = 5 * time.Second
)

// Timeouts of the steps that have no option.
var (
	// StopTimeout bounds the wait for the old color to exit after its
	// SIGTERM (--old-pid) or for the --stop-old command to finish.
	StopTimeout = 30 * time.Second
	// KillGrace is how long the new color gets to exit after SIGTERM when
	// a failed deploy stops it, before SIGKILL.
	KillGrace = 5 * time.Second
	// pollEvery is the pause between health and confirmation requests.
	pollEvery = 100 * time.Millisecond
	// requestTimeout bounds one health or confirmation request.
	requestTimeout = 2 * time.Second
)

// Options are a deploy's settings; the command's flags map onto them.
type Options struct {
	Config   string // the server's config file
	Upstream string // the upstream block to switch

	// The server to reload: the pid in PIDFile (the config's pid
	// directive, which c10k serve writes), or PID.
	PIDFile string
	PID     int

	Blue, Green string // the two colors' addresses, host:port

	// Start is the shell command (/bin/sh -c) that starts the new color,
	// with {addr} replaced by its address and {color} by "blue" or
	// "green". It runs in its own process group with stdin from
	// /dev/null and its output appended to StartLog: "" is
	// deploy-UPSTREAM-COLOR.log beside the config, "-" is this
	// process's stderr. Its
	// pid goes to the same name ending in .pid (not with "-").
	Start    string
	StartLog string

	Health        string        // path of the health check; "" is DefaultHealth
	HealthTimeout time.Duration // 0 is DefaultHealthTimeout; it also bounds the confirmation
	Drain         time.Duration // the wait for in-flight requests before the old color stops; 0: none
	// CheckURL, when set, is fetched through the server after the
	// reload until it answers 2xx — and, when the new color's health
	// answer named it in X-Backend, until it carries that name.
	CheckURL string

	// How to stop the old color: StopOld, a shell command with {addr}
	// and {color} of the old color, or SIGTERM to OldPID (and its
	// process group when it leads one). Neither: the old color keeps
	// running and Run says so.
	StopOld string
	OldPID  int

	// Check tests the switched config file as c10k serve -t does; the
	// command passes serve -t's own code. nil only loads it with the
	// config package.
	Check func(file string) error

	Log    io.Writer // the steps, one timestamped line each; nil: discarded
	Stderr io.Writer // the output of StopOld; nil: os.Stderr
}

// Result is what a deploy did.
type Result struct {
	Live, Next string // the colors before and after: Blue or Green
	From, To   string // their addresses
	File       string // the file switched (the config, or the include with the upstream)
	Backup     string // File's previous version, File+".bak"
	PID        int    // the new color's process (it leads its process group)
	StartLog   string // where its output goes ("-": stderr)
	PIDFile    string // where its pid was written ("" with StartLog "-")
	Stopped    bool   // the old color was stopped (StopOld or OldPID)
}

// Run performs a blue-green deploy: it finds the live color in the
// upstream, starts the other one and waits for its health check,
// switches the upstream's server lines in the config (atomically, with a
// .bak), checks the new config, reloads the server with SIGHUP, confirms
// the switch through CheckURL, waits Drain and stops the old color.
//
// A failure before the switch stops the new color and leaves the config
// and the server untouched; one after it (a refused config, a reload
// that does not reach the new color, an interrupted ctx) also puts the
// previous config back and reloads the server again. Once the old color
// is being stopped the new one stays live whatever happens. Bad Options
// wrap ErrUsage. The Result comes back whenever the new color was
// started, with an error or without.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	d := &run{o: o, log: o.Log}
	if d.log == nil {
		d.log = io.Discard
	}
	res, err := d.run(ctx)
	if err != nil {
		d.step("failed: %v", err)
	}
	return res, err
}

func (o *Options) setDefaults() error {
	usage := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
	}
	switch {
	case o.Config == "":
		return usage("--config is required")
	case o.Upstream == "":
		return usage("--upstream is required")
	case o.Blue == "" || o.Green == "":
		return usage("--blue and --green are required")
	case o.Start == "":
		return usage("--start is required")
	case !strings.Contains(o.Start, "{addr}"):
		return usage("--start %q: the command must use {addr}, the address the new color listens on", o.Start)
	case (o.PIDFile == "") == (o.PID == 0):
		return usage("give the server to reload with one of --pid-file and --pid")
	case o.PID < 0:
		return usage("--pid %d: must be positive", o.PID)
	case o.OldPID < 0:
		return usage("--old-pid %d: must be positive", o.OldPID)
	case o.StopOld != "" && o.OldPID != 0:
		return usage("give at most one of --stop-old and --old-pid")
	case o.HealthTimeout < 0:
		return usage("--health-timeout %v: must be positive", o.HealthTimeout)
	}
	if err := checkAddr("blue", o.Blue); err != nil {
		return err
	}
	if err := checkAddr("green", o.Green); err != nil {
		return err
	}
	if canonAddr(o.Blue) == canonAddr(o.Green) {
		return usage("--blue and --green are the same address %s", o.Blue)
	}
	if o.Health == "" {
		o.Health = DefaultHealth
	}
	if !strings.HasPrefix(o.Health, "/") {
		return usage("--health %q: want a path starting with /", o.Health)
	}
	if o.HealthTimeout == 0 {
		o.HealthTimeout = DefaultHealthTimeout
	}
	if o.CheckURL != "" {
		u, err := url.Parse(o.CheckURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usage("--check-url %q: want an http:// or https:// URL", o.CheckURL)
		}
	}
	if o.Check == nil {
		o.Check = func(file string) error { _, err := config.Load(file); return err }
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	return nil
}

// run is one deploy in progress.
type run struct {
	o      Options
	log    io.Writer
	sw     *Switch
	res    *Result
	server int    // the pid to reload
	from   string // where server came from, for messages
	child  *child // the new color
}

func (d *run) step(format string, a ...any) {
	fmt.Fprintf(d.log, "%s %s\n", time.Now().Format("2006-01-02T15:04:05.000Z07:00"), fmt.Sprintf(format, a...))
}

func (d *run) run(ctx context.Context) (*Result, error) {
	o := &d.o
	// 0. The server to reload must be there before anything starts.
	if err := d.findServer(); err != nil {
		return nil, err
	}
	// 1. The live color.
	sw, err := Plan(o.Config, o.Upstream, o.Blue, o.Green)
	if err != nil {
		return nil, err
	}
	d.sw = sw
	d.step("live: %s %s in upstream %s (%s:%d, server %s); next: %s %s",
		sw.Live, sw.LiveAddr, o.Upstream, sw.File, sw.Line, lines(sw.Lines), sw.Next, sw.NextAddr)

	// 2. Start the new color and wait for its health.
	if err := d.start(); err != nil {
		return d.res, err
	}
	backend, err := d.waitHealthy(ctx)
	if err != nil {
		d.stopNew()
		return d.res, err
	}

	// 3. Switch the upstream.
	bak, err := replaceFile(sw.File, sw.Old, sw.New)
	if err != nil {
		d.stopNew()
		return d.res, fmt.Errorf("switch: %w", err)
	}
	d.res.File, d.res.Backup = sw.File, bak
	d.step("switched: %s %s: server %s -> %s (previous version in %s)", sw.File, lines(sw.Lines), sw.LiveAddr, sw.NextAddr, bak)

	// 4. Check, reload, confirm.
	if err := o.Check(o.Config); err != nil {
		d.rollback(false)
		return d.res, fmt.Errorf("%w: %w", ErrCheck, err)
	}
	d.step("check: %s is ok (c10k serve -t)", o.Config)
	if err := unix.Kill(d.server, unix.SIGHUP); err != nil {
		d.rollback(false)
		return d.res, fmt.Errorf("%w: reload: SIGHUP to pid %d%s: %w", ErrServer, d.server, d.from, err)
	}
	d.step("reload: SIGHUP sent to pid %d%s", d.server, d.from)
	if o.CheckURL != "" {
		if err := d.confirm(ctx, backend); err != nil {
			d.rollback(true)
			return d.res, err
		}
	}
	if o.Drain > 0 {
		d.step("drain: waiting %v for the requests in flight on %s", o.Drain, sw.Live)
		select {
		case <-time.After(o.Drain):
		case <-ctx.Done():
			d.rollback(true)
			return d.res, fmt.Errorf("drain: %w", ctx.Err())
		}
	}

	// 5. Stop the old color; from here on the new one stays live.
	if err := d.stopOld(); err != nil {
		return d.res, err
	}
	d.step("done: %s %s is live in upstream %s", sw.Next, sw.NextAddr, o.Upstream)
	return d.res, nil
}

// findServer reads the pid of the server to reload and checks that it
// runs.
func (d *run) findServer() error {
	o := &d.o
	d.server = o.PID
	if o.PIDFile != "" {
		b, err := os.ReadFile(o.PIDFile)
		if err != nil {
			return fmt.Errorf("%w: pid file: %w", ErrServer, err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || n <= 0 {
			return fmt.Errorf("%w: pid file %s: %q is not a pid", ErrServer, o.PIDFile, strings.TrimSpace(string(b)))
		}
		d.server, d.from = n, " (from "+o.PIDFile+")"
	}
	if !running(d.server) {
		return fmt.Errorf("%w: pid %d%s is not running", ErrServer, d.server, d.from)
	}
	return nil
}

// start starts the new color's command.
func (d *run) start() error {
	o, sw := &d.o, d.sw
	cmdline := expand(o.Start, sw.NextAddr, sw.Next)
	logPath, pidPath := o.StartLog, ""
	if logPath == "" {
		base := filepath.Join(filepath.Dir(o.Config), "deploy-"+fileSafe(o.Upstream)+"-"+sw.Next)
		logPath, pidPath = base+".log", base+".pid"
	}
	c, err := startChild(cmdline, logPath)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	d.child = c
	d.res = &Result{Live: sw.Live, Next: sw.Next, From: sw.LiveAddr, To: sw.NextAddr, PID: c.pid, StartLog: logPath}
	if pidPath != "" {
		if err := writeAtomic(pidPath, []byte(strconv.Itoa(c.pid)+"\n"), 0o644); err != nil {
			d.stopNew()
			return fmt.Errorf("%w: %w", ErrStart, err)
		}
		d.res.PIDFile = pidPath
	}
	where := "output to " + logPath
	if logPath == "-" {
		where = "output to stderr"
	}
	d.step("start: %s on %s: /bin/sh -c %q (pid %d, its own process group; %s)", sw.Next, sw.NextAddr, cmdline, c.pid, where)
	return nil
}

// waitHealthy polls the new color's health check until it answers 2xx,
// for at most HealthTimeout, and returns the X-Backend of that answer.
func (d *run) waitHealthy(ctx context.Context) (string, error) {
	o, sw := &d.o, d.sw
	u := "http://" + sw.NextAddr + o.Health
	start := time.Now()
	deadline := start.Add(o.HealthTimeout)
	last := "no answer"
	for {
		code, hdr, err := get(ctx, u)
		switch {
		case err == nil && code/100 == 2:
			d.step("healthy: GET %s answered %d after %.1fs", u, code, time.Since(start).Seconds())
			return hdr.Get("X-Backend"), nil
		case err == nil:
			last = "status " + strconv.Itoa(code)
		default:
			last = err.Error()
		}
		if exited, status := d.child.exited(); exited && status != 0 {
			return "", fmt.Errorf("%w: %s %s: the start command exited with status %d before GET %s answered 2xx (last: %s)%s",
				ErrStart, sw.Next, sw.NextAddr, status, u, last, d.logHint())
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("%w: %s %s: %w", ErrStart, sw.Next, sw.NextAddr, ctx.Err())
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w: %s %s: GET %s did not answer 2xx within %v (last: %s)%s",
				ErrStart, sw.Next, sw.NextAddr, u, o.HealthTimeout, last, d.logHint())
		}
		sleep(ctx, pollEvery)
	}
}

func (d *run) logHint() string {
	if d.res == nil || d.res.StartLog == "-" {
		return ""
	}
	return "; see " + d.res.StartLog
}

// confirm polls CheckURL until the reload shows: a 2xx answer, from the
// new color when its health answer named it (X-Backend).
func (d *run) confirm(ctx context.Context, backend string) error {
	o := &d.o
	start := time.Now()
	deadline := start.Add(o.HealthTimeout)
	last := "no answer"
	for {
		code, hdr, err := get(ctx, o.CheckURL)
		got := hdr.Get("X-Backend")
		switch {
		case err == nil && code/100 == 2 && (backend == "" || got == backend):
			via := ""
			if backend != "" {
				via = ", X-Backend " + got
			}
			d.step("confirmed: GET %s answered %d%s after %.1fs", o.CheckURL, code, via, time.Since(start).Seconds())
			return nil
		case err == nil && code/100 == 2:
			last = fmt.Sprintf("status %d from X-Backend %q, not %q", code, got, backend)
		case err == nil:
			last = "status " + strconv.Itoa(code)
		default:
			last = err.Error()
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrConfirm, ctx.Err())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: GET %s did not reach %s %s within %v (last: %s)",
				ErrConfirm, o.CheckURL, d.sw.Next, d.sw.NextAddr, o.HealthTimeout, last)
		}
		sleep(ctx, pollEvery)
	}
}

// rollback puts the previous config back, reloads the server again when
// it was reloaded with the switched one, and stops the new color. It
// reports each step; its own failures are reported, not returned: the
// deploy has failed already.
func (d *run) rollback(reloaded bool) {
	sw := d.sw
	if err := restoreFile(sw.File, sw.Old); err != nil {
		d.step("rollback: FAILED to restore %s: %v; its previous version is in %s", sw.File, err, d.res.Backup)
	} else {
		d.step("rollback: %s restored (server %s again)", sw.File, sw.LiveAddr)
		if reloaded {
			if err := unix.Kill(d.server, unix.SIGHUP); err != nil {
				d.step("rollback: FAILED to reload: SIGHUP to pid %d%s: %v", d.server, d.from, err)
			} else {
				d.step("rollback: SIGHUP sent to pid %d%s", d.server, d.from)
			}
		}
	}
	d.stopNew()
}

// stopNew stops the new color after a failure and removes its pid file.
func (d *run) stopNew() {
	if d.child == nil {
		return
	}
	how := d.child.stop(KillGrace)
	if d.res.PIDFile != "" {
		os.Remove(d.res.PIDFile)
		d.res.PIDFile = ""
	}
	d.step("stopped: %s %s (pid %d): %s", d.sw.Next, d.sw.NextAddr, d.child.pid, how)
}

// stopOld stops the old color as the options say.
func (d *run) stopOld() error {
	o, sw := &d.o, d.sw
	// The pid file a previous deploy wrote for the old color.
	pf := filepath.Join(filepath.Dir(o.Config), "deploy-"+fileSafe(o.Upstream)+"-"+sw.Live+".pid")
	defer func() {
		if d.res.Stopped {
			if b, err := os.ReadFile(pf); err == nil {
				if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && !running(n) {
					os.Remove(pf)
				}
			}
		}
	}()
	switch {
	case o.StopOld != "":
		cmdline := expand(o.StopOld, sw.LiveAddr, sw.Live)
		d.step("stop: %s %s: /bin/sh -c %q", sw.Live, sw.LiveAddr, cmdline)
		ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
		defer cancel()
		if err := runCommand(ctx, cmdline, o.Stderr); err != nil {
			return fmt.Errorf("%w: %s %s: %q: %w (%s %s is live)", ErrStop, sw.Live, sw.LiveAddr, cmdline, err, sw.Next, sw.NextAddr)
		}
		d.res.Stopped = true
		d.step("stopped: %s %s", sw.Live, sw.LiveAddr)
	case o.OldPID != 0:
		how, err := terminate(o.OldPID, StopTimeout)
		if err != nil {
			return fmt.Errorf("%w: %s %s (pid %d): %w (%s %s is live)", ErrStop, sw.Live, sw.LiveAddr, o.OldPID, err, sw.Next, sw.NextAddr)
		}
		d.res.Stopped = true
		d.step("stopped: %s %s (pid %d): %s", sw.Live, sw.LiveAddr, o.OldPID, how)
	default:
		hint := ""
		if b, err := os.ReadFile(pf); err == nil {
			hint = fmt.Sprintf("; a previous deploy started it as pid %s: --old-pid $(cat %s)", strings.TrimSpace(string(b)), pf)
		}
		d.step("old: %s %s still runs and gets no new requests: stop it yourself, or pass --stop-old or --old-pid%s", sw.Live, sw.LiveAddr, hint)
	}
	return nil
}

// runCommand runs /bin/sh -c cmdline to its end, its output to w.
func runCommand(ctx context.Context, cmdline string, w io.Writer) error {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", cmdline)
	cmd.Stdout, cmd.Stderr = w, w
	// A daemon it leaves behind may hold the output open: do not wait
	// for that past the command's own exit.
	cmd.WaitDelay = time.Second
	return cmd.Run()
}

// expand replaces {addr} and {color} in a command.
func expand(cmd, addr, color string) string {
	return strings.NewReplacer("{addr}", addr, "{color}", color).Replace(cmd)
}

// fileSafe keeps the letters, digits, '-', '_' and '.' of s for a file
// name; the rest become '_'.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// lines writes line numbers: "line 7", "lines 7, 9".
func lines(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	if len(s) == 1 {
		return "line " + s[0]
	}
	return "lines " + strings.Join(s, ", ")
}

// httpClient checks health and confirms reloads: no proxy from the
// environment, no keep-alive (each poll sees the server as a new client
// does), no redirects followed.
var httpClient = &http.Client{
	Timeout:       requestTimeout,
	Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// get fetches u and returns its status and header.
func get(ctx context.Context, u string) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, http.Header{}, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, http.Header{}, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// running reports whether pid names a live process (not a zombie).
func running(pid int) bool {
	if err := unix.Kill(pid, 0); err != nil && !errors.Is(err, unix.EPERM) {
		return false
	}
	return !zombie(pid)
}

// zombie reports whether pid has exited and waits for its parent.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// terminate sends SIGTERM to pid — to its process group when it leads
// one, as a start command's shell does — and waits up to timeout for it
// to exit. It returns what happened.
func terminate(pid int, timeout time.Duration) (string, error) {
	target, what := pid, "SIGTERM"
	if pg, err := unix.Getpgid(pid); err == nil && pg == pid && pg != unix.Getpgrp() {
		target, what = -pid, "SIGTERM to its process group"
	}
	if err := unix.Kill(target, unix.SIGTERM); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return "not running", nil
		}
		return "", fmt.Errorf("SIGTERM: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for running(pid) {
		if time.Now().After(deadline) {
			return "", fmt.Errorf("still running %v after SIGTERM", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return what + ", exited", nil
}

// child is the new color's process: the leader of its own process
// group. It is not waited for by a goroutine, so that a successful
// deploy leaves it running; exited reaps it when it is gone.
type child struct {
	pid    int
	reaped bool
	status int
}

// startChild starts /bin/sh -c cmdline in a process group of its own,
// stdin from /dev/null, output appended to logPath ("-": this process's
// stderr, which the child shares).
func startChild(cmdline, logPath string) (*child, error) {
	cmd := exec.Command("/bin/sh", "-c", cmdline)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if logPath == "-" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	} else {
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("start log: %w", err)
		}
		defer f.Close() // the child has its own copy
		fmt.Fprintf(f, "---- %s c10k deploy: /bin/sh -c %q\n", time.Now().Format(time.RFC3339), cmdline)
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start /bin/sh -c %q: %w", cmdline, err)
	}
	c := &child{pid: cmd.Process.Pid}
	// The process is handled by its pid from here on: reaped with
	// wait4(WNOHANG), so that nothing waits for it past the deploy.
	cmd.Process.Release()
	return c, nil
}

// exited reaps the child if it has exited and returns its exit status
// (128+signal for a signal).
func (c *child) exited() (bool, int) {
	if c.reaped {
		return true, c.status
	}
	var ws unix.WaitStatus
	pid, err := unix.Wait4(c.pid, &ws, unix.WNOHANG, nil)
	if errors.Is(err, unix.ECHILD) { // reaped elsewhere: gone all the same
		c.reaped, c.status = true, -1
		return true, c.status
	}
	if err != nil || pid != c.pid {
		return false, 0
	}
	c.reaped = true
	switch {
	case ws.Exited():
		c.status = ws.ExitStatus()
	case ws.Signaled():
		c.status = 128 + int(ws.Signal())
	}
	return true, c.status
}

// stop ends the child's process group: SIGTERM, then SIGKILL after
// grace if the leader has not exited; it reaps the leader. It returns
// what happened.
func (c *child) stop(grace time.Duration) string {
	if done, status := c.exited(); done {
		unix.Kill(-c.pid, unix.SIGKILL) // what it left in its group
		return fmt.Sprintf("had exited with status %d", status)
	}
	unix.Kill(-c.pid, unix.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if done, _ := c.exited(); done {
			unix.Kill(-c.pid, unix.SIGKILL)
			return "SIGTERM, exited"
		}
		time.Sleep(20 * time.Millisecond)
	}
	unix.Kill(-c.pid, unix.SIGKILL)
	for {
		if done, _ := c.exited(); done {
			return fmt.Sprintf("SIGTERM, then SIGKILL after %v", grace)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
