package thread

import "errors"

var (
	// ErrNoListeners is returned by Serve when neither the config nor the
	// caller provides an address to listen on.
	ErrNoListeners = errors.New("thread: no listeners")

	// ErrServing is returned by Serve, ServeListeners and Listen when the
	// Server is already serving or has served: a Server runs once.
	ErrServing = errors.New("thread: server already started")

	// errTimeout is a send or receive timeout (SO_SNDTIMEO/SO_RCVTIMEO
	// expired, or a connect poll timed out).
	errTimeout = errors.New("timed out")

	// errClosed is a peer that closed the connection (read returned 0).
	errClosed = errors.New("connection closed")

	// errTooLarge is a request body above the plan's MaxBody.
	errTooLarge = errors.New("request body too large")

	// errSpool is a failure to keep a request body in its temp file.
	errSpool = errors.New("request body temp file")
)
