package runner

import "errors"

// Sentinel errors of the package; test for them with errors.Is.
var (
	// ErrOptions is wrapped by Run for Options it cannot run: no
	// scenarios, no targets, no directory, an unknown target kind.
	ErrOptions = errors.New("runner: bad options")
	// ErrNotReady is wrapped when a started server or backend does not
	// answer in time or exits while starting.
	ErrNotReady = errors.New("did not become ready")
	// ErrServerDied is wrapped when the server under test exits during a
	// step.
	ErrServerDied = errors.New("server exited during the step")
)
