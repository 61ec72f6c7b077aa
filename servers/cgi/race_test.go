//go:build race

package cgi_test

// raceEnabled: the test binary is race-instrumented, too slow to start
// as a child per request; TestMain builds a plain c10k for the children.
const raceEnabled = true
