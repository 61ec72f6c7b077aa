package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/c10k/c10k/loadgen/result"
	"github.com/c10k/c10k/scenarios/runner"
)

// TestAttackCutShort interrupts c10k attack (this test binary running
// main) mid-run with SIGINT, SIGTERM or SIGKILL, in the open and the
// closed model, and checks that its --output is readable and that c10k
// report says the run was cut short.
func TestAttackCutShort(t *testing.T) {
	url := serve(t)
	cases := []struct {
		name  string
		sig   syscall.Signal
		model []string
	}{
		{"open-SIGINT", syscall.SIGINT, []string{"--rate", "200"}},
		{"open-SIGTERM", syscall.SIGTERM, []string{"--rate", "200"}},
		{"open-SIGKILL", syscall.SIGKILL, []string{"--rate", "200"}},
		{"closed-SIGINT", syscall.SIGINT, []string{"--connections", "2"}},
		{"closed-SIGKILL", syscall.SIGKILL, []string{"--connections", "2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "run.bin")
			args := append([]string{"attack", "--duration", "60s", "--no-progress", "--output", out}, tc.model...)
			cmd := exec.Command(os.Args[0], append(args, url)...)
			cmd.Env = append(os.Environ(), runMainEnv+"=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-done
			})
			// Mid-run: once a batch (or the in-progress summary) counts
			// some requests.
			end := time.Now().Add(20 * time.Second)
			for {
				if s, err := result.ReadFile(out); err == nil && s.Requests > 0 {
					break
				}
				if time.Now().After(end) {
					t.Fatalf("no request reached %s within 20s; stderr:\n%s", out, stderr.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			cmd.Process.Signal(tc.sig)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("c10k attack still running 20s after %v", tc.sig)
			}
			if code := cmd.ProcessState.ExitCode(); tc.sig != syscall.SIGKILL && code != 130 {
				t.Errorf("exit code %d after %v, want 130; stderr:\n%s", code, tc.sig, stderr.String())
			}

			s, err := result.ReadFile(out)
			if err != nil {
				t.Fatalf("reading the output after %v: %v", tc.sig, err)
			}
			if !s.Interrupted || s.Valid || s.Requests == 0 {
				t.Errorf("after %v: interrupted %v, valid %v, %d requests; want interrupted, invalid, some requests", tc.sig, s.Interrupted, s.Valid, s.Requests)
			}
			var rout, rerr bytes.Buffer
			if code := report([]string{out}, &rout, &rerr); code != 0 {
				t.Fatalf("c10k report exit %d: %s", code, rerr.String())
			}
			if !strings.Contains(rerr.String(), "cut short") {
				t.Errorf("c10k report does not say the run was cut short; stderr:\n%s", rerr.String())
			}
			if tc.sig == syscall.SIGKILL && !strings.Contains(rerr.String(), "killed") {
				t.Errorf("c10k report does not say the generator was killed; stderr:\n%s", rerr.String())
			}
		})
	}
}

// TestReportCutShortBench runs c10k report on bench directories a
// killed bench left: with the steps it finished, and with none.
func TestReportCutShortBench(t *testing.T) {
	meta := runner.Meta{ID: "t", Started: time.Now().UTC(), Options: runner.MetaOpts{
		Scenarios: []string{"static-1k", "c10k-idle", "keepalive-off"},
		Targets:   []runner.Target{{Name: "event"}, {Name: "thread"}},
	}}
	cases := []struct {
		name  string
		steps bool
		code  int
		want  []string
	}{
		{"some-steps", true, 0, []string{"cut short (killed", "missing: c10k-idle on thread, keepalive-off on event, keepalive-off on thread"}},
		{"no-step", false, 1, []string{"before any step finished", "static-1k on event"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			os.MkdirAll(dir, 0o755)
			if tc.steps {
				benchDir(t, dir, 1, 1, 1, 1)
			}
			b, _ := json.Marshal(meta)
			if err := os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			if code := report([]string{dir}, &out, &errb); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, errb.String())
				}
			}
		})
	}
}
