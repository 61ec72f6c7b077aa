//go:build !race

package event_test

// raceEnabled: see race_test.go.
const raceEnabled = false
