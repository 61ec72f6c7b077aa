package soak

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/loadgen"
	"github.com/c10k/c10k/servers/backend"
	"github.com/c10k/c10k/servers/servertest"
)

// Tolerances of the return to baseline, after the load stopped and the
// idle timeouts passed. Descriptors must come back exactly but for
// FDSlack (a pooled upstream connection, a log file reopened); the Go
// runtime keeps heap it grew for a while, so RSS may stay up to
// RSSSlackRatio above the baseline plus RSSSlack — a leak of a few KB
// per request over a soak of minutes shows well beyond that.
const (
	FDSlack       = 2
	RSSSlack      = 16 << 20
	RSSSlackRatio = 0.25
)

// Options configure a soak run.
type Options struct {
	Exe      string        // the c10k binary
	Core     string        // thread, event, cgi or nethttp
	Duration time.Duration // of the load with faults
	Workers  int           // load connections (default 8)
	Slow     int           // slow clients reading a big file (default 2)
	Dir      string        // a scratch directory
	Serve    []string      // more flags for c10k serve, such as --workers 32
	Logf     func(format string, a ...any)
}

// Figures are what a soak run measured. Errors always include
// "aborted": requests whose client reset the connection on purpose.
type Figures struct {
	Core      string
	Duration  time.Duration
	Sent      int64            // requests written (or attempted) by the generator
	Responses int64            // complete responses read
	Errors    map[string]int64 // counted errors by kind: dial, write, read, timeout
	Mismatch  int64            // responses that answered another request
	Status    map[int]int64    // responses by status
	Restarts  int              // times the killed backend came back
	LogLines  int64            // access log lines the server wrote

	RSSBase, RSSPeak, RSSAfter int64
	FDBase, FDPeak, FDAfter    int
}

// ErrorCount is the number of counted errors.
func (f *Figures) ErrorCount() int64 {
	var n int64
	for _, v := range f.Errors {
		n += v
	}
	return n
}

// Check returns an error naming every broken promise: a request without
// exactly one outcome, a response to another request, descriptors or
// RSS that did not come back.
func (f *Figures) Check() error {
	var errs []error
	if f.Sent != f.Responses+f.ErrorCount() {
		errs = append(errs, fmt.Errorf("%s: sent %d requests, got %d responses + %d counted errors", f.Core, f.Sent, f.Responses, f.ErrorCount()))
	}
	if f.Mismatch > 0 {
		errs = append(errs, fmt.Errorf("%s: %d responses answered another request", f.Core, f.Mismatch))
	}
	if f.FDAfter > f.FDBase+FDSlack {
		errs = append(errs, fmt.Errorf("%s: %d open descriptors after the soak, baseline %d (+%d allowed)", f.Core, f.FDAfter, f.FDBase, FDSlack))
	}
	if lim := rssLimit(f.RSSBase); f.RSSAfter > lim {
		errs = append(errs, fmt.Errorf("%s: RSS %.1f MiB after the soak, baseline %.1f MiB (%.1f MiB allowed)", f.Core, mib(f.RSSAfter), mib(f.RSSBase), mib(lim)))
	}
	if f.LogLines > f.Sent || f.LogLines < f.Responses {
		errs = append(errs, fmt.Errorf("%s: %d access log lines for %d requests sent and %d responses", f.Core, f.LogLines, f.Sent, f.Responses))
	}
	return errors.Join(errs...)
}

func rssLimit(base int64) int64 { return base + int64(float64(base)*RSSSlackRatio) + RSSSlack }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// String is the figures as the soak prints them.
func (f *Figures) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak %-7s %v: sent %d = %d responses + %d errors %v; mismatched %d; status %v; backend restarts %d; access log %d lines\n",
		f.Core, f.Duration, f.Sent, f.Responses, f.ErrorCount(), f.Errors, f.Mismatch, f.Status, f.Restarts, f.LogLines)
	fmt.Fprintf(&b, "soak %-7s fds %d baseline, %d peak, %d after; RSS %.1f MiB baseline, %.1f MiB peak, %.1f MiB after (limit %.1f MiB)",
		f.Core, f.FDBase, f.FDPeak, f.FDAfter, mib(f.RSSBase), mib(f.RSSPeak), mib(f.RSSAfter), mib(rssLimit(f.RSSBase)))
	return b.String()
}

// warmUp is how long the mix runs before the baseline is taken.
const warmUp = 2 * time.Second

// keepaliveTimeout is the config's keepalive_timeout: after the load the
// soak waits past it (and the upstream pool's) before measuring.
const keepaliveTimeout = 2 * time.Second

