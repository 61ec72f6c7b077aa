package event

import (
	"io"
	"time"
)

// Defaults of Options.
const (
	DefaultShutdownTimeout = 10 * time.Second
	DefaultProxyBuffer     = 1 << 20
	// DefaultFileThreads is the size of the pool that runs requests
	// whose file lookups would wait for the disk.
	DefaultFileThreads = 4
	// DefaultBacklog is nginx's listen backlog on Linux.
	DefaultBacklog = 511
)

// Options are the knobs of the event core. Keep-alive and
// worker_connections come from the config, as in nginx.
type Options struct {
	// Loops is the number of event loops; 0 takes the config's
	// worker_processes (whose 0, "auto", is one per CPU).
	Loops int

	// ShutdownTimeout bounds how long a graceful stop waits for
	// in-flight requests before their connections are closed. Default 10s.
	ShutdownTimeout time.Duration

	// ProxyBuffer is how much of an upstream response a loop reads into
	// memory with proxy_buffering on before it falls back to streaming.
	// Default 1 MiB.
	ProxyBuffer int

	// FileThreads is the number of threads that run requests whose file
	// lookups are not cached. Default 4.
	FileThreads int

	// ErrorLog receives nginx-style error-log lines; nil discards them.
	ErrorLog io.Writer
}

func (o Options) withDefaults() Options {
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.ProxyBuffer <= 0 {
		o.ProxyBuffer = DefaultProxyBuffer
	}
	if o.FileThreads <= 0 {
		o.FileThreads = DefaultFileThreads
	}
	return o
}
