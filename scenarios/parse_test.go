package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAllOrder(t *testing.T) {
	all := allScenarios(t)
	var names []string
	for _, s := range all {
		names = append(names, s.Name)
	}
	want := []string{"static-1k", "c10k-idle", "keepalive-off", "proxy-balance", "cgi-vs-app", "static-1m", "slow-clients", "backend-failure", "blue-green", "tls-cost"}
	if !slices.Equal(names, want) {
		t.Fatalf("All() = %v, want %v", names, want)
	}
	if !slices.Equal(Names(), want) {
		t.Errorf("Names() = %v, want %v", Names(), want)
	}
	for i, s := range all {
		if quick := i < 5; s.Quick != quick {
			t.Errorf("%s: quick %v, want %v", s.Name, s.Quick, quick)
		}
		if len(s.Description) < 40 {
			t.Errorf("%s: description %q does not say what claim it tests", s.Name, s.Description)
		}
		if s.Claim != 0 && !strings.Contains(s.Description, "claim") {
			t.Errorf("%s: claim %d but the description does not name it", s.Name, s.Claim)
		}
	}
	// Each call returns new values.
	again := allScenarios(t)
	again[0].Steps[0].Connections = 7
	if all[0].Steps[0].Connections == 7 {
		t.Error("All() returned shared values")
	}
}

// TestEmbeddedFiles checks that every scenario file of the directory is
// in All's order, and the other way round.
func TestEmbeddedFiles(t *testing.T) {
	entries, err := fs.ReadDir(embedded, ".")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, strings.TrimSuffix(e.Name(), ".json"))
	}
	ondisk, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(ondisk) != len(files) {
		t.Errorf("embedded %v, on disk %v", files, ondisk)
	}
	slices.Sort(files)
	want := Names()
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("embedded scenario files %v, but All's order lists %v", files, want)
	}
	// Load reads the same files from disk.
	for _, name := range Names() {
		s, err := Load(name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != name {
			t.Errorf("Load(%s.json).Name = %q", name, s.Name)
		}
	}
}

// TestQuickBudget keeps `make bench`'s quick set within about 75 s of
// planned load per core: warm-up, measured time and the opening of idle
// connections of every step.
func TestQuickBudget(t *testing.T) {
	var total time.Duration
	for _, s := range allScenarios(t) {
		if !s.Quick {
			continue
		}
		for i, st := range s.Steps {
			total += s.WarmupFor(i) + s.DurationFor(i)
			if st.Idle > 0 {
				rate := st.OpenRate
				if rate == 0 {
					rate = 2000
				}
				total += time.Duration(float64(st.Idle) / rate * float64(time.Second))
			}
		}
	}
	if total > 75*time.Second {
		t.Errorf("the quick set plans %v of load per core, more than 75s", total)
	}
	t.Logf("quick set: %v of load per core", total)
}

