package nethttp

import "errors"

var (
	// ErrNoListeners is returned by Listen and Serve when the config has
	// no address to listen on.
	ErrNoListeners = errors.New("nethttp: no listeners")

	// ErrServing is returned by Listen and Serve when the Server is
	// already serving or has served: a Server runs once.
	ErrServing = errors.New("nethttp: server already started")
)
