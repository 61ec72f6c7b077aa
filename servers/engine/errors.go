package engine

import "errors"

var (
	// ErrNoHTTP is returned by New for a config without an http block.
	ErrNoHTTP = errors.New("engine: no http block")
	// ErrUpstream is returned by New for a proxy_pass it cannot resolve.
	ErrUpstream = errors.New("engine: unknown upstream")
	// ErrNoCertificate is returned by New for an ssl listener whose
	// default server has no ssl_certificate (config.Load refuses such a
	// config already; a hand-made one may have it).
	ErrNoCertificate = errors.New(`no "ssl_certificate" is defined`)

	// errNoPEMCertificate is an ssl_certificate file without a PEM
	// CERTIFICATE block.
	errNoPEMCertificate = errors.New("no PEM CERTIFICATE block")
)
