package cgi

import "errors"

// Errors of New and Listen.
var (
	ErrNoEngine     = errors.New("cgi: no engine")
	ErrNoListeners  = errors.New("cgi: the config has no listen address")
	ErrListening    = errors.New("cgi: already listening")
	ErrNotListening = errors.New("cgi: Serve before Listen")
)
