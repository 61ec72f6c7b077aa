package proctest

import (
	"os"
	"os/exec"
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
