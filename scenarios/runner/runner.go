package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/c10k/c10k/loadgen"
	"github.com/c10k/c10k/reports"
	"github.com/c10k/c10k/scenarios"
	"golang.org/x/sys/unix"
)

// A Target is what a bench runs scenarios against.
type Target struct {
	// Name is the core ("thread", "event", "cgi", "nethttp"), the
	// reference server ("nginx", "apache-event", ...) or, for Kind
	// "url", the name the report shows.
	Name string `json:"name"`
	// Kind is reports.KindCore, reports.KindReference or
	// reports.KindURL.
	Kind string `json:"kind"`
	// URL is a Kind "url" target's base URL, e.g. http://10.0.0.5:8080:
	// a step's path is appended to it.
	URL string `json:"url,omitempty"`
	// PID is a Kind "url" target's server process, sampled from /proc
	// when set (the server must run on this machine).
	PID int `json:"pid,omitempty"`
}

// Options configure Run.
type Options struct {
	Scenarios []*scenarios.Scenario
	Targets   []Target
	// Exe is the c10k binary: started as `Exe serve --core X -c conf`
	// and `Exe backend ...`. Only url targets do without it.
	Exe string
	// Dir is the run directory (results/<run-id>); created.
	Dir string
	// ServerCPU and ClientCPU are the CPUs the server (and its
	// children) and the generator (this process) are pinned to; -1:
	// no pinning.
	ServerCPU, ClientCPU int
	// Scale multiplies warm-ups, step durations and event times; 0: 1.
	Scale float64
	// Trials repeats each step, interleaved across targets; 0: 1.
	Trials int
	// Progress gets a live progress line (redrawn with \r); nil: none.
	Progress io.Writer
	// Log gets one line per finished step and per note; nil: none.
	Log io.Writer
	// URLTLS is the client side of url targets with an https URL: the
	// CA to trust or none (--cacert, --insecure); zero: the system's
	// roots.
	URLTLS loadgen.TLSOptions
	// Sources are the source addresses of steps holding 1,000 or more
	// idle connections; nil: 127.0.0.2-127.0.0.21 toward a loopback
	// target, the kernel's choice otherwise.
	Sources []netip.Addr
}

// Timing constants of the runner.
const (
	// ServerStartTimeout bounds the wait for a started server to answer.
	ServerStartTimeout = 15 * time.Second
	// BackendStartTimeout bounds the wait for a backend's /health.
	BackendStartTimeout = 10 * time.Second
	// StopGrace is how long a stopping server may finish its requests
	// before it is killed.
	StopGrace = 5 * time.Second
	// DeployGrace is how long a deploy waits after the reload before it
	// stops the blue backends, as a deploy script would: long enough
	// for the reloaded server's old workers to finish their requests.
	DeployGrace = time.Second
	// DefaultOpenRate is the rate idle connections open at when the
	// step does not say.
	DefaultOpenRate = 2000
	// stepOverhead is the estimated cost of starting and stopping a
	// step's processes, for the time-left estimate.
	stepOverhead = 500 * time.Millisecond
)

// DefaultSources are the source addresses of C10k steps toward a
// loopback target: 20 addresses, 20 ephemeral port ranges.
var DefaultSources = func() []netip.Addr {
	a, err := loadgen.ParseSourceIPs("127.0.0.2-127.0.0.21")
	if err != nil {
		panic(err)
	}
	return a
}()

// Run runs every scenario of o against every target and returns what it
// measured; see the package documentation for the run directory it
// writes. Problems of one target or step (a server that does not start
// or dies, a missing binary) are recorded in the step and the run goes
// on; Run returns an error for what stops the whole run: bad options, a
// run directory it cannot write, the context ending. When the context
// ends, the returned run (with Interrupted set) holds the steps finished
// before, and the error wraps ctx.Err().
func Run(ctx context.Context, o Options) (*reports.Run, error) {
	r, err := newRunner(o)
	if err != nil {
		return nil, err
	}
	defer r.close()
	err = r.runAll(ctx)
	if ctx.Err() != nil {
		r.run.Interrupted = true
		r.meta.Interrupted = true
		if err == nil || errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("runner: run interrupted after %d steps: %w", len(r.run.Steps), ctx.Err())
		}
	}
	r.procs.killAll()
	r.meta.Ended = time.Now().UTC()
	r.meta.Notes = r.run.Notes
	if werr := r.writeSummary(); werr != nil && err == nil {
		err = werr
	}
	if werr := writeJSON(filepath.Join(r.dir, "meta.json"), r.meta); werr != nil && err == nil {
		err = fmt.Errorf("runner: %w", werr)
	}
	return r.run, err
}