// TestScenarioContent pins what each scenario measures.
func TestScenarioContent(t *testing.T) {
	tests := []struct {
		name   string
		steps  []string
		check  func(t *testing.T, s *Scenario)
		events int
	}{
		{"static-1k", []string{"c=10", "c=100", "c=1000"}, func(t *testing.T, s *Scenario) {
			wantFiles(t, s, File{"1k.txt", 1024})
			wantPaths(t, s, "/1k.txt")
		}, 0},
		{"c10k-idle", []string{"idle=1000", "idle=5000", "idle=10000"}, func(t *testing.T, s *Scenario) {
			wantPaths(t, s, "/1k.txt")
			for i, st := range s.Steps {
				if st.ProbeRate != 100 || st.OpenRate != 2000 || st.Connections != 0 || st.Rate != 0 || s.TimeoutFor(i) != 2*time.Second {
					t.Errorf("step %d: %+v", i, st)
				}
			}
			if !slices.Contains(s.Metrics(), MetricRSS) {
				t.Error("server memory is not sampled")
			}
		}, 0},
		{"keepalive-off", []string{"keepalive=off", "keepalive=on"}, func(t *testing.T, s *Scenario) {
			if ka := s.Steps[0].KeepAlive; ka == nil || *ka {
				t.Error("step 0 has keep-alive")
			}
			if ka := s.Steps[1].KeepAlive; ka != nil && !*ka {
				t.Error("step 1 has no keep-alive")
			}
			wantPaths(t, s, "/1k.txt")
		}, 0},
		{"proxy-balance", []string{"c=50", "rate=1000"}, func(t *testing.T, s *Scenario) {
			wantBackends(t, s, "a:3:5ms:async", "b:2:5ms:async", "c:1:5ms:async")
		}, 0},
		{"cgi-vs-app", []string{"cgi", "app"}, func(t *testing.T, s *Scenario) {
			if g := s.Site.CGI; g == nil || g.Location != "/cgi-bin/hello" || g.Program != "hello.sh" {
				t.Errorf("CGI %+v", g)
			}
			wantBackends(t, s, "app:0:0s:async")
			if s.Steps[0].Path != "/cgi-bin/hello" || s.Steps[1].Path != "/app/hello" || s.Steps[0].Connections != 8 || s.Steps[1].Connections != 8 {
				t.Errorf("steps %+v", s.Steps)
			}
		}, 0},
		{"static-1m", []string{"rate=250", "rate=1000"}, func(t *testing.T, s *Scenario) {
			wantFiles(t, s, File{"1m.bin", 1 << 20})
			wantPaths(t, s, "/1m.bin")
		}, 0},
		{"slow-clients", []string{"proxy", "direct"}, func(t *testing.T, s *Scenario) {
			wantBackends(t, s, "app:0:1ms:sync")
			if b := s.Site.Proxy.Backends[0]; b.Workers != 4 {
				t.Errorf("workers %d", b.Workers)
			}
			if s.Steps[0].Target != "" || s.Steps[1].Target != "backend:app" {
				t.Errorf("targets %q %q", s.Steps[0].Target, s.Steps[1].Target)
			}
			for _, st := range s.Steps {
				if st.SlowReaders != 16 || st.SlowRate != 16384 || st.SlowPath != "/app/big?size=16777216" || st.Connections != 20 || st.Path != "/app/fast" {
					t.Errorf("step %+v", st)
				}
			}
			if b := s.Site.Proxy.Buffering; b == nil || !*b {
				t.Error("proxy buffering is not on")
			}
		}, 0},
		{"backend-failure", []string{"rate=500"}, func(t *testing.T, s *Scenario) {
			wantBackends(t, s, "a:0:2ms:", "b:0:2ms:", "c:0:2ms:")
			if ev := s.Events[0]; ev.Action != ActionKill || ev.Backend != "b" || ev.At != Duration(3*time.Second) {
				t.Errorf("event %+v", ev)
			}
			if s.DurationFor(0) != 8*time.Second {
				t.Errorf("duration %v", s.DurationFor(0))
			}
		}, 1},
		{"blue-green", []string{"rate=500"}, func(t *testing.T, s *Scenario) {
			wantBackends(t, s, "blue:0:2ms:", "green:0:2ms:")
			if ev := s.Events[0]; ev.Action != ActionDeploy || ev.At != Duration(3*time.Second) {
				t.Errorf("event %+v", ev)
			}
			if up := s.Site.Upstream("blue"); len(up) != 1 || up[0].Name != "blue" {
				t.Errorf("blue upstream %+v", up)
			}
			if up := s.Site.Upstream("green"); len(up) != 1 || up[0].Name != "green" {
				t.Errorf("green upstream %+v", up)
			}
			if s.DurationFor(0) != 8*time.Second {
				t.Errorf("duration %v", s.DurationFor(0))
			}
		}, 1},
		{"tls-cost", []string{"keepalive=off plain", "keepalive=off tls", "keepalive=off tls-resume", "1k plain", "1k tls", "1m plain", "1m tls"}, func(t *testing.T, s *Scenario) {
			wantFiles(t, s, File{"1k.txt", 1024}, File{"1m.bin", 1 << 20})
			if s.Site.TLS == nil || s.Site.TLS.Key != KeyRSA2048 || s.Quick {
				t.Errorf("site TLS %+v, quick %v; want rsa-2048, not quick", s.Site.TLS, s.Quick)
			}
			// Steps pair up: plain, then the same load over TLS.
			var tlsSteps, resumed int
			for _, st := range s.Steps {
				if st.TLS {
					tlsSteps++
				}
				if st.TLSResume {
					resumed++
				}
			}
			if tlsSteps != 4 || resumed != 1 {
				t.Errorf("%d TLS steps, %d resumed; want 4 and 1", tlsSteps, resumed)
			}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Lookup(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, st := range s.Steps {
				names = append(names, st.Name())
			}
			if !slices.Equal(names, tt.steps) {
				t.Errorf("steps %v, want %v", names, tt.steps)
			}
			if len(s.Events) != tt.events {
				t.Errorf("%d events, want %d", len(s.Events), tt.events)
			}
			for i := range s.Steps {
				if s.WarmupFor(i) != time.Second {
					t.Errorf("step %d warm-up %v, want 1s", i, s.WarmupFor(i))
				}
			}
			tt.check(t, s)
		})
	}
}

func wantFiles(t *testing.T, s *Scenario, files ...File) {
	t.Helper()
	if !slices.Equal(s.Site.Files, files) {
		t.Errorf("files %+v, want %+v", s.Site.Files, files)
	}
}

func wantPaths(t *testing.T, s *Scenario, path string) {
	t.Helper()
	for i, st := range s.Steps {
		if st.Path != path {
			t.Errorf("step %d path %q, want %q", i, st.Path, path)
		}
	}
}

// wantBackends checks the proxy's backends as "name:weight:latency:model".
func wantBackends(t *testing.T, s *Scenario, want ...string) {
	t.Helper()
	if s.Site.Proxy == nil {
		t.Fatal("no proxy")
	}
	var got []string
	for _, b := range s.Site.Proxy.Backends {
		got = append(got, b.Name+":"+strconv.Itoa(b.Weight)+":"+time.Duration(b.Latency).String()+":"+b.Model)
	}
	if !slices.Equal(got, want) {
		t.Errorf("backends %v, want %v", got, want)
	}
}

func TestLookup(t *testing.T) {
	s, err := Lookup("blue-green")
	if err != nil || s.Name != "blue-green" {
		t.Fatalf("Lookup(blue-green) = %v, %v", s, err)
	}
	for _, name := range []string{"nope", "", "../parse", "static-1k.json", "Static-1k"} {
		_, err := Lookup(name)
		if !errors.Is(err, ErrUnknownScenario) {
			t.Errorf("Lookup(%q): %v, want ErrUnknownScenario", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "static-1k, c10k-idle,") {
			t.Errorf("Lookup(%q): %v does not list the known names", name, err)
		}
	}
}

// TestParseSyntax checks errors of the JSON itself: NAME:LINE:COL and
// the field.
func TestParseSyntax(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, `t.json:1:1: unexpected end of file`},
		{"not an object", `[]`, `t.json:1:1: want an object, got a list`},
		{"wrong type", `{"name": 1}`, `t.json:1:10: name: want a string, got number 1`},
		{"unknown field", "{\n  \"steps\": [{\"connections\": 1},\n    {\"bogus\": 2}]}", `t.json:3:6: steps[1]: unknown field "bogus"`},
		{"case matters", `{"Name": "x"}`, `t.json:1:2: unknown field "Name"`},
		{"repeated field", `{"name": "a", "name": "b"}`, `t.json:1:15: repeated field "name"`},
		{"trailing comma", `{"name": "a",}`, `t.json:1:14: invalid character '}' looking for beginning of object key string`},
		{"trailing data", `{"name": "a"} x`, `t.json:1:15: invalid character 'x' after top-level value`},
		{"second value", `{"name": "a"} {}`, `t.json:1:15: an object after the scenario: want the end of the file`},
		{"truncated", `{"name": "a"`, `t.json:1:13: unexpected end of file`},
		{"truncated value", `{"name":`, `t.json:1:9: name: unexpected end of file`},
		{"float for int", `{"steps": [{"connections": 1.5}]}`, `t.json:1:28: steps[0].connections: want an integer, got number 1.5`},
		{"int overflow", `{"steps": [{"connections": 99999999999999999999}]}`, `t.json:1:28: steps[0].connections: want an integer, got number 99999999999999999999`},
		{"string for number", `{"steps": [{"rate": "5"}]}`, `t.json:1:21: steps[0].rate: want a number, got string "5"`},
		{"number for bool", `{"quick": 1}`, `t.json:1:11: quick: want true or false, got number 1`},
		{"number duration", `{"warmup": 5}`, `t.json:1:12: warmup: want a duration string like "250ms", got number 5`},
		{"bad duration", `{"warmup": "5 s"}`, `t.json:1:12: warmup: invalid duration "5 s": want a Go duration like "250ms" or "5s"`},
		{"negative duration", "{\"site\": {\"proxy\": {\"backends\": [{\"latency\": \"-1ms\"}]}}}", `t.json:1:46: site.proxy.backends[0].latency: negative duration "-1ms"`},
		{"object for list", `{"steps": {}}`, `t.json:1:11: steps: want a list, got an object`},
		{"list for object", `{"site": []}`, `t.json:1:10: site: want an object, got a list`},
		{"null pointer ok, bad later", `{"site": {"proxy": null, "cgi": 3}}`, `t.json:1:33: site.cgi: want an object, got number 3`},
		{"control character", "{\"name\": \"a\x01\"}", `t.json:1:12: invalid character '\x01' in string literal`},
		{"bad literal", `{"quick": tru}`, `t.json:1:14: invalid character '}' in literal true (expecting 'e')`},
		{"too large", `{"description": "` + strings.Repeat("x", MaxFileSize) + `"}`, "t.json: file of " + strconv.Itoa(MaxFileSize+19) + " bytes is larger than 1048576"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.json", []byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n  %s\nwant\n  %s", err, tt.want)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
		})
	}
}

