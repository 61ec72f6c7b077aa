package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/cgi"
	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/errlog"
	"github.com/c10k/c10k/servers/event"
	"github.com/c10k/c10k/servers/nethttp"
	"github.com/c10k/c10k/servers/router"
	"github.com/c10k/c10k/servers/thread"
)

func init() {
	commands["serve"] = command{
		summary: "run a server core (thread) on an nginx.conf subset",
		run:     runServe,
	}
}

func runServe(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("c10k serve", flag.ContinueOnError)
	file := fs.String("c", "", "configuration `file` (required)")
	test := fs.Bool("t", false, "test the configuration and exit, like nginx -t")
	core := fs.String("core", "thread", "server `core`: thread, event, cgi (a process per request), or nethttp (the Go net/http baseline)")
	maxChildren := fs.Int("max-children", 256, "cgi core: children running at once; more requests queue (Apache MaxRequestWorkers)")
	loops := fs.Int("loops", 0, "event core: event loops (0: the config's worker_processes)")
	var o thread.Options
	fs.IntVar(&o.Workers, "workers", thread.DefaultWorkers, "thread core: worker threads (Apache MaxRequestWorkers)")
	fs.IntVar(&o.Backlog, "backlog", 0, "thread core: listen backlog for every address (0: the listen directive's backlog=, 511 by default)")
	fs.DurationVar(&o.KeepAliveTimeout, "keepalive-timeout", thread.DefaultKeepAliveTimeout, "thread core: keep-alive timeout where the config sets no keepalive_timeout (0: the default)")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", thread.DefaultShutdownTimeout, "how long a stop waits for in-flight requests")
	procs := fs.Int("gomaxprocs", 0, "thread core: GOMAXPROCS while serving; 0: one per worker thread (--workers), so that no worker waits for a Go P; -1: the Go runtime's own setting")
	errorLog := fs.String("error-log", "", "error log `file`, as nginx -e (default: the config's error_log; stderr when it has none)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: c10k serve -c FILE [-t] [--core thread] [flags]\n\nflags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "c10k serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *file == "" {
		fmt.Fprintln(os.Stderr, "c10k serve: -c FILE is required")
		return 2
	}
	switch *core {
	case "thread", "nethttp", "event", "cgi":
	default:
		fmt.Fprintf(os.Stderr, "c10k serve: unknown core %q (want thread, nethttp, event or cgi)\n", *core)
		return 2
	}
	if *loops < 0 {
		fmt.Fprintln(os.Stderr, "c10k serve: --loops must not be negative")
		return 2
	}
	if msg := checkThreadFlags(&o); msg != "" {
		fmt.Fprintf(os.Stderr, "c10k serve: %s\n", msg)
		return 2
	}
	switch {
	case *procs == 0:
		o.Procs = o.Workers // see the thread package's documentation
	case *procs > 0:
		o.Procs = *procs
	case *procs < -1:
		fmt.Fprintln(os.Stderr, "c10k serve: --gomaxprocs must be positive, 0 (one per worker) or -1 (the Go default)")
		return 2
	}

	cfg, err := config.Load(*file)
	if *test {
		if err == nil {
			// Whatever serve would refuse, -t refuses: build the engine.
			_, err = newEngine(*file, cfg, engine.Options{})
		}
		if err == nil {
			// nginx -t opens the error log too.
			var l *errlog.File
			if l, err = errlog.Open(errorLogPath(*errorLog, cfg), cfg.ErrorLogLevel); err == nil {
				l.Close()
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "c10k: [emerg] %v\nc10k: configuration file %s test failed\n", err, *file)
			return 1
		}
		for _, w := range cfg.Warnings {
			fmt.Fprintf(os.Stderr, "c10k: [warn] %v\n", w)
		}
		fmt.Fprintf(os.Stderr, "c10k: the configuration file %s syntax is ok\nc10k: configuration file %s test is successful\n", *file, *file)
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "c10k: [emerg] %v\n", err)
		return 1
	}

	elog, err := errlog.Open(errorLogPath(*errorLog, cfg), cfg.ErrorLogLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "c10k: [emerg] %v\n", err)
		return 1
	}
	defer elog.Close()
	var logw io.Writer = elog
	o.ErrorLog = logw
	switch *core {
	case "event":
		// Keep-alive settings are the config's (nginx's 75 s and 1000
		// requests by default), not the thread core's flag.
		return runCore(ctx, *file, cfg, elog, *errorLog, engine.Options{ErrorLog: errlog.Func(logw), Now: time.Now}, func(e *engine.Engine) (server, error) {
			return event.New(e, event.Options{Loops: *loops, ShutdownTimeout: o.ShutdownTimeout, ErrorLog: logw})
		})
	case "cgi":
		// The children are this binary (os.Executable) in its child mode.
		return runCore(ctx, *file, cfg, elog, *errorLog, engine.Options{ErrorLog: errlog.Func(logw), Now: time.Now}, func(e *engine.Engine) (server, error) {
			return cgi.New(e, cgi.Options{MaxChildren: *maxChildren, ShutdownTimeout: o.ShutdownTimeout, ErrorLog: logw})
		})
	case "nethttp":
		// Its keep-alive timeout is the config's, not the thread core's flag.
		return runCore(ctx, *file, cfg, elog, *errorLog, engine.Options{ErrorLog: nethttp.ErrorLogFunc(logw), Now: time.Now}, func(e *engine.Engine) (server, error) {
			return nethttp.New(e, nethttp.Options{IdleTimeout: nethttp.IdleTimeoutOf(cfg), ShutdownTimeout: o.ShutdownTimeout, ErrorLog: logw})
		})
	}
	return runCore(ctx, *file, cfg, elog, *errorLog, engine.Options{ErrorLog: thread.ErrorLogFunc(logw), KeepaliveTimeout: o.KeepAliveTimeout, Now: time.Now}, func(e *engine.Engine) (server, error) {
		return thread.New(e, o)
	})
}

