package cgi_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/cgi"
	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/servertest"
)

// TestMain makes the test binary the core's c10k child when the core
// starts it (os.Executable is this binary under go test).
func TestMain(m *testing.M) {
	if cgi.IsChild() {
		os.Exit(cgi.ChildMain())
	}
	code := func() int {
		if raceEnabled && !servertest.IsChild() {
			dir, err := os.MkdirTemp("", "c10k-cgi-child")
			if err != nil {
				return 1
			}
			defer os.RemoveAll(dir)
			bin := filepath.Join(dir, "c10k")
			cmd := exec.Command("go", "build", "-o", bin, "github.com/c10k/c10k/cmd/c10k")
			cmd.Stderr = os.Stderr
			if cmd.Run() == nil {
				childPath = bin
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// childPath is the c10k binary the core runs per request: "" for this
// test binary (TestMain dispatches), a plain build under -race.
var childPath string

// TestConformance runs the shared conformance suite, reloads included,
// against the cgi core.
func TestConformance(t *testing.T) {
	servertest.Run(t, func(t *testing.T, confPath string) servertest.Core { return startCGICore(t, confPath) })
}

// startCGI starts the cgi core on the config at confPath and returns its
// address.
func startCGI(t testing.TB, confPath string) string {
	t.Helper()
	return startCGICore(t, confPath).Addr
}

// startCGICore is startCGI for the suite: the core, reloadable.
func startCGICore(t testing.TB, confPath string) servertest.Core {
	t.Helper()
	var opts engine.Options
	s, err := cgi.New(servertest.Engine(t, confPath, opts), cgi.Options{ChildPath: childPath, ShutdownTimeout: 5 * time.Second, Grace: 500 * time.Millisecond, ErrorLog: servertest.LogWriter(t)})
	if err != nil {
		t.Fatalf("cgi.New: %v", err)
	}
	return servertest.ServeCore(t, s, opts)
}

// TestCGI runs the shared cgi_pass cases against the cgi core.
func TestCGI(t *testing.T) {
	servertest.RunCGI(t, func(t *testing.T, confPath string) servertest.Core { return startCGICore(t, confPath) })
}
