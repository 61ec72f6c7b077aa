// Package proctest reads the process table from /proc for tests that
// check what child processes a server leaves behind: zombies, children
// still running, a killed process group.
package proctest

import (
	"os"
	"strconv"
	"strings"
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
