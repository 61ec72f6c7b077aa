package runner

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the CPU times in /proc/PID/stat. The kernel
// reports them in USER_HZ, which is 100 on every Linux architecture Go
// supports (it is part of the ABI, what sysconf(_SC_CLK_TCK) returns),
// whatever the kernel's internal HZ.
const userHZ = 100

// pageSize converts /proc/PID/stat's rss (pages) to bytes.
var pageSize = int64(os.Getpagesize())

// procStat is what /proc/PID/stat says about one process.
type procStat struct {
	PID, PPID, PGID int
	State           byte
	Comm            string
	// CPU in clock ticks (userHZ): the process's own user and system
	// time, and that of the children it waited for (cutime, cstime).
	UTime, STime, CUTime, CSTime uint64
	Threads                      int
	RSS                          int64  // bytes
	Start                        uint64 // start time, ticks since boot: with PID, names one process
}

// cpuTicks is the process's CPU with its reaped children's.
func (p procStat) cpuTicks() uint64 { return p.UTime + p.STime + p.CUTime + p.CSTime }

// readStat reads /proc/PID/stat; ok is false when the process is gone
// or the file cannot be parsed.
func readStat(pid int) (p procStat, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return p, false
	}
	return parseStat(pid, b)
}

// parseStat parses the text of /proc/PID/stat: "pid (comm) state ppid
// pgrp ..."; comm may hold spaces and parentheses, so the fields after it
// are counted from its last ')'.
func parseStat(pid int, b []byte) (p procStat, ok bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 >= len(b) {
		return p, false
	}
	f := strings.Fields(string(b[end+2:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 || len(f[0]) == 0 {
		return p, false
	}
	num := func(n int) uint64 {
		v, err := strconv.ParseUint(f[n-3], 10, 64)
		if err != nil {
			ok = false
		}
		return v
	}
	ok = true
	p = procStat{
		PID: pid, State: f[0][0], Comm: string(b[open+1 : end]),
		PPID: int(num(4)), PGID: int(num(5)),
		UTime: num(14), STime: num(15), CUTime: num(16), CSTime: num(17),
		Threads: int(num(20)), Start: num(22), RSS: int64(num(24)) * pageSize,
	}
	return p, ok
}

// allProcs reads every process's stat.
func allProcs() map[int]procStat {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make(map[int]procStat, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readStat(pid); ok {
			out[pid] = p
		}
	}
	return out
}

// treeOf returns root and its descendants found in procs, root first;
// nil when root is not there.
func treeOf(root int, procs map[int]procStat) []int {
	if _, ok := procs[root]; !ok || root <= 0 {
		return nil
	}
	kids := make(map[int][]int)
	for pid, p := range procs {
		kids[p.PPID] = append(kids[p.PPID], pid)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, kids[out[i]]...)
	}
	return out
}

// descendants returns the living descendants of pid (not pid itself).
func descendants(pid int) []procStat {
	procs := allProcs()
	t := treeOf(pid, procs)
	if len(t) == 0 {
		return nil
	}
	out := make([]procStat, 0, len(t)-1)
	for _, d := range t[1:] {
		out = append(out, procs[d])
	}
	return out
}

// killSame sends SIGKILL to each of procs that is still the same process
// (same pid and start time) and not a zombie: a pid reused since is left
// alone.
func killSame(procs []procStat) {
	for _, p := range procs {
		if now, ok := readStat(p.PID); ok && now.Start == p.Start && now.State != 'Z' {
			unix.Kill(p.PID, unix.SIGKILL)
		}
	}
}

// groupMembers returns the processes in process group pgid.
func groupMembers(pgid int) []int {
	var out []int
	for pid, p := range allProcs() {
		if p.PGID == pgid && p.State != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// countFDs counts the entries of /proc/PID/fd without building their
// names: a server holding 10,000 connections has 10,000 of them, read
// four times a second.
func countFDs(pid int) int {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	buf := make([]byte, 32<<10)
	n := 0
	for {
		m, err := unix.Getdents(fd, buf)
		if err != nil || m <= 0 {
			return n
		}
		for off := 0; off+19 <= m; {
			// struct linux_dirent64: ino u64, off s64, reclen u16,
			// type u8, name.
			reclen := int(buf[off+16]) | int(buf[off+17])<<8
			if reclen <= 0 {
				return n
			}
			name := buf[off+19 : off+reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if string(name) != "." && string(name) != ".." {
				n++
			}
			off += reclen
		}
	}
}

// ctxSwitches returns the voluntary plus involuntary context switches of
// every thread of pid, by thread id. /proc/PID/status counts the main
// thread's only, so each /proc/PID/task/TID/status is read.
func ctxSwitches(pid int, into map[int]int64) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if n, ok := taskSwitches(dir + "/" + e.Name() + "/status"); ok {
			into[tid] = n
		}
	}
}

func taskSwitches(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var total int64
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() && found < 2 {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:")
		if !ok {
			rest, ok = strings.CutPrefix(line, "nonvoluntary_ctxt_switches:")
		}
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
		if err != nil {
			return 0, false
		}
		total += n
		found++
	}
	return total, found == 2
}
