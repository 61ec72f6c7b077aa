package event

import "errors"

var (
	// ErrNoListeners is returned by Listen and Serve when the config has
	// no address to listen on.
	ErrNoListeners = errors.New("event: no listeners")

	// ErrServing is returned by Serve and Listen when the Server is
	// already serving or has served: a Server runs once.
	ErrServing = errors.New("event: server already started")

	// ErrNilEngine is returned by New without an engine.
	ErrNilEngine = errors.New("event: nil engine")

	// errAgain means a non-blocking socket would block: wait for epoll.
	errAgain = errors.New("resource temporarily unavailable")

	// errNoConnections is an upstream connect refused because the loop
	// holds worker_connections connections already.
	errNoConnections = errors.New("worker_connections are not enough")
)
