package plan

import "errors"

// Sentinel errors, wrapped with the input at fault.
var (
	// ErrBadSLO reports an SLO string that does not parse.
	ErrBadSLO = errors.New("bad SLO")
	// ErrNoPassingRate reports a search whose lowest rate already broke
	// the SLO (or whose steps were all invalid).
	ErrNoPassingRate = errors.New("no rate met the SLO")
)