// server is what every core offers the command.
type server interface {
	Listen() error
	Serve(ctx context.Context) error
	// Reload swaps the engine for the requests that start from now on.
	Reload(*engine.Engine) error
}

// runCore builds the engine for cfg, the core from it, binds its
// addresses (so bind errors come before serving) and serves until ctx
// ends, reloading the config file on SIGHUP. It returns the exit code.
func runCore(ctx context.Context, file string, cfg *config.Config, elog *errlog.File, logFlag string, opts engine.Options, build func(*engine.Engine) (server, error)) int {
	err := func() error {
		e, err := newEngine(file, cfg, opts)
		if err != nil {
			return err
		}
		srv, err := build(e)
		if err != nil {
			return err
		}
		if err := srv.Listen(); err != nil {
			return err
		}
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		// The pid file comes after the SIGHUP handler: a reload signal
		// sent to the pid it names must not end the server.
		if pf := pidFile(cfg); pf != "" {
			if err := writePID(pf); err != nil {
				return err
			}
			defer removePID(pf)
		}
		r := &reloader{file: file, opts: opts, srv: srv, listeners: e.Listeners(), log: elog, logFlag: logFlag, cur: e}
		err = serveReloading(ctx, srv, hup, r.reload)
		// Every request has ended (Serve returned, reloads too): the
		// engine's access-log buffers are written and its files closed,
		// as nginx flushes its logs when it exits.
		r.cur.Close()
		return err
	}()
	if err != nil {
		fmt.Fprintf(os.Stderr, "c10k: [emerg] %v\n", err)
		return 1
	}
	return 0
}

// defaultErrorLog is the config package's error_log when the config has
// none.
const defaultErrorLog = "logs/error.log"

