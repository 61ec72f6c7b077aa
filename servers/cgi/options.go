package cgi

import (
	"io"
	"time"
)

// Options are the knobs of the cgi core; the config says the rest.
type Options struct {
	// MaxChildren bounds the children running at once (c10k children
	// and cgi_pass programs alike); requests beyond wait in FIFO order.
	// Default 256, Apache prefork's MaxRequestWorkers.
	MaxChildren int
	// Grace is the time between SIGTERM and SIGKILL for a child past
	// its timeout or whose client left. Default 2s.
	Grace time.Duration
	// ChildPath is the c10k binary the core runs per request; default
	// os.Executable(). ChildArgs are its arguments after argv[0].
	ChildPath string
	ChildArgs []string
	// ShutdownTimeout bounds how long Serve waits for in-flight
	// requests after its context ends; default 10s.
	ShutdownTimeout time.Duration
	// ErrorLog receives error-log lines; nil discards them.
	ErrorLog io.Writer
	// Backlog is the listen backlog of a listen without backlog=;
	// default DefaultBacklog.
	Backlog int
	// Procs is the GOMAXPROCS Serve raises the process to (it never
	// lowers it). Every child starts with a vfork, and the thread that
	// forks keeps its P until the child has exec'd: the runtime cannot
	// hand it to another thread meanwhile, so with GOMAXPROCS = CPUs a
	// CPU sits idle while connection goroutines wait for a P. Default
	// 2 × runtime.NumCPU(); -1 leaves GOMAXPROCS alone.
	Procs int
}

// DefaultBacklog is nginx's listen backlog on Linux.
const DefaultBacklog = 511
