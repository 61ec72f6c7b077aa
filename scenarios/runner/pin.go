package runner

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinning is where the server and the generator run.
type pinning struct {
	Server, Client int // CPU numbers; -1: not pinned
	Notes          []string
}

// planPinning checks the CPUs asked for against those this process may
// use and falls back, with a note, to no pinning when they do not fit.
func planPinning(server, client int) pinning {
	p := pinning{Server: server, Client: client}
	if server < 0 && client < 0 {
		p.Notes = append(p.Notes, "server and generator not pinned (CPU -1): they share the machine's CPUs")
		return p
	}
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		p.Server, p.Client = -1, -1
		p.Notes = append(p.Notes, fmt.Sprintf("sched_getaffinity: %v: server and generator not pinned", err))
		return p
	}
	n := allowed.Count()
	for _, c := range []struct {
		what string
		cpu  *int
	}{{"server", &p.Server}, {"generator", &p.Client}} {
		if *c.cpu >= 0 && (*c.cpu >= 1024 || !allowed.IsSet(*c.cpu)) {
			p.Notes = append(p.Notes, fmt.Sprintf("CPU %d for the %s is not among the %d CPUs this process may use: %s not pinned",
				*c.cpu, c.what, n, c.what))
			*c.cpu = -1
		}
	}
	switch {
	case n < 2 && (p.Server >= 0 || p.Client >= 0):
		p.Notes = append(p.Notes, fmt.Sprintf("only %d CPU: server and generator cannot be pinned apart; not pinned", n))
		p.Server, p.Client = -1, -1
	case p.Server >= 0 && p.Server == p.Client:
		p.Notes = append(p.Notes, fmt.Sprintf("server and generator pinned to the same CPU %d: they compete for it", p.Server))
	case p.Server >= 0 && p.Client >= 0:
		p.Notes = append(p.Notes, fmt.Sprintf("server (and its children) pinned to CPU %d, generator to CPU %d (sched_setaffinity)", p.Server, p.Client))
	}
	if p.Client >= 0 && n <= 2 {
		p.Notes = append(p.Notes, fmt.Sprintf("backends (c10k backend) run on the generator's CPU %d: the machine has %d CPUs", p.Client, n))
	}
	return p
}

// pinSelf pins every thread of this process to cpu — new threads inherit
// the affinity of the thread creating them — and returns a function that
// gives every thread the CPUs the process had before.
func pinSelf(cpu int) (restore func(), err error) {
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := setAllThreads(&set); err != nil {
		setAllThreads(&old)
		return nil, fmt.Errorf("pin the generator to CPU %d: %w", cpu, err)
	}
	return func() { setAllThreads(&old) }, nil
}

// setAllThreads sets the affinity of every thread in /proc/self/task,
// twice over so that a thread created during the first pass (from a
// thread not yet set) is caught by the second.
func setAllThreads(set *unix.CPUSet) error {
	for range 2 {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("thread %d: %w", tid, err)
			}
		}
	}
	return nil
}
