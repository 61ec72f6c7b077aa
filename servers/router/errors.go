package router

import "errors"

var (
	// ErrListen is returned by New for a listen address it cannot use.
	ErrListen = errors.New("router: invalid listen address")
	// ErrNoHTTP is returned by New for a config without an http block.
	ErrNoHTTP = errors.New("router: no http block")
)
