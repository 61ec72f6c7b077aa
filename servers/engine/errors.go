package engine

import "errors"

var (
	// ErrNoHTTP is returned by New for a config without an http block.
	ErrNoHTTP = errors.New("engine: no http block")
	// ErrUpstream is returned by New for a proxy_pass it cannot resolve.
	ErrUpstream = errors.New("engine: unknown upstream")
)