// runner is one Run.
type runner struct {
	o      Options
	dir    string // absolute
	exe    string
	trials int
	scale  float64
	run    *reports.Run
	meta   Meta
	procs  *procSet
	pin    pinning
	unpin  func()
	prog   *progress
	tmp    string // site roots, CGI programs, servers' private dirs
	nofile uint64 // hard RLIMIT_NOFILE, given to reference servers
	files  map[string]*os.File
	refs   map[string]*refInfo
	seq    int // private directories made
}

// refInfo is a reference target's server.
type refInfo struct {
	ref scenarios.Reference
	bin string
	err error // not installed
}

func newRunner(o Options) (*runner, error) {
	if len(o.Scenarios) == 0 {
		return nil, fmt.Errorf("%w: no scenarios", ErrOptions)
	}
	if len(o.Targets) == 0 {
		return nil, fmt.Errorf("%w: no targets", ErrOptions)
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: no run directory (Options.Dir)", ErrOptions)
	}
	if o.Scale < 0 || o.Trials < 0 {
		return nil, fmt.Errorf("%w: scale %v and trials %d must not be negative", ErrOptions, o.Scale, o.Trials)
	}
	r := &runner{o: o, trials: max(o.Trials, 1), scale: o.Scale, procs: newProcSet(),
		files: make(map[string]*os.File), refs: make(map[string]*refInfo)}
	if r.scale == 0 {
		r.scale = 1
	}
	seenT := make(map[string]bool)
	needExe := false
	for i, t := range o.Targets {
		if t.Name == "" || !safeName.MatchString(t.Name) {
			return nil, fmt.Errorf("%w: target %d: name %q: want letters, digits, '.', '_' or '-'", ErrOptions, i, t.Name)
		}
		if seenT[t.Name] {
			return nil, fmt.Errorf("%w: target %q given twice", ErrOptions, t.Name)
		}
		seenT[t.Name] = true
		switch t.Kind {
		case reports.KindCore:
			needExe = true
		case reports.KindReference:
			ref, ok := scenarios.LookupReference(t.Name)
			if !ok {
				return nil, fmt.Errorf("%w: target %q: unknown reference server", ErrOptions, t.Name)
			}
			bin, err := ref.Binary()
			r.refs[t.Name] = &refInfo{ref: ref, bin: bin, err: err}
			needExe = true // the backends
		case reports.KindURL:
			u, err := url.Parse(t.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("%w: target %q: URL %q: want http://host:port", ErrOptions, t.Name, t.URL)
			}
			if t.PID < 0 {
				return nil, fmt.Errorf("%w: target %q: pid %d", ErrOptions, t.Name, t.PID)
			}
		default:
			return nil, fmt.Errorf("%w: target %q: kind %q: want core, reference or url", ErrOptions, t.Name, t.Kind)
		}
	}
	seenS := make(map[string]bool)
	for i, s := range o.Scenarios {
		if s == nil || !safeName.MatchString(s.Name) {
			return nil, fmt.Errorf("%w: scenario %d: no scenario or a name unfit for a directory", ErrOptions, i)
		}
		if seenS[s.Name] {
			return nil, fmt.Errorf("%w: scenario %q given twice", ErrOptions, s.Name)
		}
		seenS[s.Name] = true
	}
	if needExe {
		if o.Exe == "" {
			return nil, fmt.Errorf("%w: no c10k binary (Options.Exe)", ErrOptions)
		}
		exe, err := exec.LookPath(o.Exe)
		if err == nil {
			exe, err = filepath.Abs(exe)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: c10k binary %q: %v", ErrOptions, o.Exe, err)
		}
		r.exe = exe
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("runner: run directory %q: %w", o.Dir, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "raw"), 0o755); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	r.dir = dir
	if r.tmp, err = os.MkdirTemp("", "c10k-bench-"); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	// Apache's children run as www-data: everything they read or run
	// lives below this directory, which they must be able to search.
	os.Chmod(r.tmp, 0o755)

	r.prog = newProgress(o.Progress, o.Log)
	r.meta = collectMeta(filepath.Base(dir))
	r.run = &reports.Run{ID: r.meta.ID, Commit: r.meta.Commit, GoVersion: r.meta.GoVersion,
		Kernel: r.meta.Kernel, CPU: r.meta.CPU, Steps: []reports.Step{}}
	// Raise this process's descriptor limit (children inherit it) and
	// learn the hard limit; a failure shows up per step.
	if lim, err := loadgen.Preflight(0, 0); err == nil {
		r.nofile = lim.NoFileMax
		r.meta.Limits.NoFileSoft, r.meta.Limits.NoFileHard = lim.NoFile, lim.NoFileMax
	}
	r.pin = planPinning(o.ServerCPU, o.ClientCPU)
	for _, n := range r.pin.Notes {
		r.note("%s", n)
	}
	if r.pin.Client >= 0 {
		unpin, err := pinSelf(r.pin.Client)
		if err != nil {
			r.note("%v: generator not pinned", err)
			r.pin.Client = -1
		} else {
			r.unpin = unpin
		}
	}
	r.meta.Options = MetaOpts{Exe: r.exe, Scale: r.scale, Trials: r.trials, Targets: o.Targets,
		ServerCPU: o.ServerCPU, ClientCPU: o.ClientCPU, PinnedServer: r.pin.Server, PinnedClient: r.pin.Client}
	for _, s := range o.Scenarios {
		r.meta.Options.Scenarios = append(r.meta.Options.Scenarios, s.Name)
	}
	if o.Sources != nil {
		var ss []string
		for _, a := range o.Sources {
			ss = append(ss, a.String())
		}
		r.meta.Options.Sources = strings.Join(ss, ",")
	}
	for _, t := range o.Targets {
		if ri := r.refs[t.Name]; ri != nil && ri.err != nil {
			r.note("%v: its steps are skipped", ri.err)
		}
	}
	if err := writeJSON(filepath.Join(dir, "meta.json"), r.meta); err != nil {
		r.close()
		return nil, fmt.Errorf("runner: %w", err)
	}
	return r, nil
}

