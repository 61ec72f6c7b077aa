package gate

import "errors"

// Sentinel errors. Functions wrap them with the input, flag or value at
// fault.
var (
	// ErrInput reports a BASE or NEW that cannot be read: missing,
	// foreign, truncated or corrupt.
	ErrInput = errors.New("unreadable input")
	// ErrThreshold reports a bad --max or --regress specification.
	ErrThreshold = errors.New("bad threshold")
	// ErrOption reports a bad option value (alpha, trials, format).
	ErrOption = errors.New("bad option")
)
