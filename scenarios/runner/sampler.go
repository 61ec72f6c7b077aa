package runner

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/c10k/c10k/scenarios"
)

// A Sample is one /proc reading of the server's process tree during a
// step's measured part: one line of samples.jsonl. Metrics the scenario
// does not sample are left out.
type Sample struct {
	Scenario string  `json:"scenario"`
	Target   string  `json:"target"`
	Step     string  `json:"step"`
	Trial    int     `json:"trial"`
	T        float64 `json:"t"`   // seconds since the measured part began
	PID      int     `json:"pid"` // the tree's root: the server's main process
	// Processes in the tree: the root and every descendant (workers,
	// CGI children, Apache's children); 0 when the server is gone.
	Processes int     `json:"processes"`
	Threads   int     `json:"threads,omitempty"`
	RSSBytes  int64   `json:"rss_bytes,omitempty"` // VmRSS summed over the tree
	CPU       float64 `json:"cpu_s,omitempty"`     // user+system seconds since the measured part began
	FDs       int     `json:"fds,omitempty"`       // open file descriptors summed over the tree
	// CtxSwitches are the voluntary and involuntary context switches of
	// every thread of the tree since the measured part began; left out
	// of samples that did not read them (a tree of many threads is read
	// once a second).
	CtxSwitches int64 `json:"ctx_switches,omitempty"`
}

// ctxEveryThreads is the most threads whose context switches are read on
// every sample.
const ctxEveryThreads = 64

// sampler reads a process tree from /proc: on a timer while a step runs,
// and on demand (before a server is replaced, at the end). The tree's
// root may change during the step (a restarted server): CPU is then
// counted per root and added up, context switches per thread.
type sampler struct {
	root  func() int // the current root pid; 0 when none
	want  map[string]bool
	label Sample
	out   io.Writer // samples.jsonl; nil: not written
	start time.Time

	mu sync.Mutex
	// CPU, in ticks: what the roots before the current one used
	// (carry), the current root's tree at its first sample (base) and
	// now (last).
	curRoot                   int
	cpuCarry, cpuBase, cpuNow uint64
	haveBase                  bool
	// Context switches by thread id: at the first sample (base; threads
	// born later start from 0) and at the last.
	ctxBase, ctxLast map[int]int64
	ctxCarry         int64
	ctxAt            time.Time // when they were last read
	sampled          bool
	peakRSS          int64
	last             Sample // the last sample
	lastLoad         Sample // the last sample taken during the load
	nLoad            int    // samples taken during the load
	n                int
	werr             error
}

func newSampler(root func() int, metrics []string, label Sample, out io.Writer) *sampler {
	want := make(map[string]bool)
	for _, m := range metrics {
		want[m] = true
	}
	return &sampler{root: root, want: want, label: label, out: out, start: time.Now(),
		ctxBase: make(map[int]int64), ctxLast: make(map[int]int64)}
}

// run samples every interval until ctx ends.
func (s *sampler) run(ctx context.Context, interval time.Duration) {
	s.sample(false)
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			s.sample(false)
		}
	}
}

// sample reads the tree once and writes the sample. A final sample,
// taken after the load stopped, counts CPU and context switches but does
// not replace the gauges (RSS, threads, fds) read under load.
func (s *sampler) sample(final bool) {
	root := s.root()
	procs := allProcs()
	tree := treeOf(root, procs)

	s.mu.Lock()
	defer s.mu.Unlock()
	smp := s.label
	smp.T = time.Since(s.start).Seconds()
	smp.PID = root
	if root != s.curRoot {
		if s.haveBase {
			s.cpuCarry += s.cpuNow - s.cpuBase
		}
		s.curRoot, s.haveBase = root, false
	}
	if len(tree) > 0 {
		var ticks uint64
		var threads, fds int
		var rss int64
		for _, pid := range tree {
			p := procs[pid]
			ticks += p.cpuTicks()
			threads += p.Threads
			rss += p.RSS
			if s.want[scenarios.MetricFDs] {
				fds += countFDs(pid)
			}
		}
		if !s.haveBase {
			s.cpuBase, s.haveBase = ticks, true
		}
		// A tree member reaped by someone outside the tree takes its
		// CPU along; never count backwards.
		s.cpuNow = max(ticks, s.cpuBase)
		smp.Processes, smp.Threads, smp.FDs = len(tree), threads, fds
		if s.want[scenarios.MetricRSS] {
			smp.RSSBytes = rss
		}
		s.peakRSS = max(s.peakRSS, rss)
		// Context switches are counted per thread (a file each): with
		// many threads (the thread core's hundreds) they are read once a
		// second, and at the first and last samples, not on every tick,
		// to spare the generator's CPU. The delta over the step is exact
		// for threads that live through it.
		readCtx := s.want[scenarios.MetricCtxSw] &&
			(!s.sampled || final || threads <= ctxEveryThreads || time.Since(s.ctxAt) >= time.Second)
		if readCtx {
			s.ctxAt = time.Now()
			now := make(map[int]int64)
			for _, pid := range tree {
				ctxSwitches(pid, now)
			}
			for tid, v := range now {
				if !s.sampled {
					s.ctxBase[tid] = v
				} else if last, ok := s.ctxLast[tid]; ok && v < last {
					// The thread id was reused by a new thread.
					s.ctxCarry += last - s.ctxBase[tid]
					s.ctxBase[tid] = 0
				}
				s.ctxLast[tid] = v
			}
			smp.CtxSwitches = s.ctxLocked()
		}
		s.sampled = true
	}
	smp.CPU = s.cpuTicksLocked() / userHZ
	if !s.want[scenarios.MetricCPU] {
		smp.CPU = 0
	}
	if !s.want[scenarios.MetricThreads] {
		smp.Threads = 0
	}
	s.last = smp
	if !final {
		s.lastLoad = smp
		s.nLoad++
	}
	s.n++
	if s.out != nil && s.werr == nil {
		b, err := json.Marshal(smp)
		if err == nil {
			_, err = s.out.Write(append(b, '\n'))
		}
		s.werr = err
	}
}

func (s *sampler) cpuTicksLocked() float64 {
	t := s.cpuCarry
	if s.haveBase {
		t += s.cpuNow - s.cpuBase
	}
	return float64(t)
}

func (s *sampler) ctxLocked() int64 {
	total := s.ctxCarry
	for tid, v := range s.ctxLast {
		total += v - s.ctxBase[tid]
	}
	return max(total, 0)
}

// samplerResult is what a step keeps of its samples.
type samplerResult struct {
	Samples     int
	CPUSeconds  float64 // always measured: it decides validity
	RSSBytes    int64   // at the last sample under load (gauges alike)
	PeakRSS     int64
	Threads     int
	Processes   int
	FDs         int
	CtxSwitches int64
	WriteErr    error
}

func (s *sampler) result() samplerResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.lastLoad
	if s.nLoad == 0 {
		g = s.last
	}
	return samplerResult{
		Samples: s.n, CPUSeconds: s.cpuTicksLocked() / userHZ,
		RSSBytes: g.RSSBytes, PeakRSS: s.peakRSS, Threads: g.Threads,
		Processes: g.Processes, FDs: g.FDs, CtxSwitches: s.ctxLocked(), WriteErr: s.werr,
	}
}

// wants reports whether the scenario samples metric m.
func wants(metrics []string, m string) bool { return slices.Contains(metrics, m) }
