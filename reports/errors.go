package reports

import "errors"

// Sentinel errors. Functions wrap them with the step and field at fault.
var (
	// ErrNoSteps reports a run or step list with nothing to render.
	ErrNoSteps = errors.New("reports: no steps")
	// ErrBadValue reports a NaN, infinite or negative measurement.
	ErrBadValue = errors.New("reports: bad value")
	// ErrUnknownFormat reports a Format that WriteTable does not know.
	ErrUnknownFormat = errors.New("reports: unknown table format")
	// ErrNotRun reports a summary file that is not a bench run's.
	ErrNotRun = errors.New("not a c10k bench summary")
)