// safeName is what a scenario or target name must be to name a
// directory.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// close ends what the runner holds: child processes, files, pinning,
// the temporary directory.
func (r *runner) close() {
	r.procs.killAll()
	for _, f := range r.files {
		f.Close()
	}
	r.files = map[string]*os.File{}
	if r.unpin != nil {
		r.unpin()
		r.unpin = nil
	}
	if r.tmp != "" {
		os.RemoveAll(r.tmp)
		r.tmp = ""
	}
	r.prog.close()
}

// note adds a run-level note and logs it.
func (r *runner) note(format string, a ...any) {
	n := fmt.Sprintf(format, a...)
	if slices.Contains(r.run.Notes, n) {
		return
	}
	r.run.Notes = append(r.run.Notes, n)
	r.prog.logf("note: %s", n)
}

// writeSummary writes summary.json.
func (r *runner) writeSummary() error {
	if err := writeJSON(filepath.Join(r.dir, "summary.json"), r.run); err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	return nil
}

// runAll runs the plan: for each scenario, each trial, each target,
// each step.
func (r *runner) runAll(ctx context.Context) error {
	var scs []*scenarioRun
	for _, s := range r.o.Scenarios {
		scs = append(scs, r.planScenario(s))
	}
	// The time-left estimate: every step to run.
	for _, sc := range scs {
		for _, t := range r.o.Targets {
			if !sc.runsOn(t, r) {
				continue
			}
			for i := range sc.s.Steps {
				r.prog.total += r.trials
				r.prog.remaining += time.Duration(r.trials) * r.estimate(sc, t, i)
			}
		}
	}
	for _, sc := range scs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.runScenario(ctx, sc); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// runScenario prepares the scenario's site and runs its steps on every
// target.
func (r *runner) runScenario(ctx context.Context, sc *scenarioRun) error {
	r.prepare(sc)
	defer os.RemoveAll(sc.tmp)
	for _, t := range r.o.Targets {
		if !sc.runsOn(t, r) {
			r.note("%s: not run on %s (the scenario's cores are %s)", sc.s.Name, t.Name, strings.Join(sc.s.Cores, ", "))
		}
	}
	for trial := range r.trials {
		for _, t := range r.o.Targets {
			if !sc.runsOn(t, r) {
				continue
			}
			for i := range sc.s.Steps {
				if err := ctx.Err(); err != nil {
					return err
				}
				est := r.estimate(sc, t, i)
				what := fmt.Sprintf("%s · %s · %s (%d/%d)", sc.s.Name, t.Name, sc.s.Steps[i].Name(), i+1, len(sc.s.Steps))
				if r.trials > 1 {
					what += fmt.Sprintf(" trial %d/%d", trial+1, r.trials)
				}
				r.prog.begin(what, est)
				st, err := r.runStep(ctx, sc, t, trial, i)
				r.prog.end()
				if err != nil {
					return err
				}
				r.run.Steps = append(r.run.Steps, st)
				r.logStep(st)
				if err := r.writeSummary(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// logStep writes the log line of a finished step.
func (r *runner) logStep(st reports.Step) {
	name := st.Scenario + " " + st.Core + " " + st.Label
	if r.trials > 1 {
		name += fmt.Sprintf(" trial %d", st.Trial+1)
	}
	switch {
	case st.Skipped:
		r.prog.logf("%s: skipped: %s", name, st.Note)
		return
	case st.Valid:
		r.prog.logf("%s: %.0f req/s, p99 %.2f ms, %d errors, valid", name, st.Throughput, st.Latency.P99, st.Errors)
	default:
		r.prog.logf("%s: %.0f req/s, p99 %.2f ms, %d errors, INVALID: %s", name, st.Throughput, st.Latency.P99, st.Errors, st.Invalid)
	}
	if st.Note != "" {
		r.prog.logf("  note: %s", st.Note)
	}
}

// scenarioRun is a scenario prepared for a run.
type scenarioRun struct {
	s     *scenarios.Scenario
	conf  *scenarios.Scenario // what configs are generated from: s, without its CGI location when the program is missing
	tmp   string
	root  string             // document root
	cgi   string             // the CGI program; "" when none
	noCGI string             // why a CGI site has no program
	prep  string             // why the site could not be prepared: every step skipped
	tls   scenarios.TLSFiles // the CA, certificate and key of a site with TLS
	skip  map[int]string
	files []string // step i's file name (no extension)
}

// planScenario checks a scenario's steps against this machine's limits
// and names their files.
func (r *runner) planScenario(s *scenarios.Scenario) *scenarioRun {
	sc := &scenarioRun{s: s, conf: s, skip: make(map[int]string)}
	seen := make(map[string]bool)
	for i, st := range s.Steps {
		name := fileName(st.Name())
		if seen[name] {
			name += "-" + strconv.Itoa(i)
		}
		seen[name] = true
		sc.files = append(sc.files, name)
		need, sources := r.fdNeed(s, i, DefaultSources)
		if _, err := loadgen.Preflight(need, sources); err != nil {
			sc.skip[i] = fmt.Sprintf("step needs %d connections (idle %d, load %d, slow readers %d, probes): %v",
				need, st.Idle, loadConns(st), st.SlowReaders, err)
			r.note("%s %s: skipped on every target: %s", s.Name, st.Name(), sc.skip[i])
		}
	}
	return sc
}

// prepare makes the scenario's site: files and CGI program under the
// run's temporary directory.
func (r *runner) prepare(sc *scenarioRun) {
	sc.tmp = filepath.Join(r.tmp, sc.s.Name)
	sc.root = filepath.Join(sc.tmp, "root")
	for _, d := range []string{sc.tmp, sc.root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			sc.prep = err.Error()
			return
		}
	}
	if t := sc.s.Site.TLS; t != nil {
		// A CA and a certificate of its own for every run, in the run
		// directory: the generator trusts that CA and nothing else.
		f, err := scenarios.WriteTLS(filepath.Join(r.dir, "tls", sc.s.Name), t.Key)
		if err != nil {
			sc.prep = "generate the TLS certificate: " + err.Error()
			r.note("%s: %s: every step skipped", sc.s.Name, sc.prep)
			return
		}
		sc.tls = f
	}
	prog, err := scenarios.Prepare(&sc.s.Site, sc.root, filepath.Join(sc.tmp, "bin"))
	worldReadable(sc.tmp)
	switch {
	case err == nil:
		sc.cgi = prog
	case errors.Is(err, scenarios.ErrNoCompiler) && sc.s.Site.CGI != nil:
		sc.noCGI = err.Error()
		c := *sc.s
		c.Site.CGI = nil
		sc.conf = &c
		r.note("%s: %v: its CGI steps are skipped", sc.s.Name, err)
	default:
		sc.prep = "prepare the site: " + err.Error()
		r.note("%s: %s: every step skipped", sc.s.Name, sc.prep)
	}
}

// worldReadable makes everything under dir readable (and directories
// searchable) by anyone, whatever the umask was: Apache's children and
// its CGI daemon run as www-data.
func worldReadable(dir string) {
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil {
			add := fs.FileMode(0o444)
			if d.IsDir() || info.Mode()&0o100 != 0 {
				add |= 0o111
			}
			os.Chmod(path, info.Mode().Perm()|add)
		}
		return nil
	})
}

// runsOn reports whether the scenario runs on target t: every url
// target; a core or reference the scenario's Cores list (a reference
// also when its pair is listed).
func (sc *scenarioRun) runsOn(t Target, r *runner) bool {
	switch t.Kind {
	case reports.KindURL:
		return true
	case reports.KindReference:
		return sc.s.Runs(t.Name) || sc.s.Runs(r.refs[t.Name].ref.Pair)
	}
	return sc.s.Runs(t.Name)
}

// isCGI reports whether step i goes to the site's CGI location.
func (sc *scenarioRun) isCGI(i int) bool {
	st := sc.s.Steps[i]
	cgi := sc.s.Site.CGI
	return st.Target == "" && cgi != nil && strings.HasPrefix(st.Path, cgi.Location)
}

// fileName makes a step name a file name: "keepalive=off c=50" ->
// "keepalive=off_c=50".
func fileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("=.-_+,", c) >= 0
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		return "step" + string(b)
	}
	return string(b)
}

// loadConns is the step's load connections: closed model's, or the open
// model's cap.
func loadConns(st scenarios.Step) int {
	switch {
	case st.Connections > 0:
		return st.Connections
	case st.Rate > 0 && st.RateConnections > 0:
		return st.RateConnections
	case st.Rate > 0:
		return loadgen.DefaultOpenConnections
	}
	return 0
}

// fdNeed is what step i holds open at once: idle, load, slow readers and
// the probes in flight; and how many source addresses it uses.
func (r *runner) fdNeed(s *scenarios.Scenario, i int, def []netip.Addr) (need, sources int) {
	st := s.Steps[i]
	need = st.Idle + loadConns(st) + st.SlowReaders
	if st.ProbeRate > 0 {
		need += int(st.ProbeRate*s.TimeoutFor(i).Seconds()) + 1
	}
	if st.Idle >= 1000 {
		sources = len(def)
		if r.o.Sources != nil {
			sources = len(r.o.Sources)
		}
	}
	return need, sources
}

// scaled multiplies d by the run's scale.
func (r *runner) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * r.scale)
}