// errorLogPath returns where c10k serve writes its error log: the
// --error-log flag's file when given (as nginx -e), else the config's
// error_log resolved against its directory, else (nginx's compiled-in
// logs/error.log) the standard error, so that a config without
// error_log leaves no file behind. "stderr" is the standard error.
func errorLogPath(flag string, cfg *config.Config) string {
	switch {
	case flag != "":
		return flag
	case cfg.ErrorLog == "" || cfg.ErrorLog == defaultErrorLog || cfg.ErrorLog == "stderr":
		return "stderr"
	}
	return cfg.Path(cfg.ErrorLog)
}

// defaultPID is the config package's pid when the config has none.
const defaultPID = "logs/nginx.pid"

// pidFile returns the path of the pid file the config's pid directive
// names, resolved against its directory, or "" for nginx's default
// (logs/nginx.pid), which c10k serve does not write: a config without
// pid leaves no file behind.
func pidFile(cfg *config.Config) string {
	if cfg.PID == "" || cfg.PID == defaultPID {
		return ""
	}
	return cfg.Path(cfg.PID)
}

// writePID writes this process's pid and a newline to path, as nginx
// does, through a temporary file renamed into place, so that a reader
// never sees half of it.
func writePID(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	_, err = fmt.Fprintf(tmp, "%d\n", os.Getpid())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	return nil
}

// removePID removes the pid file at path if it still names this
// process (a server started since may have taken it over).
func removePID(path string) {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		os.Remove(path)
	}
}

// serveReloading serves srv until ctx ends and calls reload for every
// signal on hup meanwhile. The goroutine that waits for the signals is
// its own: it ends, and is waited for, when serving ends.
func serveReloading(ctx context.Context, srv server, hup <-chan os.Signal, reload func() error) error {
	done := make(chan struct{})
	var g errgroup.Group
	g.Go(func() error {
		for {
			select {
			case <-hup:
				reload() // it logs the outcome; serving goes on either way
			case <-done:
				return nil
			}
		}
	})
	err := srv.Serve(ctx)
	close(done)
	g.Wait()
	return err
}

// reloader reloads a serving core from its config file, as nginx's
// master process does on SIGHUP: the file is read again and a new engine
// built with the same options; the core serves every request that
// starts from then on with it, and those in flight finish on the old
// one. A config that does not load, or that listens elsewhere (the
// sockets stay bound), is refused and the current one keeps serving.
type reloader struct {
	file      string
	opts      engine.Options
	srv       server
	listeners []engine.Listener // what the core bound: the first engine's
	log       *errlog.File      // takes the new config's error_log; nil: none
	cur       *engine.Engine    // the engine serving now: the first, or the last reload's
	logFlag   string            // --error-log, which wins over error_log
}

// reload reloads and logs the outcome in one error-log line: "[notice]
// reloaded FILE", or "[emerg] reload refused: " and the problem, named
// by file and line. It returns the refusal.
func (r *reloader) reload() error {
	err := r.swap()
	if err != nil {
		r.logf("emerg", "reload refused: %v", err)
		return err
	}
	r.logf("notice", "reloaded %s", r.file)
	return nil
}

func (r *reloader) swap() error {
	cfg, err := config.Load(r.file)
	if err != nil {
		return err
	}
	e, err := newEngine(r.file, cfg, r.opts)
	if err != nil {
		return err
	}
	if err := listenChange(r.file, cfg, r.listeners, e.Listeners()); err != nil {
		return err
	}
	if r.log != nil {
		// Open the new file before the switch, so that a path that
		// cannot be opened refuses the reload as a whole.
		if err := r.log.Prepare(errorLogPath(r.logFlag, cfg)); err != nil {
			e.Close()
			return err
		}
	}
	if err := r.srv.Reload(e); err != nil {
		e.Close()
		r.log.Abandon()
		return fmt.Errorf("%s: %w", r.file, err)
	}
	r.log.Commit(cfg.ErrorLogLevel)
	r.cur = e
	return nil
}

// logf writes one line to the error log (stderr without one).
func (r *reloader) logf(level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.opts.ErrorLog != nil {
		r.opts.ErrorLog(level, msg)
		return
	}
	fmt.Fprintf(os.Stderr, "c10k: [%s] %s\n", level, msg)
}

