package proctest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestChildren(t *testing.T) {
	self, ok := Read(os.Getpid())
	if !ok || self.PPID != os.Getppid() || self.Comm == "" {
		t.Fatalf("Read(self) = %+v, %v", self, ok)
	}
	if _, ok := Read(-1); ok {
		t.Error("Read(-1): want no process")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep program:", err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	kids, err := Children()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range kids {
		found = found || (k.PID == cmd.Process.Pid && k.Comm == "sleep")
	}
	if !found {
		t.Errorf("Children() = %+v, want the sleep child %d", kids, cmd.Process.Pid)
	}
}

func TestFDs(t *testing.T) {
	all0, del0 := OpenFDs(t)
	f, err := os.CreateTemp(t.TempDir(), "fd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fds, err := FDs()
	if err != nil {
		t.Fatal(err)
	}
	if fds[int(f.Fd())] != f.Name() {
		t.Errorf("fd %d -> %q, want %q", f.Fd(), fds[int(f.Fd())], f.Name())
	}
	if err := os.Remove(f.Name()); err != nil {
		t.Fatal(err)
	}
	all, del := OpenFDs(t)
	if all != all0+1 || del != del0+1 {
		t.Errorf("OpenFDs = %d, %d; want %d, %d (one more, deleted)", all, del, all0+1, del0+1)
	}
	if !strings.Contains(FDList(), f.Name()+" (deleted)") {
		t.Errorf("FDList lacks the deleted file:\n%s", FDList())
	}
}
