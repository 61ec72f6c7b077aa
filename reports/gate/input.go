package gate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/c10k/c10k/loadgen/result"
	"github.com/c10k/c10k/reports"
)

// Kinds of a Set.
const (
	KindBench  = "bench"  // a bench run directory
	KindAttack = "attack" // attack result files
)

// A Key names what is compared: one step of one scenario on one core.
// Attack results use Scenario "attack", the model as Core and the URL as
// Step.
type Key struct {
	Scenario string `json:"scenario"`
	Core     string `json:"core"`
	Step     string `json:"step"`
}

// String is the key's name, "scenario/core/step", which --filter matches.
func (k Key) String() string { return k.Scenario + "/" + k.Core + "/" + k.Step }

// A Trial is one measurement of a key.
type Trial struct {
	Values  map[Metric]float64 // the metrics measured
	Invalid string             // why the trial is invalid; "" when it is valid
}

// A Set is one side of a comparison: the trials of every key.
type Set struct {
	Path        string // as given
	Kind        string // KindBench or KindAttack
	Commit      string // of a bench run
	CPU         string // of a bench run
	Interrupted bool   // the bench run was cut short
	Keys        []Key  // in order of first appearance
	Trials      map[Key][]Trial
	// Skipped holds the keys whose every step was skipped, with the
	// step's note.
	Skipped map[Key]string
}

// Load reads one side: a bench run directory, a directory of attack result
// files, one result file, or a comma-separated list of result files.
// Several bench runs of one build make one side too, their steps all
// trials: a comma-separated list of run directories, or a directory whose
// subdirectories are runs (so that rounds of BASE and NEW can alternate).
// Any error wraps ErrInput.
func Load(path string) (*Set, error) {
	if strings.Contains(path, ",") {
		if _, err := os.Stat(path); err != nil {
			return loadList(path, splitList(path))
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, inputErr(path, "", err)
	}
	if !fi.IsDir() {
		if filepath.Base(path) == reports.SummaryFile {
			return loadRuns(path, []string{filepath.Dir(path)})
		}
		return loadFiles(path, []string{path})
	}
	if isRun(path) {
		return loadRuns(path, []string{path})
	}
	files, runs, err := dirEntries(path)
	if err != nil {
		return nil, err
	}
	switch {
	case len(runs) > 0 && len(files) > 0:
		return nil, inputErr(path, "", fmt.Errorf("holds both bench runs (%s) and other files (%s)", filepath.Base(runs[0]), filepath.Base(files[0])))
	case len(runs) > 0:
		return loadRuns(path, runs)
	}
	return loadFiles(path, files)
}

// isRun reports whether dir holds a bench run's summary.json.
func isRun(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, reports.SummaryFile))
	return err == nil && fi.Mode().IsRegular()
}

// loadList reads a comma-separated list: bench runs (directories or
// summary.json files) or result files, not both.
func loadList(path string, items []string) (*Set, error) {
	var runs, files []string
	for _, it := range items {
		fi, err := os.Stat(it)
		switch {
		case err != nil:
			return nil, inputErr(it, "", err)
		case fi.IsDir():
			runs = append(runs, it)
		case filepath.Base(it) == reports.SummaryFile:
			runs = append(runs, filepath.Dir(it))
		default:
			files = append(files, it)
		}
	}
	switch {
	case len(runs) > 0 && len(files) > 0:
		return nil, inputErr(path, "", errors.New("mixes bench runs and result files"))
	case len(runs) > 0:
		return loadRuns(path, runs)
	}
	return loadFiles(path, files)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// dirEntries lists the result files of dir and its subdirectories that
// are bench runs. Result files are every regular file not starting with
// ".", less the FILE.c10k summaries whose FILE is there too
// (result.ReadFile(FILE) reads them).
func dirEntries(dir string) (files, runs []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, inputErr(dir, "", err)
	}
	have := make(map[string]bool)
	for _, e := range entries {
		have[e.Name()] = true
	}
	for _, e := range entries {
		name := e.Name()
		full := filepath.Join(dir, name)
		switch {
		case strings.HasPrefix(name, "."):
		case e.IsDir():
			if isRun(full) {
				runs = append(runs, full)
			}
		case !e.Type().IsRegular():
		default:
			if base, ok := strings.CutSuffix(name, ".c10k"); ok && have[base] {
				continue
			}
			files = append(files, full)
		}
	}
	if len(files) == 0 && len(runs) == 0 {
		return nil, nil, inputErr(dir, "", errors.New("neither a bench run (no summary.json) nor a directory of result files or runs"))
	}
	return files, runs, nil
}

func loadRuns(path string, dirs []string) (*Set, error) {
	runs := make([]reports.Run, 0, len(dirs))
	for _, dir := range dirs {
		run, err := reports.ReadRun(dir)
		if err != nil {
			file := filepath.Join(dir, reports.SummaryFile)
			return nil, inputErr(file, describeRunErr(file, err), err)
		}
		runs = append(runs, run)
	}
	return FromRuns(path, runs...), nil
}

// describeRunErr says in a few words what is wrong with a summary.json.
func describeRunErr(file string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated: " + leaf(err).Error()
	case errors.Is(err, reports.ErrNotRun):
		return "not a c10k bench summary: " + leaf(err).Error()
	case errors.Is(err, reports.ErrNoSteps):
		return "a bench summary without steps"
	}
	msg := strings.TrimPrefix(err.Error(), "reports: ")
	msg = strings.TrimPrefix(msg, file+": ")
	return strings.TrimPrefix(msg, "reports: ")
}

