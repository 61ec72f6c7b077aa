package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/c10k/c10k/loadgen/result"
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
