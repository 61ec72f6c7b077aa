package backend

import "errors"

// ErrInvalidOption is wrapped by every *OptionError returned by New and Run.
var ErrInvalidOption = errors.New("backend: invalid option")

// An OptionError reports a field of Options that has an invalid value.
type OptionError struct {
	Option string // the Options field, such as "ErrorRate"
	Value  string // the rejected value, as text
	Reason string // what a valid value looks like
}

func (e *OptionError) Error() string {
	return "backend: invalid " + e.Option + " " + e.Value + ": " + e.Reason
}

// Unwrap returns ErrInvalidOption.
func (e *OptionError) Unwrap() error { return ErrInvalidOption }
