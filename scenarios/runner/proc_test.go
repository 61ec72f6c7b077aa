package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/loadgen/result"
	"github.com/c10k/c10k/reports"
	"github.com/c10k/c10k/scenarios"
	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	// Fields 3..24 after the comm; utime 14, stime 15, cutime 16,
	// cstime 17, num_threads 20, starttime 22, rss 24 (pages).
	tail := " S 1 7 7 0 -1 4194560 100 0 0 0 11 22 33 44 20 0 5 0 777 1000 9 18446744073709551615"
	for _, tc := range []struct {
		name, text, comm string
		ok               bool
	}{
		{"plain", "42 (c10k)" + tail, "c10k", true},
		{"spaces and parens", "42 (a) (b c)" + tail, "a) (b c", true},
		{"truncated", "42 (c10k) S 1 7", "", false},
		{"no comm", "42 c10k S", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := parseStat(42, []byte(tc.text))
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			want := procStat{PID: 42, PPID: 1, PGID: 7, State: 'S', Comm: tc.comm, UTime: 11, STime: 22, CUTime: 33, CSTime: 44,
				Threads: 5, Start: 777, RSS: 9 * pageSize}
			if p != want {
				t.Errorf("parseStat = %+v, want %+v", p, want)
			}
			if p.cpuTicks() != 110 {
				t.Errorf("cpuTicks = %d, want 110", p.cpuTicks())
			}
		})
	}
	self, ok := readStat(os.Getpid())
	if !ok || self.PPID != os.Getppid() || self.Threads < 1 || self.RSS <= 0 {
		t.Errorf("readStat(self) = %+v, %v", self, ok)
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"c=100":              "c=100",
		"keepalive=off c=50": "keepalive=off_c=50",
		"a/b":                "a_b",
		".hidden":            "step.hidden",
		"":                   "step",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTimeline(t *testing.T) {
	w := result.TimelineBucket.Seconds()
	s := &result.Summary{DurationS: 2*w + w/2 + w/10, Timeline: []result.TimeBucket{
		{T: 0, OK: 10, Errors: 0},
		{T: w, OK: 5, Errors: 5},
		{T: 2 * w, OK: 6, Errors: 0},     // cut by the end: half a bucket
		{T: 3 * w, OK: 1000, Errors: 10}, // a sliver past the end: dropped
	}}
	got := timeline(s)
	want := []reports.TimePoint{
		{Seconds: 0, RPS: 10 / w, Errors: 0},
		{Seconds: w, RPS: 5 / w, Errors: 5 / w},
		{Seconds: 2 * w, RPS: 6 / (w/2 + w/10), Errors: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("timeline = %v, want %v", got, want)
	}
	for i := range want {
		if d := got[i].RPS - want[i].RPS; got[i].Seconds != want[i].Seconds || d > 1e-9 || d < -1e-9 || got[i].Errors != want[i].Errors {
			t.Errorf("point %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if timeline(&result.Summary{}) != nil {
		t.Error("an empty timeline gives points")
	}
}

func TestPlanPinning(t *testing.T) {
	p := planPinning(-1, -1)
	if p.Server != -1 || p.Client != -1 || len(p.Notes) == 0 {
		t.Errorf("planPinning(-1, -1) = %+v", p)
	}
	p = planPinning(1000, 0)
	if p.Server != -1 || !strings.Contains(strings.Join(p.Notes, "\n"), "CPU 1000") {
		t.Errorf("planPinning(1000, 0) = %+v: want the server unpinned with a note", p)
	}
}

// TestStartOnAndKill starts a shell with two children pinned to CPU 0,
// reads the tree from /proc and kills it whole.
func TestStartOnAndKill(t *testing.T) {
	dir := t.TempDir()
	ps := newProcSet()
	p, err := ps.start("tree", []string{"/bin/sh", "-c", "sleep 30 & sleep 30 & wait"}, dir, filepath.Join(dir, "log"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.killAll()
	var tree []int
	for range 100 { // the shell forks its children at once; allow 2 s
		if tree = treeOf(p.pid, allProcs()); len(tree) == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(tree) != 3 {
		t.Fatalf("tree of %d = %v, want the shell and two sleeps", p.pid, tree)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(tree[1], &set); err != nil || set.Count() != 1 || !set.IsSet(0) {
		t.Errorf("child %d affinity: %d CPUs, CPU 0 %v (%v); want CPU 0 only, inherited", tree[1], set.Count(), set.IsSet(0), err)
	}
	if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() == 1 && !set.IsSet(0) {
		t.Errorf("this thread's affinity changed: %v", err)
	}

	smp := newSampler(func() int { return p.pid }, (&scenarios.Scenario{}).Metrics(), Sample{}, nil)
	smp.sample(false)
	if res := smp.result(); res.Processes != 3 || res.Threads < 3 || res.RSSBytes <= 0 || res.FDs <= 0 {
		t.Errorf("sampler result %+v: want 3 processes", res)
	}

	p.kill()
	if !p.exited() {
		t.Fatal("kill returned before the shell was reaped")
	}
	for _, pid := range tree[1:] {
		for range 100 {
			if st, ok := readStat(pid); !ok || st.State == 'Z' {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if st, ok := readStat(pid); ok && st.State != 'Z' {
			t.Errorf("child %d survived the kill: %+v", pid, st)
		}
	}
	if len(ps.pids()) != 0 {
		t.Errorf("the set still holds %v", ps.pids())
	}
}

func TestPinSelf(t *testing.T) {
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Fatal(err)
	}
	restore, err := pinSelf(0)
	if err != nil {
		t.Fatal(err)
	}
	var during unix.CPUSet
	unix.SchedGetaffinity(0, &during)
	restore()
	var after unix.CPUSet
	unix.SchedGetaffinity(0, &after)
	if during.Count() != 1 || !during.IsSet(0) {
		t.Errorf("pinned: %d CPUs, want CPU 0", during.Count())
	}
	if after != before {
		t.Errorf("after restore: %d CPUs, before %d", after.Count(), before.Count())
	}
}
