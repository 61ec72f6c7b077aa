package nethttp_test

import (
	"testing"

	"github.com/c10k/c10k/servers/servertest"
)

// TestChildCore is the net/http core as a child process of
// servertest.StartChild; it skips in a normal run.
func TestChildCore(t *testing.T) { servertest.ServeChild(t, startCore) }

// TestFDLimit runs the out-of-descriptors cases against the net/http
// core.
func TestFDLimit(t *testing.T) { servertest.RunFDLimit(t, "TestChildCore", true) }