// listenChange reports how the listen addresses of cfg (loaded from
// file), whose engine has the listeners now, differ from the bound ones,
// was: an address gone or new, or other socket options (backlog=,
// reuseport, ssl) for one. The order of the addresses does not matter.
// nil when the bound sockets serve cfg as they are.
func listenChange(file string, cfg *config.Config, was, now []engine.Listener) error {
	const restart = "listen changes need a restart"
	byAddr := make(map[string]engine.Listener, len(now))
	for _, l := range now {
		byAddr[l.Addr] = l
	}
	for _, w := range was {
		n, ok := byAddr[w.Addr]
		if !ok {
			return fmt.Errorf("%s: listen %s is gone: %s", file, w.Addr, restart)
		}
		delete(byAddr, w.Addr)
		if n.Backlog != w.Backlog || n.ReusePort != w.ReusePort || n.SSL != w.SSL {
			return fmt.Errorf("%s: listen %s: backlog=%d reuseport=%v ssl=%v, bound with backlog=%d reuseport=%v ssl=%v: %s",
				listenPos(file, cfg, n.Addr), n.Addr, n.Backlog, n.ReusePort, n.SSL, w.Backlog, w.ReusePort, w.SSL, restart)
		}
	}
	for _, n := range now {
		if _, ok := byAddr[n.Addr]; ok {
			return fmt.Errorf("%s: listen %s is new: %s", listenPos(file, cfg, n.Addr), n.Addr, restart)
		}
	}
	return nil
}

// listenPos returns "FILE:LINE" of the first listen directive of cfg on
// addr (as engine.Listener writes it), or file when none names it (a
// server without listen: *:80).
func listenPos(file string, cfg *config.Config, addr string) string {
	for _, srv := range cfg.HTTP.Servers {
		for _, l := range srv.Listens {
			if ap, _, err := router.ParseListen(l.Addr); err == nil && ap.String() == addr && l.Pos.File != "" {
				return l.Pos.String()
			}
		}
	}
	return file
}

// newEngine builds the engine for the config loaded from file and
// refuses one no core could serve, naming the file: no http block, or
// no server that listens.
func newEngine(file string, cfg *config.Config, opts engine.Options) (*engine.Engine, error) {
	e, err := engine.New(cfg, opts)
	if errors.Is(err, engine.ErrNoHTTP) {
		return nil, fmt.Errorf("%s: no http block", file)
	}
	if err != nil {
		return nil, err
	}
	if len(e.Listeners()) == 0 {
		return nil, fmt.Errorf("%s: no server listens", file)
	}
	return e, nil
}

// checkThreadFlags checks the thread core's flags in o, naming the flag
// and its value; "" when they are fine. A --backlog above
// net.core.somaxconn is only warned about: the kernel caps it. A zero
// --keepalive-timeout means the default.
func checkThreadFlags(o *thread.Options) string {
	switch {
	case o.Workers <= 0:
		return fmt.Sprintf("--workers %d: must be positive", o.Workers)
	case o.Backlog < 0:
		return fmt.Sprintf("--backlog %d: must not be negative (0: the listen directive's backlog=)", o.Backlog)
	case o.KeepAliveTimeout < 0:
		return fmt.Sprintf("--keepalive-timeout %v: must not be negative", o.KeepAliveTimeout)
	case o.ShutdownTimeout <= 0:
		return fmt.Sprintf("--shutdown-timeout %v: must be positive", o.ShutdownTimeout)
	}
	if o.KeepAliveTimeout == 0 {
		o.KeepAliveTimeout = thread.DefaultKeepAliveTimeout
	}
	if max := thread.Somaxconn(); max > 0 && o.Backlog > max {
		fmt.Fprintf(os.Stderr, "c10k serve: warning: --backlog %d is above net.core.somaxconn %d; the kernel caps it at %d\n", o.Backlog, max, max)
	}
	if err := o.Validate(); err != nil {
		return "--workers: " + strings.TrimPrefix(err.Error(), "thread: ")
	}
	return ""
}