// base returns a valid scenario using every part: files, a proxy with
// blue and green backends, CGI, steps of each kind and events.
func base() *Scenario {
	on := true
	return &Scenario{
		Name:        "x",
		Description: "every feature at once",
		Claim:       1,
		Site: Site{
			Files: []File{{Path: "1k.txt", Size: 1024}, {Path: "d/e/f.bin", Size: 10}},
			Proxy: &Proxy{Location: "/app/", Backends: []Backend{
				{Name: "a", Weight: 2, Model: "sync", Workers: 2},
				{Name: "blue", Color: "blue"},
				{Name: "green", Color: "green"},
			}},
			CGI: &CGI{Location: "/cgi-bin/hello", Program: "hello.c"},
		},
		Steps: []Step{
			{Path: "/1k.txt", Connections: 10, ProbeRate: 5},
			{Path: "/app/", Rate: 100, RateConnections: 10, Duration: Duration(5 * time.Second)},
			{Path: "/1k.txt", Idle: 100, OpenRate: 100, ProbeRate: 10, KeepAlive: &on},
			{Path: "/app/", Target: "backend:a", Connections: 2, SlowReaders: 2, SlowPath: "/app/big", SlowRate: 100},
		},
		Events: []Event{
			{Step: 1, At: Duration(time.Second), Action: ActionKill, Backend: "a"},
			{Step: 1, At: Duration(2 * time.Second), Action: ActionDeploy},
		},
		Sample: []string{MetricRSS, MetricFDs},
		Cores:  []string{"event", "nginx"},
	}
}

