package soak

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/c10k/c10k/scenarios/internal/testexe"
)

// exe is the c10k binary TestMain builds.
var exe string

func TestMain(m *testing.M) { os.Exit(testexe.Main(m, &exe)) }

// soakDuration is how long each core is soaked: $SOAK_DURATION (make
// soak sets it, 2m by default), else a short form for make test.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("SOAK_DURATION")
	if v == "" {
		return 3 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("SOAK_DURATION=%q: want a positive duration such as 2m", v)
	}
	return d
}

// TestSoak soaks every core under mixed load with faults and checks
// that every request got exactly one outcome and that the server's
// descriptors and RSS came back to baseline; it logs the figures.
func TestSoak(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc")
	}
	d := soakDuration(t)
	cores := []struct {
		name  string
		serve []string
	}{
		// 32 workers, not Apache's 400: the idle workers are handed out
		// in FIFO order, so a new connection lands on another thread
		// each time and every thread grows its own buffers; the
		// warm-up must reach the whole pool for RSS to come back to
		// its baseline afterwards.
		{"thread", []string{"--workers", "32"}},
		{"event", nil},
		{"cgi", nil},
		{"nethttp", nil},
	}
	for _, c := range cores {
		core := c.name
		t.Run(core, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
			defer cancel()
			f, err := Run(ctx, Options{Exe: exe, Core: core, Duration: d, Dir: t.TempDir(), Serve: c.serve, Logf: t.Logf})
			if f != nil {
				t.Log("\n" + f.String())
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Sent == 0 || f.Responses == 0 {
				t.Fatalf("no load ran: %d sent, %d responses", f.Sent, f.Responses)
			}
			if err := f.Check(); err != nil {
				t.Error(err)
			}
		})
	}
}
