package scenarios

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
)

// nginxGoldenEnv is the fixed Env of the golden files: backends on
// 127.0.0.1:9001 and up in the order of the site's backends.
func nginxGoldenEnv(s *Scenario, color string) Env {
	e := Env{
		Listen:     netip.MustParseAddrPort("127.0.0.1:8080"),
		Root:       "/srv/c10k/root",
		Dir:        "/srv/c10k/run",
		Color:      color,
		CGIProgram: "/srv/c10k/run/hello.sh",
		Backends:   backendAddrs(s, 9001),
	}
	goldenTLS(&e)
	return e
}

// goldenTLS gives e the fixed TLS listener and certificate paths of the
// golden files; a site without TLS leaves them out of its config.
func goldenTLS(e *Env) {
	e.TLSListen = netip.MustParseAddrPort("127.0.0.1:8443")
	e.TLSCert, e.TLSKey = "/srv/c10k/tls/cert.pem", "/srv/c10k/tls/key.pem"
}

// testTLS gives e a TLS listener and a real certificate under dir when
// s's site has TLS, for the tests that load it (c10k's engine, nginx -t,
// apache2 -t, lighttpd -tt).
func testTLS(t *testing.T, s *Scenario, e *Env, dir string) {
	t.Helper()
	if s.Site.TLS == nil {
		return
	}
	f, err := WriteTLS(filepath.Join(dir, "tls"), s.Site.TLS.Key)
	if err != nil {
		t.Fatal(err)
	}
	e.TLSListen = netip.AddrPortFrom(e.Listen.Addr(), e.Listen.Port()+1)
	e.TLSCert, e.TLSKey = f.Cert, f.Key
}

// backendAddrs gives every backend of s an address on 127.0.0.1 from
// port up.
func backendAddrs(s *Scenario, port uint16) map[string]netip.AddrPort {
	m := make(map[string]netip.AddrPort)
	if s.Site.Proxy != nil {
		for i, b := range s.Site.Proxy.Backends {
			m[b.Name] = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port+uint16(i))
		}
	}
	return m
}

// upstreamColors returns the upstream colors worth a config for s: "blue", and
// "green" when a deploy switches to it.
func upstreamColors(s *Scenario) []string {
	if hasColor(&s.Site, "green") {
		return []string{"blue", "green"}
	}
	return []string{"blue"}
}

// confName is the golden file of scenario s, color and flavor f.
func confName(s *Scenario, color string, f Flavor) string {
	name := s.Name
	if color != "blue" {
		name += "." + color
	}
	return name + "." + f.String() + ".conf"
}

func allScenarios(t *testing.T) []*Scenario {
	t.Helper()
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func TestNginxConfGolden(t *testing.T) {
	dir := filepath.Join("testdata", "nginx")
	want := make(map[string]bool)
	for _, s := range allScenarios(t) {
		for _, color := range upstreamColors(s) {
			for _, f := range []Flavor{ForC10k, ForNginx} {
				name := confName(s, color, f)
				want[name] = true
				t.Run(name, func(t *testing.T) {
					got, err := NginxConf(s, nginxGoldenEnv(s, color), f)
					if err != nil {
						t.Fatal(err)
					}
					golden(t, filepath.Join(dir, name), got)
				})
			}
		}
	}
	// No stale golden file stays behind.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			if *update {
				os.Remove(filepath.Join(dir, e.Name()))
				continue
			}
			t.Errorf("%s: no scenario writes this golden file", filepath.Join(dir, e.Name()))
		}
	}
}

// TestNginxConfC10kLoads checks that c10k's own loader and engine take
// every ForC10k config, with the site in it: root, upstream members and
// weights, balancing, proxy and CGI locations.
func TestNginxConfC10kLoads(t *testing.T) {
	for _, s := range allScenarios(t) {
		for _, color := range upstreamColors(s) {
			t.Run(s.Name+"."+color, func(t *testing.T) {
				tmp := t.TempDir()
				root, run := filepath.Join(tmp, "root dir"), filepath.Join(tmp, "run")
				prog, err := Prepare(&s.Site, root, run)
				if errors.Is(err, ErrNoCompiler) {
					t.Skip(err)
				}
				if err != nil {
					t.Fatal(err)
				}
				e := Env{
					Listen:     netip.MustParseAddrPort("127.0.0.1:0"),
					Root:       root,
					Dir:        run,
					Color:      color,
					CGIProgram: prog,
					Backends:   backendAddrs(s, 9001),
				}
				testTLS(t, s, &e, run)
				text, err := NginxConf(s, e, ForC10k)
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(tmp, "site.conf")
				if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				cfg, err := config.Load(file)
				if err != nil {
					t.Fatalf("config.Load: %v\n%s", err, text)
				}
				eng, err := engine.New(cfg, engine.Options{})
				if err != nil {
					t.Fatalf("engine.New: %v\n%s", err, text)
				}
				if len(eng.Listeners()) == 0 {
					t.Fatalf("no listener:\n%s", text)
				}
				checkLoaded(t, s, e, cfg)
			})
		}
	}
}

