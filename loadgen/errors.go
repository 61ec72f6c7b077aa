package loadgen

import "errors"

var (
	// ErrPreflight wraps every failed preflight check: a limit of this
	// machine cannot hold the connections asked for. The message names
	// the limit, its value and the fix.
	ErrPreflight = errors.New("preflight")

	// ErrTimeout is a connection or request that did not finish within
	// its timeout.
	ErrTimeout = errors.New("timed out")

	// ErrTLS wraps a TLS preflight failure: the one handshake tried
	// before the run could not be done (an untrusted or wrong
	// certificate, no common version, a port that does not speak TLS).
	// The message says what to change.
	ErrTLS = errors.New("TLS preflight")
)
