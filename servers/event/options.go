package event

import (
	"io"
	"time"

	"github.com/c10k/c10k/servers/internal/coreio"
)

// Defaults of Options.
const (
	DefaultShutdownTimeout = 10 * time.Second
	DefaultProxyBuffer     = 1 << 20
	// DefaultProxyMaxTempFile is nginx's proxy_max_temp_file_size
	// default, 1024m.
	DefaultProxyMaxTempFile = coreio.MaxTempFile
	// DefaultFileThreads is the size of the pool that runs requests
	// whose file lookups would wait for the disk.
	DefaultFileThreads = 4
	// DefaultBacklog is nginx's listen backlog on Linux.
	DefaultBacklog = 511
	// DefaultTLSHandshakes is how many TLS handshakes a loop runs at
	// once, each on a goroutine of its own.
	DefaultTLSHandshakes = 64
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
	// memory with proxy_buffering on before it writes the rest to a temp
	// file (see ProxyMaxTempFile). Default 1 MiB.
	ProxyBuffer int

	// ProxyMaxTempFile is how much more of a buffered upstream response
	// a loop writes to an unlinked temp file once ProxyBuffer is full
	// (nginx's proxy_max_temp_file_size); past it the rest is streamed.
	// 0 takes the default, 1 GiB; a negative value keeps no temp file
	// (nginx's "proxy_max_temp_file_size 0").
	ProxyMaxTempFile int64

	// FileThreads is the number of threads that run requests whose file
	// lookups are not cached. Default 4.
	FileThreads int

	// TLSHandshakes bounds the TLS handshakes a loop runs at once: each
	// runs on a goroutine of its own from the first complete record to
	// the end of the handshake, and more wait in the loop's queue, their
	// first record read. Default 64. See "TLS" in the package
	// documentation.
	TLSHandshakes int

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
	if o.ProxyMaxTempFile == 0 {
		o.ProxyMaxTempFile = DefaultProxyMaxTempFile
	}
	if o.FileThreads <= 0 {
		o.FileThreads = DefaultFileThreads
	}
	if o.TLSHandshakes <= 0 {
		o.TLSHandshakes = DefaultTLSHandshakes
	}
	return o
}