func checkLoaded(t *testing.T, s *Scenario, e Env, cfg *config.Config) {
	t.Helper()
	if len(cfg.HTTP.Servers) != 1 {
		t.Fatalf("%d servers, want 1", len(cfg.HTTP.Servers))
	}
	srv := cfg.HTTP.Servers[0]
	if srv.Loc.Root != e.Root {
		t.Errorf("root %q, want %q", srv.Loc.Root, e.Root)
	}
	wc := s.Site.WorkerConnections
	if wc == 0 {
		wc = DefaultWorkerConnections
	}
	if cfg.WorkerConnections != wc || cfg.WorkerProcesses != 1 {
		t.Errorf("worker_processes %d, worker_connections %d; want 1, %d", cfg.WorkerProcesses, cfg.WorkerConnections, wc)
	}
	locs := make(map[string]*config.Location)
	for _, l := range srv.Locations {
		locs[l.Path] = l
	}
	if p := s.Site.Proxy; p != nil {
		up := cfg.HTTP.Upstreams[UpstreamName]
		if up == nil {
			t.Fatalf("no upstream %q", UpstreamName)
		}
		var want []string
		for _, b := range s.Site.Upstream(e.Color) {
			w := max(b.Weight, 1)
			want = append(want, fmt.Sprintf("%s weight=%d", e.Backends[b.Name], w))
		}
		var got []string
		for _, us := range up.Servers {
			got = append(got, fmt.Sprintf("%s weight=%d", us.Addr, us.Weight))
		}
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("upstream servers %v, want %v", got, want)
		}
		methods := map[string]config.Balance{"": config.BalanceRoundRobin, "least_conn": config.BalanceLeastConn, "ip_hash": config.BalanceIPHash, "random": config.BalanceRandom}
		if up.Method != methods[p.Balance] {
			t.Errorf("balance %v, want %q", up.Method, p.Balance)
		}
		l := locs[p.Location]
		if l == nil || l.ProxyPass == nil {
			t.Fatalf("no proxy location %q", p.Location)
		}
		if want := p.Buffering == nil || *p.Buffering; l.ProxyBuffering != want {
			t.Errorf("proxy_buffering %v, want %v", l.ProxyBuffering, want)
		}
	}
	if g := s.Site.CGI; g != nil {
		l := locs[g.Location]
		if l == nil || l.Match != config.MatchExact || l.CGIPass != e.CGIProgram {
			t.Errorf("CGI location %q: %+v, want exact match with cgi_pass %q", g.Location, l, e.CGIProgram)
		}
	}
}

// TestNginxConfNginxTest runs `nginx -t` on every ForNginx config when
// nginx is installed.
func TestNginxConfNginxTest(t *testing.T) {
	const nginx = "/usr/sbin/nginx"
	if _, err := os.Stat(nginx); err != nil {
		t.Skipf("%s not installed", nginx)
	}
	for _, s := range allScenarios(t) {
		for _, color := range upstreamColors(s) {
			t.Run(s.Name+"."+color, func(t *testing.T) {
				tmp := t.TempDir()
				root, run := filepath.Join(tmp, "root"), filepath.Join(tmp, "run")
				if err := os.MkdirAll(run, 0o755); err != nil {
					t.Fatal(err)
				}
				if _, err := Prepare(&Site{Files: s.Site.Files}, root, run); err != nil {
					t.Fatal(err)
				}
				e := Env{
					Listen:   netip.MustParseAddrPort("127.0.0.1:8080"),
					Root:     root,
					Dir:      run,
					Color:    color,
					Backends: backendAddrs(s, 9001),
				}
				testTLS(t, s, &e, run)
				text, err := NginxConf(s, e, ForNginx)
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(run, "nginx.conf")
				if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(nginx, "-t", "-p", run, "-e", filepath.Join(run, "startup.log"), "-c", file).CombinedOutput()
				if err != nil {
					t.Fatalf("nginx -t: %v\n%s\n%s", err, out, text)
				}
			})
		}
	}
}