// leaf returns the innermost error of err's chain, following the last
// branch of a joined error.
func leaf(err error) error {
	for {
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			errs := u.Unwrap()
			if len(errs) == 0 {
				return err
			}
			err = errs[len(errs)-1]
		case interface{ Unwrap() error }:
			next := u.Unwrap()
			if next == nil {
				return err
			}
			err = next
		default:
			return err
		}
	}
}

func loadFiles(path string, files []string) (*Set, error) {
	sums := make([]*result.Summary, 0, len(files))
	for _, f := range files {
		s, err := result.ReadFile(f)
		if err != nil {
			// result.ReadFile names the file already.
			return nil, inputErr("", "", err)
		}
		sums = append(sums, s)
	}
	return FromSummaries(path, sums), nil
}

// An inputError is an unreadable BASE or NEW.
type inputError struct {
	path, what string
	err        error
}

func inputErr(path, what string, err error) error {
	return &inputError{path: path, what: what, err: err}
}

func (e *inputError) Error() string {
	what := e.what
	if what == "" {
		what = e.err.Error()
	}
	if e.path == "" {
		return what
	}
	return e.path + ": " + what
}

func (e *inputError) Unwrap() []error { return []error{ErrInput, e.err} }

func newSet(path, kind string) *Set {
	return &Set{Path: path, Kind: kind, Trials: make(map[Key][]Trial), Skipped: make(map[Key]string)}
}

func (s *Set) add(k Key, t Trial) {
	if _, ok := s.Trials[k]; !ok {
		if _, skipped := s.Skipped[k]; !skipped {
			s.Keys = append(s.Keys, k)
		}
	}
	delete(s.Skipped, k)
	s.Trials[k] = append(s.Trials[k], t)
}

func (s *Set) skip(k Key, note string) {
	if _, ok := s.Trials[k]; ok {
		return
	}
	if _, ok := s.Skipped[k]; !ok {
		s.Keys = append(s.Keys, k)
	}
	if note == "" {
		note = "skipped"
	}
	s.Skipped[k] = note
}

// FromRuns makes a Set of bench runs of one build: every step not skipped
// is one trial of its scenario/core/step key.
func FromRuns(path string, runs ...reports.Run) *Set {
	s := newSet(path, KindBench)
	var commits, cpus []string
	for _, run := range runs {
		if run.Commit != "" && !slices.Contains(commits, run.Commit) {
			commits = append(commits, run.Commit)
		}
		if run.CPU != "" && !slices.Contains(cpus, run.CPU) {
			cpus = append(cpus, run.CPU)
		}
		s.Interrupted = s.Interrupted || run.Interrupted
		s.addSteps(run.Steps)
	}
	s.Commit, s.CPU = strings.Join(commits, "+"), strings.Join(cpus, " + ")
	return s
}

func (s *Set) addSteps(steps []reports.Step) {
	for _, st := range steps {
		k := Key{Scenario: st.Scenario, Core: st.Core, Step: reports.StepName(st)}
		if st.Skipped {
			s.skip(k, st.Note)
			continue
		}
		t := Trial{Values: make(map[Metric]float64)}
		if !st.Valid {
			t.Invalid = st.Invalid
			if t.Invalid == "" {
				t.Invalid = "marked invalid"
			}
		}
		set := func(m Metric, v float64) {
			if v != 0 || !m.zeroIsMissing() {
				t.Values[m] = v
			}
		}
		set(P50, st.Latency.P50)
		set(P90, st.Latency.P90)
		set(P99, st.Latency.P99)
		set(P999, st.Latency.P999)
		set(Throughput, st.Throughput)
		if total := max(float64(st.Requests), float64(st.Errors)); total > 0 {
			set(Errors, float64(st.Errors)/total)
		} else {
			set(Errors, 0)
		}
		set(ProbeP99, st.ProbeP99)
		set(RSS, float64(st.RSSBytes))
		set(CPUPerReq, st.CPUPerReqUS)
		s.add(k, t)
	}
}

// FromSummaries makes a Set of attack results: every summary is one trial
// of the key attack/MODEL/URL.
func FromSummaries(path string, sums []*result.Summary) *Set {
	s := newSet(path, KindAttack)
	for _, r := range sums {
		model := r.Model
		if model == "" {
			model = result.ModelOpen
		}
		if model == result.ModelOpen && r.RateTarget > 0 {
			model += " rate=" + strconv.FormatFloat(r.RateTarget, 'f', -1, 64)
		}
		k := Key{Scenario: "attack", Core: model, Step: r.URL}
		t := Trial{Values: make(map[Metric]float64)}
		if !r.Valid {
			t.Invalid = r.InvalidReason
			if t.Invalid == "" {
				t.Invalid = "marked invalid"
			}
		}
		set := func(m Metric, v float64) {
			if v != 0 || !m.zeroIsMissing() {
				t.Values[m] = v
			}
		}
		if r.Requests > 0 {
			set(P50, r.Latency.P50)
			set(P90, r.Latency.P90)
			set(P99, r.Latency.P99)
			set(P999, r.Latency.P999)
			set(Throughput, r.ThroughputRPS)
			set(Errors, 1-r.SuccessRatio)
		}
		switch {
		case r.Probe != nil:
			set(ProbeP99, r.Probe.P99)
		case r.ProbeLatency != nil:
			set(ProbeP99, r.ProbeLatency.P99)
		}
		set(RSS, float64(r.RSSHeld))
		s.add(k, t)
	}
	sort.SliceStable(s.Keys, func(i, j int) bool { return s.Keys[i].String() < s.Keys[j].String() })
	return s
}
