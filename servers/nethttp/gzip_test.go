package nethttp_test

import (
	"testing"

	"github.com/c10k/c10k/servers/servertest"
)

// TestGzip runs the conformance suite's gzip cases against the net/http
// core.
func TestGzip(t *testing.T) {
	servertest.RunGzip(t, startCore)
}
