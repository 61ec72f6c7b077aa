package testexe

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main builds github.com/c10k/c10k/cmd/c10k into a temporary directory,
// sets *exe to its path, runs the tests and removes the directory. It
// returns m.Run's exit code, or 1 when the build fails. Call it from
// TestMain: os.Exit(testexe.Main(m, &exe)).
func Main(m *testing.M, exe *string) int {
	dir, err := os.MkdirTemp("", "c10k-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*exe = filepath.Join(dir, "c10k")
	cmd := exec.Command("go", "build", "-o", *exe, "github.com/c10k/c10k/cmd/c10k")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build the c10k binary: %v\n", err)
		return 1
	}
	return m.Run()
}
