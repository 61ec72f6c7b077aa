package nethttp_test

import (
	"testing"

	"github.com/c10k/c10k/servers/servertest"
)

// TestTLS runs the shared TLS termination cases against the net/http
// baseline (it does not run the whole conformance suite).
func TestTLS(t *testing.T) {
	servertest.RunTLS(t, startCore)
}
