package loadgen

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// fdSlack is the file descriptors a process needs besides its
// connections (stdio, epoll, listeners, the runtime's own).
const fdSlack = 64

// Limits are the machine limits preflight checks.
type Limits struct {
	NoFile    uint64 `json:"nofile"`     // soft RLIMIT_NOFILE after raising it to the hard limit
	NoFileMax uint64 `json:"nofile_max"` // hard RLIMIT_NOFILE
	PortLow   int    `json:"port_low"`   // net.ipv4.ip_local_port_range
	PortHigh  int    `json:"port_high"`
}

// Ports returns the ephemeral ports per (source, destination) pair.
func (l Limits) Ports() int { return l.PortHigh - l.PortLow + 1 }

// Preflight raises the soft RLIMIT_NOFILE to the hard limit, then checks
// that conns connections fit this process's file descriptors and the
// ephemeral ports of sources source addresses (0: the kernel's choice,
// one address) toward one destination. The error, wrapping ErrPreflight,
// names the limit, its value and the fix.
func Preflight(conns, sources int) (Limits, error) {
	var l Limits
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return l, fmt.Errorf("loadgen: %w: getrlimit RLIMIT_NOFILE: %v", ErrPreflight, err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
			return l, fmt.Errorf("loadgen: %w: raise RLIMIT_NOFILE to %d: %v", ErrPreflight, rl.Max, err)
		}
	}
	l.NoFile, l.NoFileMax = rl.Cur, rl.Max
	lo, hi, err := portRange("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return l, fmt.Errorf("loadgen: %w: %v", ErrPreflight, err)
	}
	l.PortLow, l.PortHigh = lo, hi
	return l, l.Check(conns, sources)
}

// Check reports whether conns connections from sources source addresses
// fit l.
func (l Limits) Check(conns, sources int) error {
	if need := uint64(conns) + fdSlack; need > l.NoFile {
		return fmt.Errorf("loadgen: %w: RLIMIT_NOFILE is %d (hard %d) but %d connections need %d file descriptors; "+
			"raise the hard limit (ulimit -Hn %d as root, LimitNOFILE= for a service, nofile in /etc/security/limits.conf) or ask for fewer connections",
			ErrPreflight, l.NoFile, l.NoFileMax, conns, need, need)
	}
	if sources < 1 {
		sources = 1
	}
	if ports := l.Ports() * sources; conns > ports {
		return fmt.Errorf("loadgen: %w: ip_local_port_range %d-%d gives %d ports per source address, %d source address(es) give %d, fewer than %d connections; "+
			"add source addresses (--source-ips 127.0.0.2-127.0.0.%d for a loopback target) or widen net.ipv4.ip_local_port_range",
			ErrPreflight, l.PortLow, l.PortHigh, l.Ports(), sources, ports, conns, min(254, 1+(conns+l.Ports()-1)/l.Ports()+1))
	}
	return nil
}

// portRange reads an ip_local_port_range file ("32768\t60999").
func portRange(path string) (lo, hi int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("ephemeral port range: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("ephemeral port range %s: malformed %q", path, b)
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo <= 0 || hi < lo {
		return 0, 0, fmt.Errorf("ephemeral port range %s: malformed %q", path, b)
	}
	return lo, hi, nil
}
