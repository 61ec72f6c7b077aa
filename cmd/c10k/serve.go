package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
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
	core := fs.String("core", "thread", "server `core`: thread (event and cgi are not built yet)")
	var o thread.Options
	fs.IntVar(&o.Workers, "workers", thread.DefaultWorkers, "thread core: worker threads (Apache MaxRequestWorkers)")
	fs.IntVar(&o.Backlog, "backlog", 0, "thread core: listen backlog for every address (0: the listen directive's backlog=, 511 by default)")
	fs.DurationVar(&o.KeepAliveTimeout, "keepalive-timeout", thread.DefaultKeepAliveTimeout, "thread core: keep-alive timeout where the config sets no keepalive_timeout")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", thread.DefaultShutdownTimeout, "how long a stop waits for in-flight requests")
	procs := fs.Int("gomaxprocs", 0, "thread core: GOMAXPROCS while serving; 0: one per worker thread (--workers), so that no worker waits for a Go P; -1: the Go runtime's own setting")
	errorLog := fs.String("error-log", "", "error log `file` (default stderr)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: c10k serve -c FILE [-t] [--core thread] [flags]\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
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
	case "thread":
	case "event", "cgi":
		fmt.Fprintf(os.Stderr, "c10k serve: core %q is not built yet\n", *core)
		return 2
	default:
		fmt.Fprintf(os.Stderr, "c10k serve: unknown core %q (want thread, event or cgi)\n", *core)
		return 2
	}
	if o.Workers <= 0 || o.Backlog < 0 || o.KeepAliveTimeout <= 0 || o.ShutdownTimeout <= 0 {
		fmt.Fprintln(os.Stderr, "c10k serve: --workers, --keepalive-timeout and --shutdown-timeout must be positive, --backlog not negative")
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
		if err != nil {
			fmt.Fprintf(os.Stderr, "c10k: [emerg] %v\nc10k: configuration file %s test failed\n", err, *file)
			return 1
		}
		fmt.Fprintf(os.Stderr, "c10k: the configuration file %s syntax is ok\nc10k: configuration file %s test is successful\n", *file, *file)
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "c10k: [emerg] %v\n", err)
		return 1
	}

	var logw io.Writer = os.Stderr
	if *errorLog != "" {
		f, err := os.OpenFile(*errorLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "c10k: [emerg] open error log: %v\n", err)
			return 1
		}
		defer f.Close()
		logw = f
	}
	o.ErrorLog = logw
	e, err := engine.New(cfg, engine.Options{
		ErrorLog:         thread.ErrorLogFunc(logw),
		KeepaliveTimeout: o.KeepAliveTimeout,
		Now:              time.Now,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "c10k: [emerg] %v\n", err)
		return 1
	}
	srv, err := thread.New(e, o)
	if err == nil {
		err = srv.Listen()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "c10k: [emerg] %v\n", err)
		return 1
	}
	if err := srv.Serve(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "c10k: [emerg] %v\n", err)
		return 1
	}
	return 0
}
