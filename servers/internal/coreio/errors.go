package coreio

import "errors"

var (
	// ErrTimeout is a send, receive or connect timeout that expired.
	ErrTimeout = errors.New("timed out")

	// ErrClosed is a peer that closed the connection (read returned 0).
	ErrClosed = errors.New("connection closed")

	// ErrTooLarge is a request body above the plan's MaxBody, or a
	// chunk-size line longer than the read buffer.
	ErrTooLarge = errors.New("request body too large")

	// ErrInvalidHead is an upstream response head that cannot be parsed.
	ErrInvalidHead = errors.New("upstream sent invalid header")

	// ErrSpool is a failure to keep a request body in its temp file.
	ErrSpool = errors.New("request body temp file")

	// ErrListenChanged is a reload whose config listens elsewhere, or
	// with other socket options, than the sockets the core has bound.
	ErrListenChanged = errors.New("listen changes need a restart")

	// errGzipDone is a write to a Gzip with no body in progress.
	errGzipDone = errors.New("gzip: no body in progress")
)
