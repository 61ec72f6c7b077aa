package upstream

import "errors"

var (
	// ErrNoPeer is returned by Pick when every peer is down, failed, at
	// max_conns or already tried by the request (nginx: "no live upstreams").
	ErrNoPeer = errors.New("upstream: no live upstreams")

	// ErrNoServers is returned by New for an upstream block without servers.
	ErrNoServers = errors.New("upstream: no servers in upstream")
)
