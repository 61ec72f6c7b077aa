package deploy

import "errors"

// Sentinel errors of the package; test for them with errors.Is.
var (
	// ErrUsage is wrapped by Run for Options that cannot make a deploy
	// (a missing or malformed value): nothing was started or changed.
	// The command exits 2 for it.
	ErrUsage = errors.New("bad deploy options")
	// ErrNoUpstream is wrapped when the config has no upstream of the
	// name given.
	ErrNoUpstream = errors.New("no such upstream")
	// ErrLive is wrapped when the upstream does not tell the live color:
	// it lists both the blue and the green address, or neither.
	ErrLive = errors.New("cannot tell the live color")
	// ErrServer is wrapped when the server to reload cannot be found or
	// signalled: an unreadable pid file, a pid that is not running.
	ErrServer = errors.New("server not reachable")
	// ErrStart is wrapped when the new color's command does not start,
	// exits with a failure, or never answers its health check in time.
	ErrStart = errors.New("new color did not come up")
	// ErrCheck is wrapped when the switched config fails the check
	// (c10k serve -t); the config is rolled back.
	ErrCheck = errors.New("switched config refused")
	// ErrConfirm is wrapped when the check URL does not reach the new
	// color after the reload; the config is rolled back and reloaded.
	ErrConfirm = errors.New("reload not confirmed")
	// ErrStop is wrapped when the old color could not be stopped; the new
	// one is live and stays so.
	ErrStop = errors.New("old color not stopped")
	// ErrChanged is wrapped when the config file changed on disk between
	// reading it and writing the switched version: nothing is written.
	ErrChanged = errors.New("config changed meanwhile")
)