func TestParseBase(t *testing.T) {
	data, err := json.Marshal(base())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("x.json", data); err != nil {
		t.Fatal(err)
	}
}

// TestParseInvalid checks the semantic checks: each edit of the valid
// base scenario gives one error naming the field.
func TestParseInvalid(t *testing.T) {
	off := false
	tests := []struct {
		name string
		edit func(s *Scenario)
		want string
	}{
		{"bad name", func(s *Scenario) { s.Name = "X_1" }, `x.json: name: "X_1": want 1 to 64 lowercase letters, digits and '-'`},
		{"name differs from file", func(s *Scenario) { s.Name = "y" }, `x.json: name: "y" differs from the file's name "x.json"`},
		{"no description", func(s *Scenario) { s.Description = " " }, `x.json: description: empty: say which claim the scenario tests`},
		{"claim", func(s *Scenario) { s.Claim = 6 }, `x.json: claim: 6: want 0 (none) or a DESIGN.md claim from 1 to 5`},
		{"long warm-up", func(s *Scenario) { s.Warmup = Duration(time.Hour) }, `x.json: warmup: 1h0m0s is above the limit of 10m0s`},
		{"long duration", func(s *Scenario) { s.Duration = Duration(2 * time.Hour) }, `x.json: duration: 2h0m0s is above the limit of 1h0m0s`},
		{"interval", func(s *Scenario) { s.Interval = Duration(time.Millisecond) }, `x.json: interval: 1ms: want 10ms to 1m`},
		{"unknown metric", func(s *Scenario) { s.Sample = []string{"rss", "heat"} }, `x.json: sample[1]: unknown metric "heat": want one of rss, cpu, threads, fds, ctxsw`},
		{"metric twice", func(s *Scenario) { s.Sample = []string{"rss", "rss"} }, `x.json: sample[1]: metric "rss" is listed twice`},
		{"bad core", func(s *Scenario) { s.Cores = []string{"Event"} }, `x.json: cores[0]: "Event": want a core or server name`},
		{"core twice", func(s *Scenario) { s.Cores = []string{"event", "event"} }, `x.json: cores[1]: core "event" is listed twice`},
		{"absolute file", func(s *Scenario) { s.Site.Files[0].Path = "/etc/passwd" }, `x.json: site.files[0].path: "/etc/passwd": want a relative path`},
		{"escaping file", func(s *Scenario) { s.Site.Files[0].Path = "../x" }, `x.json: site.files[0].path: "../x": want a relative path`},
		{"unclean file", func(s *Scenario) { s.Site.Files[0].Path = "a//b" }, `x.json: site.files[0].path: "a//b": want a relative path`},
		{"file twice", func(s *Scenario) { s.Site.Files[1].Path = "1k.txt" }, `x.json: site.files[1].path: "1k.txt" is listed twice`},
		{"file under file", func(s *Scenario) { s.Site.Files[0].Path = "d/e" }, `x.json: site.files[1].path: "d/e/f.bin" is under "d/e", which is a file`},
		{"negative size", func(s *Scenario) { s.Site.Files[0].Size = -1 }, `x.json: site.files[0].size: -1: must not be negative`},
		{"huge file", func(s *Scenario) { s.Site.Files[0].Size = 1 << 31 }, `x.json: site.files[0].size: 2147483648 is above the limit of 1073741824`},
		{"keepalive requests", func(s *Scenario) { s.Site.KeepaliveRequests = -1 }, `x.json: site.keepalive_requests: -1: must not be negative`},
		{"keepalive timeout", func(s *Scenario) { s.Site.KeepaliveTimeout = Duration(2 * time.Hour) }, `x.json: site.keepalive_timeout: 2h0m0s is above the limit of 1h0m0s`},
		{"worker connections", func(s *Scenario) { s.Site.WorkerConnections = 1 << 20 }, `x.json: site.worker_connections: 1048576 is above the limit of 100000`},
		{"proxy location", func(s *Scenario) { s.Site.Proxy.Location = "app" }, `x.json: site.proxy.location: "app": want a path prefix`},
		{"proxy location space", func(s *Scenario) { s.Site.Proxy.Location = "/a b/" }, `x.json: site.proxy.location: "/a b/": want a path prefix`},
		{"proxy location dots", func(s *Scenario) { s.Site.Proxy.Location = "/a/../" }, `x.json: site.proxy.location: "/a/../": want a path prefix`},
		{"proxy at root", func(s *Scenario) { s.Site.Proxy.Location = "/" }, `x.json: site.proxy.location: "/" would take every request from the static files`},
		{"balance", func(s *Scenario) { s.Site.Proxy.Balance = "hash" }, `x.json: site.proxy.balance: "hash": want "" (weighted round robin), least_conn, ip_hash or random`},
		{"upstream keepalive", func(s *Scenario) { s.Site.Proxy.Keepalive = MaxKeepalive + 1 }, `x.json: site.proxy.keepalive: 10001 is above the limit of 10000`},
		{"no backends", func(s *Scenario) {
			s.Site.Proxy.Backends = nil
			s.Events = nil
			s.Steps = s.Steps[:3]
		}, `x.json: site.proxy.backends: empty: a proxy needs at least one backend`},
		{"backend twice", func(s *Scenario) { s.Site.Proxy.Backends[1].Name = "a" }, `x.json: site.proxy.backends[1].name: backend "a" is listed twice`},
		{"backend name", func(s *Scenario) { s.Site.Proxy.Backends[0].Name = "" }, `x.json: site.proxy.backends[0].name: "": want 1 to 64`},
		{"negative weight", func(s *Scenario) { s.Site.Proxy.Backends[0].Weight = -1 }, `x.json: site.proxy.backends[0].weight: -1: must not be negative`},
		{"model", func(s *Scenario) { s.Site.Proxy.Backends[0].Model = "forking" }, `x.json: site.proxy.backends[0].model: "forking": want sync or async`},
		{"workers without sync", func(s *Scenario) { s.Site.Proxy.Backends[0].Model = "" }, `x.json: site.proxy.backends[0].workers: workers is for model "sync" (gunicorn-style workers); this backend is async`},
		{"negative backend size", func(s *Scenario) { s.Site.Proxy.Backends[0].Size = -5 }, `x.json: site.proxy.backends[0].size: -5: must not be negative`},
		{"slow backend", func(s *Scenario) { s.Site.Proxy.Backends[0].Latency = Duration(2 * time.Minute) }, `x.json: site.proxy.backends[0].latency: 2m0s is above the limit of 1m0s`},
		{"color", func(s *Scenario) { s.Site.Proxy.Backends[1].Color = "red" }, `x.json: site.proxy.backends[1].color: "red": want "", blue or green`},
		{"only green", func(s *Scenario) {
			s.Site.Proxy.Backends = s.Site.Proxy.Backends[2:]
			s.Events = nil
			s.Steps = s.Steps[:3]
		}, `x.json: site.proxy.backends: no backend serves before a deploy`},
		{"green without deploy", func(s *Scenario) { s.Events = s.Events[:1] }, `x.json: site.proxy.backends[2].color: green backends run only after a deploy: add a "deploy" event`},
		{"cgi program", func(s *Scenario) { s.Site.CGI.Program = "/bin/sh" }, `x.json: site.cgi.program: "/bin/sh": want hello.sh or hello.c`},
		{"cgi location", func(s *Scenario) { s.Site.CGI.Location = "cgi" }, `x.json: site.cgi.location: "cgi": want a path`},
		{"cgi on proxy", func(s *Scenario) { s.Site.CGI.Location = "/app/" }, `x.json: site.cgi.location: "/app/" is also the proxy's location`},
		{"no steps", func(s *Scenario) { s.Steps = nil; s.Events = nil }, `x.json: steps: empty: want at least one step`},
		{"both", func(s *Scenario) { s.Steps[0].Rate = 5 }, `x.json: steps[0]: want connections or rate, not both`},
		{"neither", func(s *Scenario) { s.Steps[0].Connections = 0 }, `x.json: steps[0]: want connections, rate or idle`},
		{"idle and load", func(s *Scenario) { s.Steps[2].Connections = 5 }, `x.json: steps[2]: an idle step only holds idle connections and probes`},
		{"too many connections", func(s *Scenario) { s.Steps[0].Connections = 60001 }, `x.json: steps[0].connections: 60001 is above the limit of 60000`},
		{"negative connections", func(s *Scenario) { s.Steps[0].Connections = -1 }, `x.json: steps[0].connections: -1: must not be negative`},
		{"negative rate", func(s *Scenario) { s.Steps[1].Rate = -1 }, `x.json: steps[1].rate: -1: must not be negative`},
		{"too many idle", func(s *Scenario) { s.Steps[2].Idle = 60001 }, `x.json: steps[2].idle: 60001 is above the limit of 60000`},
		{"probe rate", func(s *Scenario) { s.Steps[2].ProbeRate = -2 }, `x.json: steps[2].probe_rate: -2: must not be negative`},
		{"rate connections without rate", func(s *Scenario) { s.Steps[0].RateConnections = 3 }, `x.json: steps[0].rate_connections: caps the connections of a rate step: set rate too`},
		{"open rate without idle", func(s *Scenario) { s.Steps[0].OpenRate = 3 }, `x.json: steps[0].open_rate: is how fast idle connections open: set idle too`},
		{"idle without keep-alive", func(s *Scenario) { s.Steps[2].KeepAlive = &off }, `x.json: steps[2].keepalive: idle connections need keep-alive`},
		{"slow path without readers", func(s *Scenario) { s.Steps[0].SlowPath = "/x" }, `x.json: steps[0].slow_readers: 0, but slow_path or slow_rate is set`},
		{"slow path", func(s *Scenario) { s.Steps[3].SlowPath = "x y" }, `x.json: steps[3].slow_path: "x y": want a request path`},
		{"path", func(s *Scenario) { s.Steps[0].Path = "1k.txt" }, `x.json: steps[0].path: "1k.txt": want a request path starting with '/'`},
		{"path with space", func(s *Scenario) { s.Steps[0].Path = "/a b" }, `x.json: steps[0].path: "/a b": want a request path`},
		{"label", func(s *Scenario) { s.Steps[0].Label = "a/b" }, `x.json: steps[0].label: "a/b": want 1 to 64 printable characters`},
		{"same names", func(s *Scenario) { s.Steps[1].Label = "c=10" }, `x.json: steps[1]: name "c=10" is also steps[0]'s: give one a label`},
		{"target", func(s *Scenario) { s.Steps[3].Target = "a" }, `x.json: steps[3].target: "a": want "" (the server under test) or "backend:NAME"`},
		{"target unknown", func(s *Scenario) { s.Steps[3].Target = "backend:zz" }, `x.json: steps[3].target: backend "zz" is not in site.proxy.backends`},
		{"target green", func(s *Scenario) { s.Steps[3].Target = "backend:green" }, `x.json: steps[3].target: backend "green" is green: it runs only after a deploy`},
		{"tls without site tls", func(s *Scenario) { s.Steps[0].TLS = true }, `x.json: steps[0].tls: the site has no TLS: add "tls": {} to site`},
		{"tls to a backend", func(s *Scenario) { s.Site.TLS = &SiteTLS{}; s.Steps[3].TLS = true }, `x.json: steps[3].tls: the backends speak plain HTTP`},
		{"resume without tls", func(s *Scenario) { s.Steps[0].TLSResume = true }, `x.json: steps[0].tls_resume: resumes TLS sessions: set tls too`},
		{"tls key", func(s *Scenario) { s.Site.TLS = &SiteTLS{Key: "dsa"} }, `x.json: site.tls.key: "dsa": want ecdsa-p256 or rsa-2048`},
		{"tls curves", func(s *Scenario) { s.Site.TLS = &SiteTLS{Curves: []string{"X25519", "X448"}} }, `x.json: site.tls.curves[1]: "X448": want X25519`},
		{"tls curves list", func(s *Scenario) { s.Site.TLS = &SiteTLS{Curves: []string{"X25519,P-256"}} }, `x.json: site.tls.curves[0]: "X25519,P-256"`},
		{"step timeout", func(s *Scenario) { s.Steps[0].Timeout = Duration(time.Hour) }, `x.json: steps[0].timeout: 1h0m0s is above the limit of 10m0s`},
		{"event step", func(s *Scenario) { s.Events[0].Step = 4 }, `x.json: events[0].step: 4: want a step index from 0 to 3`},
		{"event late", func(s *Scenario) { s.Events[0].At = Duration(5 * time.Second) }, `x.json: events[0].at: 5s is not before the end of step 1 (5s)`},
		{"event late default", func(s *Scenario) { s.Events[0].Step = 0; s.Events[0].At = Duration(DefaultDuration) }, `x.json: events[0].at: 4s is not before the end of step 0 (4s)`},
		{"action", func(s *Scenario) { s.Events[0].Action = "reboot" }, `x.json: events[0].action: "reboot": want kill-backend or deploy`},
		{"kill without backend", func(s *Scenario) { s.Events[0].Backend = "" }, `x.json: events[0].backend: action "kill-backend" needs a backend`},
		{"kill unknown", func(s *Scenario) { s.Events[0].Backend = "zz" }, `x.json: events[0].backend: backend "zz" is not in site.proxy.backends`},
		{"kill twice", func(s *Scenario) { s.Events[1] = s.Events[0] }, `x.json: events[1].backend: backend "a" is killed twice`},
		{"deploy with backend", func(s *Scenario) { s.Events[1].Backend = "green" }, `x.json: events[1].backend: action "deploy" takes no backend`},
		{"deploy without colors", func(s *Scenario) {
			s.Site.Proxy.Backends = s.Site.Proxy.Backends[:1]
			s.Events = s.Events[1:]
		}, `x.json: events[0]: action "deploy" needs backends with color blue and green`},
		{"deploy on a direct step", func(s *Scenario) { s.Events[1].Step = 3 }, `x.json: events[1]: action "deploy" needs a step through the server (target ""), not "backend:a"`},
		{"two deploys", func(s *Scenario) { s.Events = append(s.Events, s.Events[1]) }, `x.json: events[2]: a second deploy: a scenario has at most one`},
		{"kill without proxy", func(s *Scenario) {
			s.Site.Proxy = nil
			s.Steps = s.Steps[:3]
			s.Steps[1].Path = "/1k.txt"
			s.Events = s.Events[:1]
		}, `x.json: events[0].backend: backend "a" is not in site.proxy.backends`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.edit(s)
			data, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse("x.json", data)
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			// The first error is the edit's; a few edits also break
			// what depends on the field.
			if msg := err.Error(); !strings.HasPrefix(msg, tt.want) {
				t.Errorf("error\n  %s\nwant a first error starting with\n  %s", msg, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "x.json" {
				t.Errorf("error %v is not an *Error of x.json", err)
			}
		})
	}
}

func TestParseManyErrors(t *testing.T) {
	s := base()
	for i := range s.Steps {
		s.Steps[i].Path = "bad"
	}
	s.Name = "BAD"
	data, _ := json.Marshal(s)
	_, err := Parse("x.json", data)
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "x.json: name:") || !strings.HasPrefix(lines[4], "x.json: steps[3].path:") {
		t.Errorf("errors:\n%s", err)
	}
	// Past maxErrors the rest is summed up.
	s = base()
	for range 30 {
		s.Steps = append(s.Steps, Step{Path: "bad", Connections: 1, Label: "x"})
	}
	data, _ = json.Marshal(s)
	_, err = Parse("x.json", data)
	lines = strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || lines[maxErrors] != "x.json: too many errors" {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestParseNameWithoutFile(t *testing.T) {
	s := base()
	s.Name = "other"
	data, _ := json.Marshal(s)
	if _, err := Parse("stdin", data); err != nil {
		t.Errorf("Parse with a name that is not a file: %v", err)
	}
}

func TestDurationJSON(t *testing.T) {
	for _, tt := range []struct {
		d    Duration
		want string
	}{{0, `"0s"`}, {Duration(250 * time.Millisecond), `"250ms"`}, {Duration(90 * time.Second), `"1m30s"`}} {
		b, err := json.Marshal(tt.d)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", time.Duration(tt.d), b, err, tt.want)
		}
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back != tt.d {
			t.Errorf("Unmarshal(%s) = %v, %v", b, back, err)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{`5`, `duration 5: want a string like "250ms"`},
		{`"-1s"`, `negative duration "-1s"`},
		{`"soon"`, `invalid duration "soon": want a Go duration like "250ms" or "5s"`},
		{`true`, `duration true: want a string like "250ms"`},
	} {
		var d Duration
		err := d.UnmarshalJSON([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("UnmarshalJSON(%s) = %v, want %s", tt.in, err, tt.want)
		}
	}
	d := Duration(time.Second)
	if err := d.UnmarshalJSON([]byte("null")); err != nil || d != Duration(time.Second) {
		t.Errorf("UnmarshalJSON(null) = %v, %v", d, err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, _ := json.Marshal(base())
	if s, err := Load(write("x.json", good)); err != nil || s.Name != "x" {
		t.Fatalf("Load(x.json) = %v, %v", s, err)
	}
	p := write("y.json", good)
	if _, err := Load(p); err == nil || err.Error() != p+`: name: "x" differs from the file's name "y.json"` {
		t.Errorf("Load(y.json): %v", err)
	}
	p = write("x.txt", good)
	if _, err := Load(p); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), ".json") {
		t.Errorf("Load(x.txt): %v", err)
	}
	if _, err := Load(filepath.Join(dir, "none.json")); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "none.json") {
		t.Errorf("Load(missing): %v", err)
	}
	p = write("big.json", bytes.Repeat([]byte(" "), MaxFileSize+10))
	if _, err := Load(p); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(big): %v", err)
	}
	p = write("bad.json", []byte("{\n  \"name\": \"bad\",\n  \"quick\": \"yes\"\n}"))
	if _, err := Load(p); err == nil || err.Error() != p+`:3:12: quick: want true or false, got string "yes"` {
		t.Errorf("Load(bad): %v", err)
	}
}

// TestRoundTrip checks that every embedded scenario writes back as JSON
// that parses to the same scenario.
func TestRoundTrip(t *testing.T) {
	for _, s := range append(allScenarios(t), base()) {
		b1, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(s.Name+".json", b1)
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.Name, err, b1)
		}
		b2, _ := json.Marshal(back)
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s: round trip differs:\n%s\n%s", s.Name, b1, b2)
		}
	}
}

func TestErrorString(t *testing.T) {
	for _, tt := range []struct {
		e    Error
		want string
	}{
		{Error{File: "a.json", Line: 2, Col: 3, Field: "steps[0]", Msg: "m"}, "a.json:2:3: steps[0]: m"},
		{Error{File: "a.json", Field: "name", Msg: "m"}, "a.json: name: m"},
		{Error{File: "a.json", Msg: "m"}, "a.json: m"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
