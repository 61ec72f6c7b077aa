//go:build race

package event_test

// raceEnabled: the test binary is race-instrumented, which multiplies
// its memory; TestMaximalHeadsMemory's bound is for a plain build.
const raceEnabled = true