// config is the server's nginx.conf: static files, proxying to two
// backends (one killed and restarted during the run) and to a stalling
// one, and a CGI program.
const config = `worker_processes 1;
events { worker_connections 4096; }
http {
    access_log $DIR/access.log;
    keepalive_timeout 2s;
    send_timeout 5s;
    upstream app {
        server $A max_fails=1 fail_timeout=1s;
        server $B max_fails=1 fail_timeout=1s;
        keepalive 8;
        keepalive_timeout 2s;
    }
    server {
        listen $LISTEN;
        server_name soak.test;
        root $DIR/html;
        location /app/ {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 1s;
        }
        location /stall/ { proxy_pass http://$A; proxy_read_timeout 1s; }
        location /flaky/ { proxy_pass http://$A; }
        location /cgi/ { cgi_pass $DIR/soak.cgi; cgi_timeout 5s; }
    }
}
`

const cgiScript = `#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\ncgi %s\n' "$QUERY_STRING"
`

// Run runs one soak: it starts the backends and the server, warms it
// up, takes the baseline, runs the mixed load while injecting faults,
// waits for the idle timeouts and measures again.
func Run(ctx context.Context, o Options) (*Figures, error) {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Slow < 0 {
		o.Slow = 0
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	f := &Figures{Core: o.Core, Duration: o.Duration, Errors: map[string]int64{}, Status: map[int]int64{}}
	html := filepath.Join(o.Dir, "html")
	if err := os.MkdirAll(html, 0o755); err != nil {
		return nil, err
	}
	for name, size := range map[string]int{"small.txt": 1 << 10, "big.bin": 256 << 10} {
		if err := os.WriteFile(filepath.Join(html, name), bytes.Repeat([]byte("c10k soak\n"), size/10), 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "soak.cgi"), []byte(cgiScript), 0o755); err != nil {
		return nil, err
	}

	bctx, stopBackends := context.WithCancel(ctx)
	defer stopBackends()
	var bg errgroup.Group
	defer bg.Wait()
	defer stopBackends()
	a, err := startBackend(bctx, &bg, "a", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b, err := startBackend(bctx, &bg, "b", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	conf := strings.NewReplacer("$DIR", o.Dir, "$A", a.addr, "$B", b.addr, "$LISTEN", listen).Replace(config)
	confPath := filepath.Join(o.Dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	srv, err := startServer(o, confPath, listen)
	if err != nil {
		return nil, err
	}
	defer srv.stop()

	// Warm up with the same mix, without faults, so that the baseline
	// holds what the server grows once (buffers, pools, heap).
	l := &load{addr: listen, f: f}
	l.run(ctx, o.Workers, o.Slow, warmUp)
	l.fold(&Figures{}) // the warm-up does not count
	settle(ctx)
	if f.RSSBase, f.FDBase, err = srv.sample(); err != nil {
		return nil, err
	}
	*f = Figures{Core: o.Core, Duration: o.Duration, Errors: map[string]int64{}, Status: map[int]int64{}, RSSBase: f.RSSBase, FDBase: f.FDBase}
	logBase := countLines(filepath.Join(o.Dir, "access.log"))

	// The soak: load, faults, and a sampler of the peak.
	lctx, stopLoad := context.WithTimeout(ctx, o.Duration)
	defer stopLoad()
	var g errgroup.Group
	g.Go(func() error { l.run(lctx, o.Workers, o.Slow, o.Duration); return nil })
	g.Go(func() error { f.Restarts = injectFaults(lctx, bctx, &bg, b, o.Logf); return nil })
	g.Go(func() error {
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-lctx.Done():
				return nil
			case <-tk.C:
			}
			if rss, fds, err := srv.sample(); err == nil {
				f.RSSPeak, f.FDPeak = max(f.RSSPeak, rss), max(f.FDPeak, fds)
			}
		}
	})
	g.Wait()
	l.fold(f)

	// Back to baseline: once the keep-alive and upstream idle timeouts
	// passed, within a bounded wait.
	settle(ctx)
	end := time.Now().Add(20 * time.Second)
	for {
		if f.RSSAfter, f.FDAfter, err = srv.sample(); err != nil {
			return f, err
		}
		if f.FDAfter <= f.FDBase+FDSlack && f.RSSAfter <= rssLimit(f.RSSBase) || time.Now().After(end) || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err := srv.stop(); err != nil {
		o.Logf("server %s: %v", o.Core, err)
	}
	f.LogLines = countLines(filepath.Join(o.Dir, "access.log")) - logBase
	return f, ctx.Err()
}

// settle waits past the idle timeouts.
func settle(ctx context.Context) {
	t := time.NewTimer(keepaliveTimeout + time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// countLines counts the lines of the file at path (0 when missing).
func countLines(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		n++
	}
	return n
}

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// server is the c10k serve process under test.
type server struct {
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
	err  error
}

func startServer(o Options, confPath, listen string) (*server, error) {
	args := append([]string{"serve", "--core", o.Core, "-c", confPath, "--error-log", filepath.Join(o.Dir, "error.log")}, o.Serve...)
	cmd := exec.Command(o.Exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("soak: start %s: %w", o.Exe, err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	end := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("soak: c10k serve --core %s exited: %v: %s", o.Core, s.err, stderr.String())
		default:
		}
		if time.Now().After(end) {
			s.stop()
			return nil, fmt.Errorf("soak: c10k serve --core %s not accepting on %s within 20s", o.Core, listen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sample returns the server process's RSS and open descriptors.
func (s *server) sample() (rss int64, fds int, err error) {
	pid := s.cmd.Process.Pid
	if rss, err = loadgen.RSS(pid); err != nil {
		return 0, 0, err
	}
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0, 0, fmt.Errorf("soak: descriptors of pid %d: %w", pid, err)
	}
	return rss, len(ents), nil
}

// stop ends the server: SIGTERM, then its group is killed after 10s.
func (s *server) stop() error {
	s.once.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		select {
		case <-s.done:
		case <-t.C:
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) // whatever it left in its group
	})
	return s.err
}

// An app is a reference application server (c10k backend) on a fixed address that
// can be killed and started again.
type app struct {
	name, addr string
	cancel     context.CancelFunc
}

func startBackend(ctx context.Context, g *errgroup.Group, name, addr string) (*app, error) {
	bctx, cancel := context.WithCancel(ctx)
	ready := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	g.Go(func() error {
		err := backend.Run(bctx, backend.Options{Name: name, Listen: addr, ShutdownTimeout: time.Millisecond}, func(a net.Addr) { ready <- a })
		errc <- err
		return nil
	})
	select {
	case a := <-ready:
		return &app{name: name, addr: a.String(), cancel: cancel}, nil
	case err := <-errc:
		cancel()
		return nil, fmt.Errorf("soak: backend %s on %s: %w", name, addr, err)
	}
}

// injectFaults kills backend b and starts it again on its address
// (under bctx, in g), about once a second, until ctx ends; it returns
// the restarts.
func injectFaults(ctx, bctx context.Context, g *errgroup.Group, b *app, logf func(string, ...any)) int {
	restarts := 0
	for {
		if !sleepCtx(ctx, 700*time.Millisecond) {
			return restarts
		}
		b.cancel() // killed: in-flight requests cut, then connections refused
		if !sleepCtx(ctx, 300*time.Millisecond) {
			return restarts
		}
		for i := 0; ; i++ {
			nb, err := startBackend(bctx, g, b.name, b.addr)
			if err == nil {
				*b = *nb
				restarts++
				break
			}
			if i == 20 || !sleepCtx(ctx, 50*time.Millisecond) {
				logf("backend %s not restarted: %v", b.name, err)
				return restarts
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// load is the generator: workers cycling through the request mix on
// keep-alive (or not) connections, and slow clients.
type load struct {
	addr string
	f    *Figures
	seq  atomic.Int64

	mu        sync.Mutex
	sent      int64
	responses int64
	mismatch  int64
	errs      map[string]int64
	status    map[int]int64
}

// maxRequests bounds each worker's loop in count as the duration bounds
// it in time.
const maxRequests = 10_000_000

// run runs the load for d (or until ctx ends).
func (l *load) run(ctx context.Context, workers, slow int, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	l.mu.Lock()
	if l.errs == nil {
		l.errs, l.status = map[string]int64{}, map[int]int64{}
	}
	l.mu.Unlock()
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error { l.worker(ctx, w); return nil })
	}
	for range slow {
		g.Go(func() error { l.slowClient(ctx); return nil })
	}
	g.Wait()
}

// fold moves the counts into f and resets them.
func (l *load) fold(f *Figures) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f.Sent, f.Responses, f.Mismatch = l.sent, l.responses, l.mismatch
	f.Errors, f.Status = l.errs, l.status
	l.sent, l.responses, l.mismatch = 0, 0, 0
	l.errs, l.status = map[string]int64{}, map[int]int64{}
}

// kind is one request of the mix.
type kind struct {
	path      string
	keepalive bool
	post      bool
	echo      bool // proxied to the backend: the echo names the request
	abort     bool // the client resets the connection after the first bytes
}

// mix is the request mix, cycled through; a stall costs a second, so it
// comes once in len(mix) requests.
var mix = []kind{
	{path: "/small.txt", keepalive: true},
	{path: "/app/ka", keepalive: true, echo: true},
	{path: "/cgi/x", keepalive: true},
	{path: "/big.bin"},
	{path: "/app/post", keepalive: true, post: true, echo: true},
	{path: "/flaky/close?close=1", keepalive: true}, // the backend hangs up: 502
	{path: "/small.txt"},
	{path: "/app/new", echo: true},
	{path: "/app/ka2", keepalive: true, echo: true},
	{path: "/cgi/y"},
	{path: "/app/ka3", keepalive: true, echo: true},
	{path: "/stall/x?stall=1", keepalive: true}, // 504 after proxy_read_timeout
	{path: "/big.bin", abort: true},             // a counted error: the client resets
}

func (l *load) worker(ctx context.Context, w int) {
	var c *servertest.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for i := w; i < w+maxRequests && ctx.Err() == nil; i++ {
		k := mix[i%len(mix)]
		id := l.seq.Add(1)
		target := k.path
		if strings.Contains(target, "?") {
			target += "&id=" + strconv.FormatInt(id, 10)
		} else {
			target += "?id=" + strconv.FormatInt(id, 10)
		}
		method, body := "GET", ""
		fields := []string{"Host: soak.test"}
		if !k.keepalive {
			fields = append(fields, "Connection: close")
		}
		if k.post {
			method, body = "POST", "soak body "+strconv.FormatInt(id, 10)
			fields = append(fields, "Content-Length: "+strconv.Itoa(len(body)))
		}
		req := method + " " + target + " HTTP/1.1\r\n" + strings.Join(fields, "\r\n") + "\r\n\r\n" + body
		if k.abort {
			l.count(func() { l.sent++ })
			err := l.abort(req)
			l.count(func() { l.errs[err]++ })
			continue
		}
		if c == nil {
			nc, err := net.DialTimeout("tcp", l.addr, servertest.IOTimeout)
			l.count(func() { l.sent++ })
			if err != nil {
				l.count(func() { l.errs["dial"]++ })
				continue
			}
			c = servertest.NewConn(nc)
		} else {
			l.count(func() { l.sent++ })
		}
		r, err := c.RoundTrip(method, []byte(req))
		if err != nil {
			kind := "read"
			if strings.Contains(err.Error(), "timeout") {
				kind = "timeout"
			} else if strings.HasPrefix(err.Error(), "write") {
				kind = "write"
			}
			l.count(func() { l.errs[kind]++ })
			c.Close()
			c = nil
			continue
		}
		mismatch := k.echo && r.Status == 200 && !bytes.Contains(r.Body, []byte("id="+strconv.FormatInt(id, 10)+`"`))
		l.count(func() {
			l.responses++
			l.status[r.Status]++
			if mismatch {
				l.mismatch++
			}
		})
		if !k.keepalive || r.HasToken("Connection", "close") {
			c.Close()
			c = nil
		}
	}
}

// abort sends req on a new connection, reads the first bytes of the
// answer and resets the connection (SO_LINGER 0): the request's outcome
// is an error the generator counts, "aborted" (or what went wrong
// before).
func (l *load) abort(req string) string {
	nc, err := net.DialTimeout("tcp", l.addr, servertest.IOTimeout)
	if err != nil {
		return "dial"
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(servertest.IOTimeout))
	if _, err := io.WriteString(nc, req); err != nil {
		return "write"
	}
	var b [512]byte
	if _, err := nc.Read(b[:]); err != nil {
		return "read"
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	return "aborted"
}

func (l *load) count(f func()) {
	l.mu.Lock()
	f()
	l.mu.Unlock()
}

// slowClient fetches the big file over a small window, reading 16 KiB
// every 50 ms, again and again.
func (l *load) slowClient(ctx context.Context) {
	for i := 0; i < maxRequests && ctx.Err() == nil; i++ {
		l.count(func() { l.sent++ })
		err := l.slowFetch(ctx)
		l.count(func() {
			if err != nil {
				l.errs["slow"]++
			} else {
				l.responses++
				l.status[200]++
			}
		})
	}
}

func (l *load) slowFetch(ctx context.Context) error {
	d := net.Dialer{Timeout: servertest.IOTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8192) })
	}}
	nc, err := d.DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	nc.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(nc, "GET /big.bin HTTP/1.1\r\nHost: soak.test\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	buf := make([]byte, 16<<10)
	var got int
	for {
		n, err := nc.Read(buf)
		got += n
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got < 256<<10 {
		return fmt.Errorf("short response: %d bytes", got)
	}
	return nil
}