func TestNginxConfEnvErrors(t *testing.T) {
	cgi, err := Lookup("cgi-vs-app")
	if err != nil {
		t.Fatal(err)
	}
	static, err := Lookup("static-1k")
	if err != nil {
		t.Fatal(err)
	}
	tlsCost, err := Lookup("tls-cost")
	if err != nil {
		t.Fatal(err)
	}
	good := nginxGoldenEnv(cgi, "")
	tests := []struct {
		name   string
		s      *Scenario
		f      Flavor
		edit   func(*Env)
		target error
		msg    string
	}{
		{"no listen", cgi, ForC10k, func(e *Env) { e.Listen = netip.AddrPort{} }, ErrEnv, "no listen address"},
		{"nginx port 0", static, ForNginx, func(e *Env) { e.Listen = netip.MustParseAddrPort("127.0.0.1:0") }, ErrEnv, "has no port"},
		{"no root", static, ForC10k, func(e *Env) { e.Root = "" }, ErrEnv, "no document root"},
		{"relative root", static, ForC10k, func(e *Env) { e.Root = "html" }, ErrEnv, `document root (Env.Root) "html" is not absolute`},
		{"nginx without dir", static, ForNginx, func(e *Env) { e.Dir = "" }, ErrEnv, "no private directory"},
		{"backend missing", cgi, ForC10k, func(e *Env) { e.Backends = nil }, ErrEnv, `no backend of the blue upstream (app) has an address in Env.Backends`},
		{"backend port 0", cgi, ForNginx, func(e *Env) { e.Backends = map[string]netip.AddrPort{"app": netip.MustParseAddrPort("127.0.0.1:0")} }, ErrEnv, `backend "app" has no usable address (127.0.0.1:0)`},
		{"backend invalid", cgi, ForNginx, func(e *Env) { e.Backends = map[string]netip.AddrPort{"app": {}} }, ErrEnv, `backend "app" has no usable address`},
		{"bad color", cgi, ForC10k, func(e *Env) { e.Color = "red" }, ErrEnv, `color "red"`},
		{"cgi without program", cgi, ForC10k, func(e *Env) { e.CGIProgram = "" }, ErrEnv, "no CGI program"},
		{"variable in root", static, ForC10k, func(e *Env) { e.Root = "/srv/$host" }, ErrUnsafePath, "nginx reads as a variable"},
		{"newline in root", static, ForNginx, func(e *Env) { e.Root = "/srv/a\nb" }, ErrUnsafePath, "control character"},
		{"newline in dir", static, ForNginx, func(e *Env) { e.Dir = "/srv/a\nb" }, ErrUnsafePath, "control character"},
		{"no TLS listen", tlsCost, ForC10k, func(e *Env) { e.TLSListen = netip.AddrPort{} }, ErrEnv, "no TLS listen address"},
		{"nginx TLS port 0", tlsCost, ForNginx, func(e *Env) { e.TLSListen = netip.MustParseAddrPort("127.0.0.1:0") }, ErrEnv, "has no port"},
		{"TLS on the plain port", tlsCost, ForNginx, func(e *Env) { e.TLSListen = e.Listen }, ErrEnv, "is also the plain one"},
		{"no certificate", tlsCost, ForC10k, func(e *Env) { e.TLSCert = "" }, ErrEnv, "no certificate"},
		{"relative key", tlsCost, ForNginx, func(e *Env) { e.TLSKey = "key.pem" }, ErrEnv, "is not absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good
			tt.edit(&e)
			_, err := NginxConf(tt.s, e, tt.f)
			if !errors.Is(err, tt.target) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want %v containing %q", err, tt.target, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "nginx.conf ("+tt.f.String()+") for scenario "+tt.s.Name+": ") {
				t.Errorf("error %q does not name the scenario and flavor", err)
			}
		})
	}
	// Without CGI, ForNginx needs no program and writes no CGI location.
	e := good
	e.CGIProgram = ""
	text, err := NginxConf(cgi, e, ForNginx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "cgi_pass") || strings.Contains(text, "/cgi-bin/") {
		t.Errorf("ForNginx config mentions CGI:\n%s", text)
	}
	if _, err := NginxConf(nil, e, ForC10k); err == nil {
		t.Error("NginxConf(nil) succeeded")
	}
	if _, err := NginxConf(static, e, Flavor(7)); err == nil || !strings.Contains(err.Error(), "unknown flavor") {
		t.Errorf("NginxConf(Flavor(7)): %v", err)
	}
}

