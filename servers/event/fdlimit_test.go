package event_test

import (
	"testing"

	"github.com/c10k/c10k/servers/event"
	"github.com/c10k/c10k/servers/servertest"
)

// TestChildCore is the event core as a child process of
// servertest.StartChild; it skips in a normal run.
func TestChildCore(t *testing.T) {
	servertest.ServeChild(t, func(t *testing.T, confPath string) servertest.Core {
		return startEvent(t, confPath, event.Options{Loops: 1})
	})
}

// TestFDLimit runs the out-of-descriptors cases against the event core.
func TestFDLimit(t *testing.T) { servertest.RunFDLimit(t, "TestChildCore", true) }
