package config

import "errors"

// ErrNotSupported is wrapped by errors for directives and values that
// nginx knows but c10k does not implement yet.
var ErrNotSupported = errors.New("not supported yet")

// ErrUnknownVariable is wrapped by ParseTemplate errors for a variable
// name c10k does not provide.
var ErrUnknownVariable = errors.New("unknown variable")

// Error is a configuration error at a place in a file.
type Error struct {
	Pos       Pos
	Directive string // the directive concerned; "" for syntax errors
	Msg       string // the message, naming the directive: `unknown directive "foo"`
	Err       error  // the underlying error, if any
}

// Error returns "FILE:LINE: MSG".
func (e *Error) Error() string {
	if e.Pos.File == "" {
		return e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// errValue reports a malformed value; callers turn it into an *Error
// naming the directive.
var errValue = errors.New("invalid value")