// TestNginxConfQuoting checks that paths with characters nginx.conf
// treats specially reach c10k's loader unchanged.
func TestNginxConfQuoting(t *testing.T) {
	s, err := Lookup("cgi-vs-app")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"root dir", `quote"d`, `back\slash`, "semi;colon", "brace{}", "hash#", "single'quote"} {
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			root := filepath.Join(tmp, name)
			e := nginxGoldenEnv(s, "blue")
			e.Root = root
			e.CGIProgram = filepath.Join(root, "hello.sh")
			text, err := NginxConf(s, e, ForC10k)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(tmp, "site.conf")
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(file)
			if err != nil {
				t.Fatalf("config.Load: %v\n%s", err, text)
			}
			checkLoaded(t, s, e, cfg)
		})
	}
}

// TestNginxConfRunningBackends checks that the upstream lists the
// members with an address: those running.
func TestNginxConfRunningBackends(t *testing.T) {
	s, err := Lookup("backend-failure")
	if err != nil {
		t.Fatal(err)
	}
	e := nginxGoldenEnv(s, "")
	delete(e.Backends, "b")
	text, err := NginxConf(s, e, ForC10k)
	if err != nil {
		t.Fatal(err)
	}
	if want := "    upstream app {\n        server 127.0.0.1:9001;\n        server 127.0.0.1:9003;\n        keepalive 16;\n    }\n"; !strings.Contains(text, want) {
		t.Errorf("no\n%s\nin\n%s", want, text)
	}
	// Green backends running beside blue ones stay out of the blue
	// upstream, and the other way round.
	bg, err := Lookup("blue-green")
	if err != nil {
		t.Fatal(err)
	}
	for color, want := range map[string]string{"": "127.0.0.1:9001", "blue": "127.0.0.1:9001", "green": "127.0.0.1:9002"} {
		text, err := NginxConf(bg, nginxGoldenEnv(bg, color), ForNginx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, "server "+want+";") || strings.Count(text, "        server ") != 1 {
			t.Errorf("color %q: want only %s in the upstream:\n%s", color, want, text)
		}
	}
}

func TestNginxConfSiteSettings(t *testing.T) {
	off := false
	s := &Scenario{
		Name: "knobs",
		Site: Site{
			KeepaliveTimeout:  Duration(1500 * time.Millisecond),
			KeepaliveRequests: 50,
			WorkerConnections: 30000,
			Proxy: &Proxy{
				Location:  "/api/",
				Balance:   "least_conn",
				Buffering: &off,
				Keepalive: 4,
				Backends:  []Backend{{Name: "x", Weight: 5}, {Name: "y"}},
			},
		},
	}
	e := nginxGoldenEnv(s, "")
	for _, f := range []Flavor{ForC10k, ForNginx} {
		text, err := NginxConf(s, e, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"keepalive_timeout 1500ms;", "keepalive_requests 50;", "worker_connections 30000;",
			"least_conn;\n        server 127.0.0.1:9001 weight=5;\n        server 127.0.0.1:9002;\n        keepalive 4;",
			"location /api/ {", "proxy_buffering off;",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: no %q in\n%s", f, want, text)
			}
		}
		if f == ForNginx && !strings.Contains(text, "worker_rlimit_nofile 31000;") {
			t.Errorf("nginx: worker_rlimit_nofile not above worker_connections:\n%s", text)
		}
	}
}

func TestNginxTime(t *testing.T) {
	for _, tt := range []struct {
		d    float64 // seconds
		want string
	}{{75, "75s"}, {1.5, "1500ms"}, {0.0001, "1ms"}, {3600, "3600s"}} {
		if got := nginxTime(durationOf(tt.d)); got != tt.want {
			t.Errorf("nginxTime(%vs) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func durationOf(seconds float64) time.Duration {
	return time.Duration(seconds * float64(time.Second))
}

func TestFlavorString(t *testing.T) {
	for f, want := range map[Flavor]string{ForC10k: "c10k", ForNginx: "nginx", Flavor(9): "Flavor(" + strconv.Itoa(9) + ")"} {
		if got := f.String(); got != want {
			t.Errorf("Flavor(%d).String() = %q, want %q", int(f), got, want)
		}
	}
}
