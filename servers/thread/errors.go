package thread

import "errors"

var (
	// ErrNoListeners is returned by Serve when neither the config nor the
	// caller provides an address to listen on.
	ErrNoListeners = errors.New("thread: no listeners")

	// ErrServing is returned by Serve, ServeListeners and Listen when the
	// Server is already serving or has served: a Server runs once.
	ErrServing = errors.New("thread: server already started")

	// ErrNilEngine is returned by New without an engine.
	ErrNilEngine = errors.New("thread: nil engine")

	// errFDTimeout is a timeout of the TLS layer's socket adapter
	// (fdConn): see fdTimeout.
	errFDTimeout error = fdTimeout{}
)
