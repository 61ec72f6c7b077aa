package thread

import (
	"fmt"
	"io"
	"time"
)

// Defaults of Options, those of Apache 2.4's worker MPM.
const (
	DefaultWorkers          = 400             // MaxRequestWorkers
	DefaultBacklog          = 511             // ListenBacklog
	DefaultKeepAliveTimeout = 5 * time.Second // KeepAliveTimeout
	DefaultShutdownTimeout  = 10 * time.Second
	DefaultProxyBuffer      = 1 << 20
)

// Options are the knobs of the thread core; the zero value gives Apache's
// defaults.
type Options struct {
	// Workers is the number of worker threads, the most connections
	// served at once (Apache MaxRequestWorkers). Default 400.
	Workers int

	// Backlog, when positive, overrides the listen backlog of every
	// listener; zero uses the listen directive's backlog= (511 by default,
	// like Apache's ListenBacklog).
	Backlog int

	// KeepAliveTimeout is the idle time allowed between requests when the
	// config does not set keepalive_timeout. Give the same value to
	// engine.Options.KeepaliveTimeout; the core uses it only when a plan
	// carries no timeout. Default 5s.
	KeepAliveTimeout time.Duration

	// ShutdownTimeout bounds how long a graceful stop waits for in-flight
	// requests before their connections are shut down. Default 10s.
	ShutdownTimeout time.Duration

	// ProxyBuffer is how much of an upstream response a worker reads into
	// memory with proxy_buffering on; the rest goes to a temp file, up to
	// coreio.MaxTempFile (nginx's proxy_max_temp_file_size, 1 GiB),
	// before the worker falls back to streaming. Default 1 MiB.
	ProxyBuffer int

	// Procs, when positive, is the Go runtime's GOMAXPROCS while the
	// Server serves: Serve and ServeListeners set it and restore the
	// previous value when they return. Zero leaves GOMAXPROCS alone
	// (what tests and embedding programs want: it is process-wide, so
	// at most one Server of a process should set it). c10k serve passes
	// Workers by default: see the package documentation for why.
	Procs int

	// ErrorLog receives nginx-style error-log lines; nil discards them.
	ErrorLog io.Writer
}

// Validate reports options New would refuse: a negative value, or more
// Workers than the system lets one process start threads for (the
// tightest of kernel.threads-max, kernel.pid_max and RLIMIT_NPROC, less
// the threads already running and a reserve for the Go runtime). A
// Backlog above net.core.somaxconn is allowed: the kernel caps it (see
// Somaxconn).
func (o Options) Validate() error {
	for _, f := range []struct {
		name string
		bad  bool
		val  any
	}{
		{"workers", o.Workers < 0, o.Workers},
		{"backlog", o.Backlog < 0, o.Backlog},
		{"keep-alive timeout", o.KeepAliveTimeout < 0, o.KeepAliveTimeout},
		{"shutdown timeout", o.ShutdownTimeout < 0, o.ShutdownTimeout},
		{"proxy buffer", o.ProxyBuffer < 0, o.ProxyBuffer},
		{"procs", o.Procs < 0, o.Procs},
	} {
		if f.bad {
			return fmt.Errorf("thread: %s %v: must not be negative", f.name, f.val)
		}
	}
	n := o.withDefaults().Workers
	if max, why := maxWorkers(); n > max {
		return fmt.Errorf("thread: %d workers: more than the %d worker threads this system allows (%s)", n, max, why)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.KeepAliveTimeout <= 0 {
		o.KeepAliveTimeout = DefaultKeepAliveTimeout
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.ProxyBuffer <= 0 {
		o.ProxyBuffer = DefaultProxyBuffer
	}
	return o
}
