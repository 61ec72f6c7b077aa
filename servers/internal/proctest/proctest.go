// Package proctest reads the process table from /proc for tests that
// check what a server leaves behind: zombies, children still running, a
// killed process group, descriptors still open.
package proctest

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Proc is one process as /proc/PID/stat shows it.
type Proc struct {
	PID   int
	PPID  int
	State byte // R, S, D, Z, ...
	Comm  string
}

// Read returns process pid; ok is false when there is no such process.
func Read(pid int) (p Proc, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return p, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 >= len(s) {
		return p, false
	}
	f := strings.Fields(s[end+2:])
	if len(f) < 2 || len(f[0]) == 0 {
		return p, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return p, false
	}
	return Proc{PID: pid, PPID: ppid, State: f[0][0], Comm: s[open+1 : end]}, true
}

// Children lists the processes whose parent is this process. It returns
// an error only when /proc cannot be read.
func Children() ([]Proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	me := os.Getpid()
	var kids []Proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := Read(pid); ok && p.PPID == me {
			kids = append(kids, p)
		}
	}
	return kids, nil
}

// FDs returns what this process's open descriptors point at, by number,
// as /proc/self/fd shows it: a path (" (deleted)" after an unlinked
// file's), "socket:[INODE]", "pipe:[INODE]". The descriptor that read the
// directory is not among them.
func FDs() (map[int]string, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	fds := make(map[int]string, len(ents))
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
			fds[fd] = target
		}
	}
	return fds, nil
}

// OpenFDs counts this process's open descriptors, and among them those
// of deleted files (unlinked temp files); it skips the test when /proc
// is not there.
func OpenFDs(t testing.TB) (all, deleted int) {
	t.Helper()
	fds, err := FDs()
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, target := range fds {
		if strings.HasSuffix(target, "(deleted)") {
			deleted++
		}
	}
	return len(fds), deleted
}

// FDList describes the open descriptors, one "FD -> TARGET" line each in
// descriptor order, for a failure message.
func FDList() string {
	fds, _ := FDs()
	nums := make([]int, 0, len(fds))
	for fd := range fds {
		nums = append(nums, fd)
	}
	slices.Sort(nums)
	var b strings.Builder
	for _, fd := range nums {
		fmt.Fprintf(&b, "%d -> %s\n", fd, fds[fd])
	}
	return b.String()
}
