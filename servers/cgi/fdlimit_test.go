package cgi_test

import (
	"testing"

	"github.com/c10k/c10k/servers/servertest"
)

// TestChildCore is the cgi core as a child process of
// servertest.StartChild; it skips in a normal run.
func TestChildCore(t *testing.T) {
	servertest.ServeChild(t, func(t *testing.T, confPath string) servertest.Core { return startCGICore(t, confPath) })
}

// TestFDLimit runs the out-of-descriptors cases against the cgi core.
// Every answer of this core is a child process, whose pipes need
// descriptors: while they are exhausted it cannot answer at all.
func TestFDLimit(t *testing.T) { servertest.RunFDLimit(t, "TestChildCore", false) }
