package nethttp_test

import (
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/nethttp"
	"github.com/c10k/c10k/servers/servertest"
)

// TestReload runs the conformance suite's reload cases against the
// net/http core (the whole suite is not run here: see the package
// findings).
func TestReload(t *testing.T) {
	servertest.RunReload(t, startCore)
}

// TestCGI runs the conformance suite's cgi_pass cases against the
// net/http core.
func TestCGI(t *testing.T) {
	servertest.RunCGI(t, startCore)
}

// TestAccess runs the conformance suite's allow/deny and add_header
// cases against the net/http core.
func TestAccess(t *testing.T) {
	servertest.RunAccess(t, startCore)
}

// TestLogs runs the conformance suite's access-log cases against the
// net/http core.
func TestLogs(t *testing.T) {
	servertest.RunLogs(t, startCore)
}

// TestLimits runs the conformance suite's limit_req and limit_conn
// cases against the net/http core.
func TestLimits(t *testing.T) {
	servertest.RunLimits(t, startCore)
}

func startCore(t *testing.T, confPath string) servertest.Core {
	cfg, err := config.Load(confPath)
	if err != nil {
		t.Fatal(err)
	}
	var opts engine.Options
	s, err := nethttp.New(servertest.Engine(t, confPath, opts), nethttp.Options{
		IdleTimeout:     nethttp.IdleTimeoutOf(cfg),
		ShutdownTimeout: 5 * time.Second,
		ErrorLog:        servertest.LogWriter(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return servertest.ServeCore(t, s, opts)
}

// TestCache runs the conformance suite's proxy_cache cases against the
// net/http core.
func TestCache(t *testing.T) {
	servertest.RunCache(t, startCore)
}

// TestFaults runs the conformance suite's fault cases against the
// net/http core.
func TestFaults(t *testing.T) {
	servertest.RunFaults(t, startCore)
}
