package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/c10k/c10k/loadgen"
)

// MaxFileSize bounds a scenario file; anything larger is refused before
// it is read as JSON.
const MaxFileSize = 1 << 20

// Limits of a scenario's values. They are far above what the bench
// uses and below what would break a run: the generator's port range,
// a server's descriptor limit, a run that ends the same day.
const (
	MaxConnections = 60000     // Step.Connections, Idle, RateConnections
	MaxRate        = 1_000_000 // Step.Rate, OpenRate, requests per second
	MaxProbeRate   = 100_000   // Step.ProbeRate
	MaxSlowReaders = 1000      // Step.SlowReaders
	MaxStepTime    = time.Hour // a step's or the scenario's Duration
	MaxWarmup      = 10 * time.Minute
	MaxTimeout     = 10 * time.Minute
	MaxFileBytes   = 1 << 30 // File.Size, Backend.Size
	MaxBackends    = 64
	MaxSteps       = 100
	MaxEvents      = 100
	MaxFiles       = 1000
	MaxKeepalive   = 10000 // Proxy.Keepalive
	MaxWorkers     = 1024  // Backend.Workers
	MaxWeight      = 1000  // Backend.Weight
)

// maxListLen bounds every JSON list while it is read, so that a hostile
// file costs little before validation says no.
const maxListLen = 1000

var durationType = reflect.TypeFor[Duration]()

// MarshalJSON writes d as a Go duration string: "250ms", "1m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// UnmarshalJSON reads a Go duration string ("250ms", "5s", "1m30s");
// a number or a negative duration is an error. null leaves d unchanged.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s: want a string like \"250ms\"", b)
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// parseDuration parses a non-negative Go duration string.
func parseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a Go duration like \"250ms\" or \"5s\"", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return v, nil
}

