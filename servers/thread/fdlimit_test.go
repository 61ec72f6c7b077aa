package thread_test

import (
	"testing"

	"github.com/c10k/c10k/servers/servertest"
)

// TestChildCore is the thread core as a child process of
// servertest.StartChild; it skips in a normal run.
func TestChildCore(t *testing.T) {
	servertest.ServeChild(t, func(t *testing.T, confPath string) servertest.Core { return startThreadCore(t, confPath) })
}

// TestFDLimit runs the out-of-descriptors cases against the thread core.
func TestFDLimit(t *testing.T) { servertest.RunFDLimit(t, "TestChildCore", true) }