// idleOnly reports whether a step sends no load: idle connections and
// probes only.
func idleOnly(st scenarios.Step) bool { return st.Connections == 0 && st.Rate == 0 }

// estimate is step i's expected wall time on t.
func (r *runner) estimate(sc *scenarioRun, t Target, i int) time.Duration {
	if sc.skip[i] != "" {
		return 0
	}
	st := sc.s.Steps[i]
	d := r.scaled(sc.s.DurationFor(i)) + stepOverhead
	if !idleOnly(st) {
		d += r.scaled(sc.s.WarmupFor(i))
	}
	if st.Idle > 0 {
		rate := st.OpenRate
		if rate <= 0 {
			rate = DefaultOpenRate
		}
		d += time.Duration(float64(st.Idle) / rate * float64(time.Second))
	}
	return d
}

// rawDir is the directory of a scenario's files for target t.
func (r *runner) rawDir(sc *scenarioRun, t Target) (string, error) {
	d := filepath.Join(r.dir, "raw", sc.s.Name, t.Name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("runner: %w", err)
	}
	return d, nil
}

// samplesFile is the samples.jsonl of a raw directory, opened once.
func (r *runner) samplesFile(dir string) (*os.File, error) {
	if f, ok := r.files[dir]; ok {
		return f, nil
	}
	f, err := os.OpenFile(filepath.Join(dir, "samples.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	r.files[dir] = f
	return f, nil
}

// privateDir makes a short new directory for one server's pid file,
// temp files, sockets (Apache's cgid socket path must stay under 108
// bytes) and logs, searchable by www-data.
func (r *runner) privateDir() (string, error) {
	r.seq++
	d := filepath.Join(r.tmp, "s"+strconv.Itoa(r.seq))
	if err := os.Mkdir(d, 0o755); err != nil {
		return "", fmt.Errorf("runner: %w", err)
	}
	os.Chmod(d, 0o755) // whatever the umask
	return d, nil
}

// hardNoFile is the descriptor limit reference servers get.
func (r *runner) hardNoFile() uint64 {
	if r.nofile > 0 {
		return r.nofile
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		return rl.Max
	}
	return 1024
}