// Parse reads a scenario from data, strictly: no unknown or repeated
// fields, values of the right JSON type, durations as strings. name is
// what errors start with; when it ends in ".json" (a file name), the
// scenario's name must be its base name. Errors are *Error values
// ("NAME:LINE:COL: FIELD: ..." for the JSON, "NAME: FIELD: ..." for the
// checks of the values, several joined with errors.Join), wrapping
// ErrSyntax or ErrInvalid.
func Parse(name string, data []byte) (*Scenario, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("file of %d bytes is larger than %d", len(data), MaxFileSize), Err: ErrSyntax}
	}
	w := walker{name: name, data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	if err := w.value(reflect.TypeFor[Scenario](), ""); err != nil {
		return nil, err
	}
	if tok, off, err := w.token(); err != io.EOF {
		if err != nil {
			return nil, err
		}
		return nil, w.errAt(off, "", "%s after the scenario: want the end of the file", describe(tok))
	}
	// The walk checked every field and type; the decoder fills the
	// struct the same strict way.
	var s Scenario
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, &Error{File: name, Msg: err.Error(), Err: ErrSyntax}
	}
	if err := validate(name, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Load reads and parses the scenario file at path; its name must be the
// file's base name without ".json".
func Load(path string) (*Scenario, error) {
	if filepath.Ext(path) != ".json" {
		return nil, &Error{File: path, Msg: "a scenario file's name must end in .json", Err: ErrInvalid}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	return Parse(path, data)
}

// walker checks a JSON document against a Go type token by token, so
// that every error points at a line, a column and a field path.
type walker struct {
	name string
	data []byte
	dec  *json.Decoder
}

// errAt returns the ErrSyntax error at byte offset off.
func (w *walker) errAt(off int64, field, format string, args ...any) *Error {
	line, col := position(w.data, off)
	return &Error{File: w.name, Line: line, Col: col, Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrSyntax}
}

// position turns a byte offset into a 1-based line and byte column.
func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// token returns the next token and the offset where it starts.
func (w *walker) token() (json.Token, int64, error) {
	off := w.dec.InputOffset()
	for off < int64(len(w.data)) {
		switch w.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	tok, err := w.dec.Token()
	if err == nil {
		return tok, off, nil
	}
	if err == io.EOF {
		return nil, off, io.EOF
	}
	return nil, off, w.syntaxError(err, off)
}

// syntaxError turns a syntax error of the decoder into an *Error at
// its place. The decoder's offsets can be relative to the value it was
// reading, so the whole document is scanned again for the first syntax
// error, which is this one: the walk stops at the first error.
func (w *walker) syntaxError(err error, off int64) *Error {
	var raw json.RawMessage
	var se *json.SyntaxError
	if errors.As(json.Unmarshal(w.data, &raw), &se) {
		// Offset counts the bytes read, the offending one included.
		return w.errAt(se.Offset-1, "", "%s", se.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return w.errAt(int64(len(w.data)), "", "unexpected end of file")
	}
	return w.errAt(off, "", "%s", strings.TrimPrefix(err.Error(), "json: "))
}

// value reads one value of type t at field path.
func (w *walker) value(t reflect.Type, path string) error {
	tok, off, err := w.token()
	if err == io.EOF {
		return w.errAt(off, path, "unexpected end of file")
	}
	if err != nil {
		return err
	}
	return w.valueTok(t, path, tok, off)
}

func (w *walker) valueTok(t reflect.Type, path string, tok json.Token, off int64) error {
	if t == durationType {
		s, ok := tok.(string)
		if !ok {
			return w.errAt(off, path, "want a duration string like \"250ms\", got %s", describe(tok))
		}
		if _, err := parseDuration(s); err != nil {
			return w.errAt(off, path, "%v", err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if tok == nil {
			return nil
		}
		return w.valueTok(t.Elem(), path, tok, off)
	case reflect.Slice:
		if tok == nil {
			return nil
		}
		if tok != json.Delim('[') {
			return w.errAt(off, path, "want a list, got %s", describe(tok))
		}
		for i := 0; w.dec.More(); i++ {
			if i >= maxListLen {
				return w.errAt(w.dec.InputOffset(), path, "more than %d elements", maxListLen)
			}
			if err := w.value(t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return w.end(']', path)
	case reflect.Struct:
		if tok != json.Delim('{') {
			return w.errAt(off, path, "want an object, got %s", describe(tok))
		}
		seen := make(map[string]bool)
		for w.dec.More() {
			ktok, koff, err := w.token()
			if err != nil {
				if err == io.EOF {
					return w.errAt(koff, path, "unexpected end of file")
				}
				return err
			}
			key, ok := ktok.(string)
			if !ok {
				return w.errAt(koff, path, "want a field name, got %s", describe(ktok))
			}
			f, ok := fieldByJSONName(t, key)
			if !ok {
				return w.errAt(koff, path, "unknown field %q", key)
			}
			if seen[key] {
				return w.errAt(koff, path, "repeated field %q", key)
			}
			seen[key] = true
			sub := key
			if path != "" {
				sub = path + "." + key
			}
			if err := w.value(f.Type, sub); err != nil {
				return err
			}
		}
		return w.end('}', path)
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return w.errAt(off, path, "want a string, got %s", describe(tok))
		}
		return nil
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return w.errAt(off, path, "want true or false, got %s", describe(tok))
		}
		return nil
	case reflect.Int, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return w.errAt(off, path, "want an integer, got %s", describe(tok))
		}
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			return w.errAt(off, path, "want an integer, got %s", describe(tok))
		}
		return nil
	case reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			return w.errAt(off, path, "want a number, got %s", describe(tok))
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return w.errAt(off, path, "number %s is out of range", n)
		}
		return nil
	}
	// Every field of Scenario is one of the kinds above.
	return w.errAt(off, path, "field of type %s cannot be read", t)
}

// end reads the closing delimiter of a list or object.
func (w *walker) end(want json.Delim, path string) error {
	tok, off, err := w.token()
	if err == io.EOF {
		return w.errAt(off, path, "unexpected end of file")
	}
	if err != nil {
		return err
	}
	if tok != want {
		return w.errAt(off, path, "want %q, got %s", string(want), describe(tok))
	}
	return nil
}

// fieldByJSONName finds the field of struct type t whose json tag name
// is exactly key.
func fieldByJSONName(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// describe names a token for an error message.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return "number " + truncate(string(v))
	case string:
		return "string " + strconv.Quote(truncate(v))
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "a list"
		}
		return strconv.Quote(string(v))
	}
	return fmt.Sprint(tok)
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// maxErrors bounds the semantic errors reported for one file.
const maxErrors = 20

// checker collects the semantic errors of one scenario.
type checker struct {
	file string
	errs []error
}

func (c *checker) errorf(field, format string, args ...any) {
	switch {
	case len(c.errs) < maxErrors:
		c.errs = append(c.errs, &Error{File: c.file, Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid})
	case len(c.errs) == maxErrors:
		c.errs = append(c.errs, &Error{File: c.file, Msg: "too many errors", Err: ErrInvalid})
	}
}

func (c *checker) err() error {
	switch len(c.errs) {
	case 0:
		return nil
	case 1:
		return c.errs[0]
	}
	return errors.Join(c.errs...)
}

// count checks an integer field: not negative, at most max.
func (c *checker) count(field string, v, max int64) bool {
	switch {
	case v < 0:
		c.errorf(field, "%d: must not be negative", v)
	case v > max:
		c.errorf(field, "%d is above the limit of %d", v, max)
	default:
		return true
	}
	return false
}

// rate checks a float field: not negative, at most max.
func (c *checker) rate(field string, v, max float64) {
	switch {
	case v < 0:
		c.errorf(field, "%g: must not be negative", v)
	case v > max:
		c.errorf(field, "%g is above the limit of %g", v, max)
	}
}

// dur checks a duration field (never negative once parsed) against max.
func (c *checker) dur(field string, d Duration, max time.Duration) {
	switch {
	case d < 0:
		c.errorf(field, "%v: must not be negative", time.Duration(d))
	case time.Duration(d) > max:
		c.errorf(field, "%v is above the limit of %v", time.Duration(d), max)
	}
}

// validate checks the values of a decoded scenario; file names it in
// errors.
func validate(file string, s *Scenario) error {
	c := &checker{file: file}
	if !validName(s.Name) {
		c.errorf("name", "%q: want 1 to 64 lowercase letters, digits and '-'", s.Name)
	} else if strings.HasSuffix(file, ".json") {
		if base := strings.TrimSuffix(filepath.Base(file), ".json"); base != s.Name {
			c.errorf("name", "%q differs from the file's name %q", s.Name, filepath.Base(file))
		}
	}
	if strings.TrimSpace(s.Description) == "" {
		c.errorf("description", "empty: say which claim the scenario tests")
	}
	if s.Claim < 0 || s.Claim > 5 {
		c.errorf("claim", "%d: want 0 (none) or a DESIGN.md claim from 1 to 5", s.Claim)
	}
	c.dur("warmup", s.Warmup, MaxWarmup)
	c.dur("duration", s.Duration, MaxStepTime)
	if s.Interval != 0 && (time.Duration(s.Interval) < 10*time.Millisecond || time.Duration(s.Interval) > time.Minute) {
		c.errorf("interval", "%v: want 10ms to 1m", time.Duration(s.Interval))
	}
	seen := make(map[string]bool)
	for i, m := range s.Sample {
		f := fmt.Sprintf("sample[%d]", i)
		switch {
		case !knownMetric(m):
			c.errorf(f, "unknown metric %q: want one of %s", m, strings.Join(allMetrics, ", "))
		case seen[m]:
			c.errorf(f, "metric %q is listed twice", m)
		}
		seen[m] = true
	}
	clear(seen)
	for i, core := range s.Cores {
		f := fmt.Sprintf("cores[%d]", i)
		switch {
		case !validName(core):
			c.errorf(f, "%q: want a core or server name (lowercase letters, digits and '-')", core)
		case seen[core]:
			c.errorf(f, "core %q is listed twice", core)
		}
		seen[core] = true
	}
	checkSite(c, &s.Site)
	switch {
	case len(s.Steps) == 0:
		c.errorf("steps", "empty: want at least one step")
	case len(s.Steps) > MaxSteps:
		c.errorf("steps", "%d steps: the limit is %d", len(s.Steps), MaxSteps)
	}
	names := make(map[string]int)
	for i := range s.Steps {
		checkStep(c, s, i)
		n := s.Steps[i].Name()
		if j, ok := names[n]; ok {
			c.errorf(fmt.Sprintf("steps[%d]", i), "name %q is also steps[%d]'s: give one a label", n, j)
		} else {
			names[n] = i
		}
	}
	checkEvents(c, s)
	return c.err()
}

func checkSite(c *checker, site *Site) {
	if len(site.Files) > MaxFiles {
		c.errorf("site.files", "%d files: the limit is %d", len(site.Files), MaxFiles)
	}
	paths := make(map[string]bool)
	for i, f := range site.Files {
		field := fmt.Sprintf("site.files[%d]", i)
		switch {
		case !validFilePath(f.Path):
			c.errorf(field+".path", "%q: want a relative path of letters, digits, '.', '_', '-' and '/', without \"..\"", f.Path)
		case paths[f.Path]:
			c.errorf(field+".path", "%q is listed twice", f.Path)
		}
		paths[f.Path] = true
		c.count(field+".size", f.Size, MaxFileBytes)
	}
	for i, f := range site.Files {
		for dir := filepath.Dir(f.Path); dir != "." && dir != "/"; dir = filepath.Dir(dir) {
			if paths[dir] {
				c.errorf(fmt.Sprintf("site.files[%d].path", i), "%q is under %q, which is a file", f.Path, dir)
				break
			}
		}
	}
	c.dur("site.keepalive_timeout", site.KeepaliveTimeout, time.Hour)
	c.count("site.keepalive_requests", int64(site.KeepaliveRequests), 1_000_000)
	c.count("site.worker_connections", int64(site.WorkerConnections), 100_000)
	if p := site.Proxy; p != nil {
		switch {
		case !validLocation(p.Location):
			c.errorf("site.proxy.location", "%q: want a path prefix such as \"/app/\" (letters, digits, '/', '.', '_', '~', '-')", p.Location)
		case p.Location == "/":
			c.errorf("site.proxy.location", "\"/\" would take every request from the static files: want a prefix such as \"/app/\"")
		}
		switch p.Balance {
		case "", "least_conn", "ip_hash", "random":
		default:
			c.errorf("site.proxy.balance", "%q: want \"\" (weighted round robin), least_conn, ip_hash or random", p.Balance)
		}
		c.count("site.proxy.keepalive", int64(p.Keepalive), MaxKeepalive)
		switch {
		case len(p.Backends) == 0:
			c.errorf("site.proxy.backends", "empty: a proxy needs at least one backend")
		case len(p.Backends) > MaxBackends:
			c.errorf("site.proxy.backends", "%d backends: the limit is %d", len(p.Backends), MaxBackends)
		}
		names := make(map[string]bool)
		for i, b := range p.Backends {
			field := fmt.Sprintf("site.proxy.backends[%d]", i)
			switch {
			case !validName(b.Name):
				c.errorf(field+".name", "%q: want 1 to 64 lowercase letters, digits and '-'", b.Name)
			case names[b.Name]:
				c.errorf(field+".name", "backend %q is listed twice", b.Name)
			}
			names[b.Name] = true
			c.count(field+".weight", int64(b.Weight), MaxWeight)
			c.dur(field+".latency", b.Latency, time.Minute)
			c.dur(field+".cpu", b.CPU, time.Minute)
			c.count(field+".size", b.Size, MaxFileBytes)
			modelOK := b.Model == "" || b.Model == "sync" || b.Model == "async"
			if !modelOK {
				c.errorf(field+".model", "%q: want sync or async", b.Model)
			}
			if c.count(field+".workers", int64(b.Workers), MaxWorkers) && modelOK && b.Workers > 0 && b.Model != "sync" {
				c.errorf(field+".workers", "workers is for model \"sync\" (gunicorn-style workers); this backend is %s", modelName(b.Model))
			}
			switch b.Color {
			case "", "blue", "green":
			default:
				c.errorf(field+".color", "%q: want \"\", blue or green", b.Color)
			}
		}
		if len(p.Backends) > 0 && len(site.Upstream("blue")) == 0 {
			c.errorf("site.proxy.backends", "no backend serves before a deploy: want one without a color or a blue one")
		}
	}
	if t := site.TLS; t != nil {
		switch t.Key {
		case "", KeyECDSAP256, KeyRSA2048:
		default:
			c.errorf("site.tls.key", "%q: want %s or %s", t.Key, KeyECDSAP256, KeyRSA2048)
		}
		for i, name := range t.Curves {
			if _, err := loadgen.ParseCurves(name); err != nil || strings.TrimSpace(name) == "" || strings.Contains(name, ",") {
				c.errorf(fmt.Sprintf("site.tls.curves[%d]", i), "%q: want X25519, X25519MLKEM768, P-256, P-384 or P-521", name)
			}
		}
	}
	if g := site.CGI; g != nil {
		switch {
		case !validLocation(g.Location):
			c.errorf("site.cgi.location", "%q: want a path such as \"/cgi-bin/hello\" (letters, digits, '/', '.', '_', '~', '-')", g.Location)
		case site.Proxy != nil && g.Location == site.Proxy.Location:
			c.errorf("site.cgi.location", "%q is also the proxy's location", g.Location)
		}
		if !knownProgram(g.Program) {
			c.errorf("site.cgi.program", "%q: want hello.sh or hello.c", g.Program)
		}
	}
}

func modelName(m string) string {
	if m == "" {
		return "async"
	}
	return m
}

func checkStep(c *checker, s *Scenario, i int) {
	st := &s.Steps[i]
	f := fmt.Sprintf("steps[%d]", i)
	if st.Label != "" && !validLabel(st.Label) {
		c.errorf(f+".label", "%q: want 1 to 64 printable characters without '/' or '\\'", st.Label)
	}
	if !validRequestPath(st.Path) {
		c.errorf(f+".path", "%q: want a request path starting with '/' (printable, no spaces or '#')", st.Path)
	}
	if st.Target != "" {
		name, ok := strings.CutPrefix(st.Target, "backend:")
		if !ok {
			c.errorf(f+".target", "%q: want \"\" (the server under test) or \"backend:NAME\"", st.Target)
		} else if b, ok := s.Site.Backend(name); !ok {
			c.errorf(f+".target", "backend %q is not in site.proxy.backends", name)
		} else if b.Color == "green" {
			c.errorf(f+".target", "backend %q is green: it runs only after a deploy", name)
		}
	}
	c.count(f+".connections", int64(st.Connections), MaxConnections)
	c.rate(f+".rate", st.Rate, MaxRate)
	c.count(f+".rate_connections", int64(st.RateConnections), MaxConnections)
	c.count(f+".idle", int64(st.Idle), MaxConnections)
	c.rate(f+".open_rate", st.OpenRate, MaxRate)
	c.rate(f+".probe_rate", st.ProbeRate, MaxProbeRate)
	c.count(f+".slow_readers", int64(st.SlowReaders), MaxSlowReaders)
	c.count(f+".slow_rate", st.SlowRate, MaxFileBytes)
	c.dur(f+".duration", st.Duration, MaxStepTime)
	c.dur(f+".timeout", st.Timeout, MaxTimeout)

	// Negative values were reported above; they count as set here so
	// that they give one error, not two.
	closed, open, idle := st.Connections != 0, st.Rate != 0, st.Idle != 0
	switch {
	case closed && open:
		c.errorf(f, "want connections or rate, not both")
	case idle && (closed || open):
		c.errorf(f, "an idle step only holds idle connections and probes: want no connections or rate beside idle")
	case !closed && !open && !idle:
		c.errorf(f, "want connections, rate or idle")
	}
	if st.RateConnections > 0 && !open {
		c.errorf(f+".rate_connections", "caps the connections of a rate step: set rate too")
	}
	if st.OpenRate > 0 && !idle {
		c.errorf(f+".open_rate", "is how fast idle connections open: set idle too")
	}
	if idle && st.KeepAlive != nil && !*st.KeepAlive {
		c.errorf(f+".keepalive", "idle connections need keep-alive")
	}
	if st.SlowReaders == 0 && (st.SlowPath != "" || st.SlowRate != 0) {
		c.errorf(f+".slow_readers", "0, but slow_path or slow_rate is set")
	}
	if st.TLS && s.Site.TLS == nil {
		c.errorf(f+".tls", "the site has no TLS: add \"tls\": {} to site")
	}
	if st.TLS && st.Target != "" {
		c.errorf(f+".tls", "the backends speak plain HTTP: a TLS step goes to the server (target \"\")")
	}
	if st.TLSResume && !st.TLS {
		c.errorf(f+".tls_resume", "resumes TLS sessions: set tls too")
	}
	if st.SlowPath != "" && !validRequestPath(st.SlowPath) {
		c.errorf(f+".slow_path", "%q: want a request path starting with '/' (printable, no spaces or '#')", st.SlowPath)
	}
}

func checkEvents(c *checker, s *Scenario) {
	if len(s.Events) > MaxEvents {
		c.errorf("events", "%d events: the limit is %d", len(s.Events), MaxEvents)
	}
	deploys := 0
	killed := make(map[string]bool)
	for k, ev := range s.Events {
		f := fmt.Sprintf("events[%d]", k)
		if ev.Step < 0 || ev.Step >= len(s.Steps) {
			c.errorf(f+".step", "%d: want a step index from 0 to %d", ev.Step, len(s.Steps)-1)
		} else if d := s.DurationFor(ev.Step); time.Duration(ev.At) >= d {
			c.errorf(f+".at", "%v is not before the end of step %d (%v)", time.Duration(ev.At), ev.Step, d)
		}
		switch ev.Action {
		case ActionKill:
			switch _, ok := s.Site.Backend(ev.Backend); {
			case ev.Backend == "":
				c.errorf(f+".backend", "action %q needs a backend", ev.Action)
			case !ok:
				c.errorf(f+".backend", "backend %q is not in site.proxy.backends", ev.Backend)
			case killed[ev.Backend]:
				c.errorf(f+".backend", "backend %q is killed twice", ev.Backend)
			}
			killed[ev.Backend] = true
		case ActionDeploy:
			if ev.Backend != "" {
				c.errorf(f+".backend", "action %q takes no backend: it switches to every green one", ev.Action)
			}
			if !hasColor(&s.Site, "blue") || !hasColor(&s.Site, "green") {
				c.errorf(f, "action %q needs backends with color blue and green", ev.Action)
			}
			if deploys++; deploys == 2 {
				c.errorf(f, "a second deploy: a scenario has at most one")
			}
			if ev.Step >= 0 && ev.Step < len(s.Steps) && s.Steps[ev.Step].Target != "" {
				c.errorf(f, "action %q needs a step through the server (target \"\"), not %q", ev.Action, s.Steps[ev.Step].Target)
			}
		default:
			c.errorf(f+".action", "%q: want %s or %s", ev.Action, ActionKill, ActionDeploy)
		}
	}
	if deploys == 0 && s.Site.Proxy != nil {
		for i, b := range s.Site.Proxy.Backends {
			if b.Color == "green" {
				c.errorf(fmt.Sprintf("site.proxy.backends[%d].color", i), "green backends run only after a deploy: add a %q event", ActionDeploy)
				break
			}
		}
	}
}

// hasColor reports whether a backend of site has color.
func hasColor(site *Site, color string) bool {
	if site.Proxy == nil {
		return false
	}
	for _, b := range site.Proxy.Backends {
		if b.Color == color {
			return true
		}
	}
	return false
}

// allMetrics is every Metric constant, in the order Metrics returns them.
var allMetrics = []string{MetricRSS, MetricCPU, MetricThreads, MetricFDs, MetricCtxSw}

func knownMetric(m string) bool {
	for _, k := range allMetrics {
		if m == k {
			return true
		}
	}
	return false
}

// validName reports whether s is a name of 1 to 64 of [a-z0-9-].
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validLabel reports whether s can name a step in tables and file names.
func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '/' || c == '\\' {
			return false
		}
	}
	return true
}

// validRequestPath reports whether s can be sent as a request target:
// absolute, printable ASCII, no space or fragment.
func validRequestPath(s string) bool {
	if len(s) == 0 || len(s) > 2048 || s[0] != '/' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c <= 0x20 || c > 0x7e || c == '#' {
			return false
		}
	}
	return true
}

// validLocation reports whether s is a location path that every server
// config can hold unquoted: absolute, no "." or ".." segments or "//".
func validLocation(s string) bool {
	if len(s) == 0 || len(s) > 256 || s[0] != '/' {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/._~-", c) >= 0) {
			return false
		}
	}
	for _, seg := range strings.Split(s[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return !strings.Contains(s, "//")
}

// validFilePath reports whether s is a clean relative file path of
// letters, digits, '.', '_', '-' and '/', inside its root.
func validFilePath(s string) bool {
	if len(s) == 0 || len(s) > 256 || !filepath.IsLocal(s) || filepath.Clean(s) != s || s == "." {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/._-", c) >= 0) {
			return false
		}
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == ".." {
			return false
		}
	}
	return true
}

func knownProgram(p string) bool { return p == "hello.sh" || p == "hello.c" }
