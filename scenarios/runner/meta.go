package runner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/internal/atomicfile"
)

// Meta is meta.json: where, when and how a run happened.
type Meta struct {
	ID        string    `json:"id"`
	Commit    string    `json:"commit"`
	GoVersion string    `json:"go_version"`
	Kernel    string    `json:"kernel"`
	CPU       string    `json:"cpu"`
	CPUs      int       `json:"cpus"`
	Host      string    `json:"host,omitempty"`
	Limits    MetaLimit `json:"limits"`
	Options   MetaOpts  `json:"options"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended,omitzero"`
	// Interrupted is set when the run was cut short.
	Interrupted bool     `json:"interrupted,omitempty"`
	Notes       []string `json:"notes,omitempty"`
}

// MetaLimit are the machine limits a C10k run depends on.
type MetaLimit struct {
	NoFileSoft uint64 `json:"nofile_soft"` // this process's RLIMIT_NOFILE, after raising it
	NoFileHard uint64 `json:"nofile_hard"`
	PortRange  string `json:"ip_local_port_range"`
	Somaxconn  int    `json:"somaxconn"`
	TCPMaxSyn  int    `json:"tcp_max_syn_backlog,omitempty"`
}

// MetaOpts are the run's options, as flags would say them.
type MetaOpts struct {
	Scenarios []string `json:"scenarios"`
	Targets   []Target `json:"targets"`
	Exe       string   `json:"exe,omitempty"`
	Scale     float64  `json:"scale"`
	Trials    int      `json:"trials"`
	ServerCPU int      `json:"server_cpu"` // as asked
	ClientCPU int      `json:"client_cpu"`
	// PinnedServer and PinnedClient are the CPUs used (-1: not pinned).
	PinnedServer int    `json:"pinned_server_cpu"`
	PinnedClient int    `json:"pinned_client_cpu"`
	Sources      string `json:"source_ips,omitempty"`
}

// collectMeta fills what the machine says.
func collectMeta(id string) Meta {
	m := Meta{ID: id, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Started: time.Now().UTC()}
	m.Commit = commit()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
		m.Host = unix.ByteSliceToString(u.Nodename[:])
	}
	m.CPU = cpuModel()
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		m.Limits.NoFileSoft, m.Limits.NoFileHard = rl.Cur, rl.Max
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		m.Limits.PortRange = strings.Join(strings.Fields(string(b)), "-")
	}
	m.Limits.Somaxconn = sysctlInt("/proc/sys/net/core/somaxconn")
	m.Limits.TCPMaxSyn = sysctlInt("/proc/sys/net/ipv4/tcp_max_syn_backlog")
	return m
}

// commit is the source's commit, "+dirty" when tracked files changed;
// "unknown" outside a git checkout.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		c += "+dirty"
	}
	return c
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func sysctlInt(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// writeJSON writes v to path atomically: a temporary file in the same
// directory, synced, then renamed over path, so a reader (or a run cut
// short) sees the old file or the new one, never half of one.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}
