package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/backend"
)

func TestReferences(t *testing.T) {
	want := []struct {
		name, pair, pkg string
		cgi             bool
		reload          syscall.Signal
	}{
		{"nginx", "event", "nginx-light", false, syscall.SIGHUP},
		{"apache-event", "event", "apache2", true, syscall.SIGUSR1},
		{"apache-worker", "thread", "apache2", true, syscall.SIGUSR1},
		{"apache-prefork", "thread", "apache2", true, syscall.SIGUSR1},
		{"lighttpd", "event", "lighttpd", true, syscall.SIGUSR1},
	}
	refs := References()
	if len(refs) != len(want) {
		t.Fatalf("References() has %d servers, want %d", len(refs), len(want))
	}
	for i, w := range want {
		r := refs[i]
		if r.Name != w.name || r.Pair != w.pair || r.Package != w.pkg || r.CGI != w.cgi || r.Reload != w.reload {
			t.Errorf("References()[%d] = %+v, want %+v", i, r, w)
		}
		got, ok := LookupReference(w.name)
		if !ok || got != r {
			t.Errorf("LookupReference(%q) = %+v, %v", w.name, got, ok)
		}
	}
	refs[0].Name = "changed"
	if References()[0].Name != "nginx" {
		t.Error("References() returns the package's own slice")
	}
	if _, ok := LookupReference("apache"); ok {
		t.Error(`LookupReference("apache") found a server`)
	}
}

func TestReferenceBinary(t *testing.T) {
	for _, r := range References() {
		t.Run(r.Name, func(t *testing.T) {
			bin, err := r.Binary()
			if err != nil {
				if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), r.Package) ||
					!strings.Contains(err.Error(), "make reference") {
					t.Fatalf("Binary() error %q: want ErrNotInstalled naming %s and `make reference`", err, r.Package)
				}
				return
			}
			if !filepath.IsAbs(bin) || !executable(bin) {
				t.Errorf("Binary() = %q: not an absolute path to an executable", bin)
			}
		})
	}
	if _, err := (Reference{Name: "httpd"}).Binary(); err == nil || errors.Is(err, ErrNotInstalled) {
		t.Errorf("Binary() of an unknown server: error %v", err)
	}
}

func TestReferenceCommand(t *testing.T) {
	e := Env{Dir: "/run/c10k"}
	tests := []struct {
		name, conf string
		want       []string
	}{
		{"nginx", "nginx.conf", []string{"/bin/x", "-p", "/run/c10k/", "-e", "/run/c10k/error.log", "-c", "/run/c10k/nginx.conf"}},
		{"apache-event", "/etc/x/httpd.conf", []string{"/bin/x", "-D", "FOREGROUND", "-f", "/etc/x/httpd.conf"}},
		{"apache-worker", "httpd.conf", []string{"/bin/x", "-D", "FOREGROUND", "-f", "/run/c10k/httpd.conf"}},
		{"apache-prefork", "httpd.conf", []string{"/bin/x", "-D", "FOREGROUND", "-f", "/run/c10k/httpd.conf"}},
		{"lighttpd", "lighttpd.conf", []string{"/bin/x", "-D", "-f", "/run/c10k/lighttpd.conf"}},
	}
	for _, tt := range tests {
		r, _ := LookupReference(tt.name)
		if got := r.Command("/bin/x", tt.conf, e); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Command = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// refGoldenEnv is the fixed Env of the golden configs: every backend of
// the scenario running on 127.0.0.1:9001 and up.
func refGoldenEnv(s *Scenario, color string) Env {
	e := Env{
		Listen:   netip.MustParseAddrPort("127.0.0.1:8080"),
		Root:     "/srv/c10k/html",
		Dir:      "/srv/c10k/run",
		Backends: map[string]netip.AddrPort{},
		Color:    color,
	}
	if p := s.Site.Proxy; p != nil {
		for i, b := range p.Backends {
			e.Backends[b.Name] = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(9001+i))
		}
	}
	if c := s.Site.CGI; c != nil {
		e.CGIProgram = "/srv/c10k/run/" + strings.TrimSuffix(c.Program, ".c")
	}
	goldenTLS(&e)
	return e
}

// refColors returns the upstream colors worth a golden config: blue, and
// green when the scenario deploys.
func refColors(s *Scenario) []string {
	if s.Site.Proxy != nil && slices.ContainsFunc(s.Site.Proxy.Backends, func(b Backend) bool { return b.Color == "green" }) {
		return []string{"blue", "green"}
	}
	return []string{"blue"}
}

func TestReferenceConfigGolden(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("All() returned no scenario")
	}
	for _, r := range References() {
		for _, s := range all {
			for _, color := range refColors(s) {
				name := s.Name
				if color != "blue" {
					name += "-" + color
				}
				t.Run(r.Name+"/"+name, func(t *testing.T) {
					file, text, err := r.Config(s, refGoldenEnv(s, color))
					if err != nil {
						t.Fatal(err)
					}
					if filepath.Base(file) != file || filepath.Ext(file) != ".conf" {
						t.Errorf("config file name %q: want a base name ending in .conf", file)
					}
					golden(t, filepath.Join("testdata", "reference", r.Name, name+".conf"), text)
				})
			}
		}
	}
}

// refTestSite is a small site with every feature: two static files, a
// proxy with blue, green and uncolored backends, and a CGI program.
func refTestSite() Site {
	return Site{
		Files: []File{{Path: "1k.txt", Size: 1024}, {Path: "big/64k.bin", Size: 64 << 10}},
		Proxy: &Proxy{Location: "/app/", Backends: []Backend{
			{Name: "blue", Color: "blue", Weight: 2},
			{Name: "green", Color: "green"},
			{Name: "shared", Weight: 1},
			{Name: "green2", Color: "green"}, // a deploy changes the upstream's size
		}},
		CGI: &CGI{Location: "/cgi-bin/hello", Program: "hello.sh"},
	}
}

func refTestEnv() Env {
	return Env{
		Listen: netip.MustParseAddrPort("127.0.0.1:8080"),
		Root:   "/srv/html",
		Dir:    "/srv/run",
		Backends: map[string]netip.AddrPort{
			"blue":   netip.MustParseAddrPort("127.0.0.1:9001"),
			"green":  netip.MustParseAddrPort("127.0.0.1:9002"),
			"shared": netip.MustParseAddrPort("127.0.0.1:9003"),
		},
		CGIProgram: "/srv/run/hello.sh",
	}
}

func TestReferenceConfigSite(t *testing.T) {
	s := &Scenario{Name: "site", Site: refTestSite()}
	tests := []struct {
		ref   string
		color string
		want  []string // lines of the config
		not   []string // in no line but comments
	}{
		{"apache-event", "", []string{
			"LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so",
			"LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so",
			"Listen 127.0.0.1:8080",
			`DocumentRoot "/srv/html"`,
			"KeepAliveTimeout 75",
			"MaxKeepAliveRequests 1000",
			"MaxRequestWorkers 400",
			`    BalancerMember "http://127.0.0.1:9001" loadfactor=2 retry=10`,
			`    BalancerMember "http://127.0.0.1:9003" loadfactor=1 retry=10`,
			"    ProxySet lbmethod=byrequests",
			`ProxyPass "/app/" "balancer://app/app/"`,
			`ScriptSock "/srv/run/cgid.sock"`,
			`ScriptAliasMatch "^/cgi-bin/hello$" "/srv/run/hello.sh"`,
		}, []string{"9002", "CustomLog", "mod_cgi.so"}},
		{"apache-worker", "green", []string{
			"LoadModule mpm_worker_module /usr/lib/apache2/modules/mod_mpm_worker.so",
			`    BalancerMember "http://127.0.0.1:9002" loadfactor=1 retry=10`,
			`    BalancerMember "http://127.0.0.1:9003" loadfactor=1 retry=10`,
		}, []string{"9001"}},
		{"apache-prefork", "blue", []string{
			"LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so",
			"LoadModule cgi_module /usr/lib/apache2/modules/mod_cgi.so",
			"MaxRequestWorkers 256",
			"ServerLimit 256",
		}, []string{"ScriptSock", "mod_cgid.so", "ThreadsPerChild"}},
		{"lighttpd", "", []string{
			`server.modules = ( "mod_alias", "mod_cgi", "mod_proxy" )`,
			`server.bind = "127.0.0.1"`,
			"server.port = 8080",
			"server.max-keep-alive-idle = 75",
			"server.max-keep-alive-requests = 1000",
			"server.max-connections = 19000",
			`proxy.balance = "round-robin"`,
			`proxy.server = ( "/app/" => (`,
			`    ( "host" => "127.0.0.1", "port" => 9001, "disable-time" => 10 ),`,
			`    ( "host" => "127.0.0.1", "port" => 9003, "disable-time" => 10 ),`,
			`$HTTP["url"] == "/cgi-bin/hello" {`,
			`    alias.url = ( "/cgi-bin/hello" => "/srv/run/hello.sh" )`,
			`    cgi.assign = ( "" => "" )`,
		}, []string{"9002", "mod_accesslog", "stream-response-body = 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.ref+"/"+colorName(tt.color), func(t *testing.T) {
			r, _ := LookupReference(tt.ref)
			e := refTestEnv()
			e.Color = tt.color
			_, text, err := r.Config(s, e)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(text, "\n")
			for _, w := range tt.want {
				if !slices.Contains(lines, w) {
					t.Errorf("no line %q in\n%s", w, text)
				}
			}
			for _, l := range lines {
				if strings.HasPrefix(strings.TrimSpace(l), "#") {
					continue
				}
				for _, n := range tt.not {
					if strings.Contains(l, n) {
						t.Errorf("%q in line %q of\n%s", n, l, text)
					}
				}
			}
		})
	}
}

func TestReferenceConfigKnobs(t *testing.T) {
	off := false
	st := refTestSite()
	st.KeepaliveTimeout = Duration(2500 * time.Millisecond)
	st.KeepaliveRequests = 50
	st.WorkerConnections = 3000
	st.Proxy.Balance = "least_conn"
	st.Proxy.Buffering = &off
	st.Proxy.Backends[0].Weight = 500 // above Apache's loadfactor range
	st.Proxy.Backends[2].Weight = 100
	s := &Scenario{Name: "knobs", Site: st}

	r, _ := LookupReference("apache-event")
	_, text, err := r.Config(s, refTestEnv())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"KeepAliveTimeout 2500ms",
		"MaxKeepAliveRequests 50",
		"LoadModule lbmethod_bybusyness_module /usr/lib/apache2/modules/mod_lbmethod_bybusyness.so",
		"    ProxySet lbmethod=bybusyness",
		`    BalancerMember "http://127.0.0.1:9001" loadfactor=100 retry=10 flushpackets=on`,
		`    BalancerMember "http://127.0.0.1:9003" loadfactor=20 retry=10 flushpackets=on`,
	} {
		if !slices.Contains(strings.Split(text, "\n"), w) {
			t.Errorf("apache: no line %q in\n%s", w, text)
		}
	}

	r, _ = LookupReference("lighttpd")
	_, text, err = r.Config(s, refTestEnv())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"server.max-keep-alive-idle = 3",
		"server.max-keep-alive-requests = 50",
		"server.max-connections = 3000",
		"server.max-fds = 8000",
		`proxy.balance = "fair"`,
		`$HTTP["url"] =^ "/app/" {`,
		"    server.stream-response-body = 2",
	} {
		if !slices.Contains(strings.Split(text, "\n"), w) {
			t.Errorf("lighttpd: no line %q in\n%s", w, text)
		}
	}
	// 500:100 is 5:1 — six entries.
	if n := strings.Count(text, `"host" =>`); n != 6 {
		t.Errorf("lighttpd: %d proxy.server entries, want 6:\n%s", n, text)
	}
}

func TestReferenceSmoothWeightedOrder(t *testing.T) {
	ms := func(weights ...int) []member {
		var out []member
		for i, w := range weights {
			out = append(out, member{Backend: Backend{Name: string(rune('a' + i)), Weight: w}})
		}
		return out
	}
	tests := []struct {
		weights []int
		want    string
	}{
		{[]int{5, 1, 1}, "aabacaa"}, // nginx's own example
		{[]int{1, 1, 1}, "abc"},
		{[]int{0, 0}, "ab"},              // 0 is weight 1
		{[]int{4, 2}, "aba"},             // divided by 2
		{[]int{3, 1}, "aaba"},            // smooth: not aaab
		{[]int{600, 500}, "abababababa"}, // divided by 100
	}
	for _, tt := range tests {
		order, err := swrr(ms(tt.weights...))
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		for _, m := range order {
			got.WriteString(m.Name)
		}
		if got.String() != tt.want {
			t.Errorf("swrr(%v) = %s, want %s", tt.weights, got.String(), tt.want)
		}
	}
	if _, err := swrr(ms(1000, 999)); !errors.Is(err, ErrInvalid) {
		t.Errorf("swrr(1000, 999): error %v, want ErrInvalid", err)
	}
}

func TestReferenceConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		refs []string
		site func(*Site)
		env  func(*Env)
		want error // nil: any error
	}{
		{"no backend running", []string{"apache-event", "lighttpd"}, nil, func(e *Env) { e.Backends = nil }, ErrEnv},
		{"green not running", []string{"apache-worker", "lighttpd"}, func(s *Site) { s.Proxy.Backends = s.Proxy.Backends[:2] },
			func(e *Env) { e.Color = "green"; delete(e.Backends, "green") }, ErrEnv},
		{"relative root", []string{"apache-prefork", "lighttpd"}, nil, func(e *Env) { e.Root = "html" }, ErrEnv},
		{"no listen address", []string{"apache-event", "lighttpd"}, nil, func(e *Env) { e.Listen = netip.AddrPort{} }, ErrEnv},
		{"no CGI program", []string{"apache-event", "lighttpd"}, nil, func(e *Env) { e.CGIProgram = "" }, ErrEnv},
		{"quote in dir", []string{"apache-event", "lighttpd"}, nil, func(e *Env) { e.Dir = `/srv/"run` }, ErrUnsafePath},
		{"variable in root", []string{"apache-event"}, nil, func(e *Env) { e.Root = "/srv/${HOME}" }, ErrUnsafePath},
		{"socket path too long", []string{"apache-event", "apache-worker"}, nil,
			func(e *Env) { e.Dir = "/" + strings.Repeat("d", 100) }, ErrEnv},
		{"unknown balance", []string{"apache-event", "lighttpd"}, func(s *Site) { s.Proxy.Balance = "hash" }, nil, nil},
	}
	for _, tt := range tests {
		for _, name := range tt.refs {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				st := refTestSite()
				if tt.site != nil {
					tt.site(&st)
				}
				e := refTestEnv()
				if tt.env != nil {
					tt.env(&e)
				}
				r, _ := LookupReference(name)
				_, _, err := r.Config(&Scenario{Name: "bad", Site: st}, e)
				if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
					t.Fatalf("Config: error %v, want %v", err, tt.want)
				}
				if !strings.HasPrefix(err.Error(), name+": scenario bad: ") {
					t.Errorf("error %q does not name the server and scenario", err)
				}
			})
		}
	}
	for _, r := range References() {
		if _, _, err := r.Config(nil, refTestEnv()); err == nil {
			t.Errorf("%s: Config(nil) did not fail", r.Name)
		}
	}
	if _, _, err := (Reference{Name: "httpd"}).Config(&Scenario{}, refTestEnv()); err == nil {
		t.Error("Config of an unknown server did not fail")
	}
	// The prefork MPM runs CGI without mod_cgid's socket: a long Dir is fine.
	e := refTestEnv()
	e.Dir = "/" + strings.Repeat("d", 100)
	r, _ := LookupReference("apache-prefork")
	if _, _, err := r.Config(&Scenario{Name: "long", Site: refTestSite()}, e); err != nil {
		t.Errorf("apache-prefork with a long Dir: %v", err)
	}
}

// refInstalled returns the reference's binary or skips the test.
func refInstalled(t *testing.T, r Reference) string {
	t.Helper()
	bin, err := r.Binary()
	if err != nil {
		t.Skip(err)
	}
	return bin
}

// refSyntaxCheck returns the argv that checks conf without serving.
func refSyntaxCheck(r Reference, bin, conf string, e Env) []string {
	switch {
	case r.Name == RefNginx:
		return append(r.Command(bin, conf, e), "-t", "-q")
	case r.apache():
		return []string{bin, "-t", "-f", conf}
	default:
		return []string{bin, "-tt", "-f", conf}
	}
}

// refRunDir makes a directory under the system temp dir that every user
// can read and search (Apache's children run as www-data), short enough
// for mod_cgid's socket, removed when the test ends.
func refRunDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "c10kref")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// refOpenUp makes everything under dir readable and its directories and
// executables searchable by every user.
func refOpenUp(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode().Perm() | 0o444
		if d.IsDir() || mode&0o100 != 0 {
			mode |= 0o111
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReferenceConfigSyntax checks every scenario's config with each
// refInstalled server's own checker.
func TestReferenceConfigSyntax(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range References() {
		t.Run(r.Name, func(t *testing.T) {
			bin := refInstalled(t, r)
			for _, s := range all {
				t.Run(s.Name, func(t *testing.T) {
					dir := refRunDir(t)
					e := refGoldenEnv(s, "blue")
					e.Root, e.Dir = filepath.Join(dir, "html"), filepath.Join(dir, "run")
					for _, d := range []string{e.Root, e.Dir} {
						if err := os.Mkdir(d, 0o755); err != nil {
							t.Fatal(err)
						}
					}
					testTLS(t, s, &e, e.Dir)
					if e.CGIProgram != "" {
						e.CGIProgram = filepath.Join(e.Dir, filepath.Base(e.CGIProgram))
						if err := os.WriteFile(e.CGIProgram, []byte("#!/bin/sh\n"), 0o755); err != nil {
							t.Fatal(err)
						}
					}
					file, text, err := r.Config(s, e)
					if err != nil {
						t.Fatal(err)
					}
					conf := filepath.Join(e.Dir, file)
					if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
					ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
					defer cancel()
					argv := refSyntaxCheck(r, bin, conf, e)
					out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
					if err != nil {
						t.Errorf("%q: %v\n%s\nconfig:\n%s", argv, err, out, text)
					}
				})
			}
		})
	}
}

// refStartBackend runs a `c10k backend` in-process on a free loopback port
// until ctx is done; wg waits for it.
func refStartBackend(t *testing.T, ctx context.Context, wg *sync.WaitGroup, name string) netip.AddrPort {
	t.Helper()
	ready := make(chan net.Addr, 1)
	failed := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := backend.Run(ctx, backend.Options{Listen: "127.0.0.1:0", Name: name, ShutdownTimeout: time.Second}, func(a net.Addr) { ready <- a })
		if err != nil {
			failed <- err
		}
	}()
	select {
	case a := <-ready:
		return a.(*net.TCPAddr).AddrPort()
	case err := <-failed:
		t.Fatalf("backend %s: %v", name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("backend %s did not start in 10s", name)
	}
	return netip.AddrPort{}
}

// refFreePort returns a loopback address nothing listens on (for now):
// a random port below the ephemeral range, where other tests' :0
// listeners and outgoing connections do not land, else one the kernel
// picks.
func refFreePort(t *testing.T) netip.AddrPort {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000)))
		if err == nil {
			defer l.Close()
			return l.Addr().(*net.TCPAddr).AddrPort()
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).AddrPort()
}

// refServer is a reference server started by a test, in its own process
// group.
type refServer struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait returned
	err  error         // cmd.Wait's, after done
	log  *os.File
}

func refStartServer(t *testing.T, argv []string, logPath string) *refServer {
	t.Helper()
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group: Apache prefork signals its whole group on
	// stop, and a failed test kills the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("start %q: %v", argv, err)
	}
	s := &refServer{cmd: cmd, done: make(chan struct{}), log: log}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends SIGTERM and waits up to 15s, then kills the process group.
func (s *refServer) stop(t *testing.T) {
	t.Helper()
	defer s.log.Close()
	select {
	case <-s.done:
		return
	default:
	}
	pid := s.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		t.Errorf("server %d did not stop 15s after SIGTERM: killing its process group", pid)
		syscall.Kill(-pid, syscall.SIGKILL)
		<-s.done
	}
	// Children it left behind (none should be) go with the group.
	syscall.Kill(-pid, syscall.SIGKILL)
}

func (s *refServer) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// refGet fetches url on a fresh connection; it returns status, body and
// the X-Backend header.
func refGet(client *http.Client, url string) (int, []byte, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header.Get("X-Backend"), err
}

// refEventually polls check every 50ms until it returns nil, the server
// exits or limit passes; it returns check's last error.
func refEventually(s *refServer, limit time.Duration, check func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if s.exited() {
			return fmt.Errorf("server exited (%v): %w", s.err, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReferenceLive runs every installed reference server on a small
// site with a proxy and a CGI program, checks what it serves, reloads
// it onto the green upstream and stops it.
func TestReferenceLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the reference servers run as root (nginx: user root; Apache drops to www-data)")
	}
	for _, r := range References() {
		t.Run(r.Name, func(t *testing.T) {
			bin := refInstalled(t, r)
			refTestLive(t, r, bin)
		})
	}
}

func refTestLive(t *testing.T, r Reference, bin string) {
	s := &Scenario{Name: "live", Site: refTestSite()}
	dir := refRunDir(t)
	e := Env{
		Root:  filepath.Join(dir, "html"),
		Dir:   filepath.Join(dir, "run"),
		Color: "blue",
	}
	prog, err := Prepare(&s.Site, e.Root, e.Dir)
	if err != nil {
		t.Fatal(err)
	}
	e.CGIProgram = prog
	refOpenUp(t, dir)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	e.Backends = map[string]netip.AddrPort{}
	for _, b := range s.Site.Proxy.Backends {
		e.Backends[b.Name] = refStartBackend(t, ctx, &wg, b.Name)
	}

	// Another test may take the free port before the server binds it:
	// then the server exits, and it gets another port.
	var (
		srv     *refServer
		conf    string
		logPath string
	)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer func() {
		if t.Failed() && srv != nil {
			srv.stop(t)
			for _, f := range []string{logPath, filepath.Join(e.Dir, "error.log")} {
				b, _ := os.ReadFile(f)
				t.Logf("%s:\n%s", f, b)
			}
		}
	}()
	for attempt := 1; ; attempt++ {
		e.Listen = refFreePort(t)
		file, text, err := r.Config(s, e)
		if err != nil {
			t.Fatal(err)
		}
		conf = filepath.Join(e.Dir, file)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		logPath = filepath.Join(dir, fmt.Sprintf("server-%d.log", attempt))
		srv = refStartServer(t, r.Command(bin, conf, e), logPath)
		err = refEventually(srv, 15*time.Second, func() error {
			code, body, _, err := refGet(client, "http://"+e.Listen.String()+"/1k.txt")
			switch {
			case err != nil:
				return err
			case code != http.StatusOK || len(body) != 1024:
				return fmt.Errorf("GET /1k.txt: %d with %d bytes, want 200 with 1024", code, len(body))
			}
			return nil
		})
		if err == nil {
			break
		}
		if !srv.exited() || attempt == 3 {
			t.Fatalf("%s never served /1k.txt on %s: %v", r.Name, e.Listen, err)
		}
		t.Logf("%s on %s: %v; trying another port", r.Name, e.Listen, err)
	}
	base := "http://" + e.Listen.String()

	if code, body, _, err := refGet(client, base+"/big/64k.bin"); err != nil || code != 200 || len(body) != 64<<10 {
		t.Errorf("GET /big/64k.bin: %d with %d bytes (%v), want 200 with %d", code, len(body), err, 64<<10)
	}
	if code, _, _, err := refGet(client, base+"/missing.txt"); err != nil || code != http.StatusNotFound {
		t.Errorf("GET /missing.txt: %d (%v), want 404", code, err)
	}

	// The proxy: blue and shared (weights 2:1), the path unchanged.
	seen := map[string]int{}
	for range 6 {
		code, body, name, err := refGet(client, base+"/app/x?q=1")
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET /app/x?q=1: %d (%v) %s", code, err, body)
		}
		var echo backend.Echo
		if err := json.Unmarshal(body, &echo); err != nil {
			t.Fatalf("GET /app/x?q=1: body %q: %v", body, err)
		}
		if echo.URI != "/app/x?q=1" || echo.Backend != name {
			t.Errorf("GET /app/x?q=1: backend %s saw %q (X-Backend %q), want /app/x?q=1", echo.Backend, echo.URI, name)
		}
		seen[name]++
	}
	if seen["blue"] == 0 || seen["shared"] == 0 || len(seen) != 2 {
		t.Errorf("6 proxied requests went to %v, want blue and shared only", seen)
	}

	if r.CGI {
		code, body, _, err := refGet(client, base+"/cgi-bin/hello")
		if err != nil || code != http.StatusOK || !bytes.HasPrefix(body, []byte("hello")) {
			t.Errorf("GET /cgi-bin/hello: %d %q (%v), want 200 hello...", code, body, err)
		}
	}

	// A deploy: the config now points at green; Reload makes the
	// running server use it.
	e.Color = "green"
	_, text, err := r.Config(s, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	pid := srv.cmd.Process.Pid
	if err := syscall.Kill(pid, r.Reload); err != nil {
		t.Fatalf("reload (%v): %v", r.Reload, err)
	}
	err = refEventually(srv, 20*time.Second, func() error {
		code, _, name, err := refGet(client, base+"/app/y")
		switch {
		case err != nil:
			return err
		case code != http.StatusOK || name != "green":
			return fmt.Errorf("GET /app/y: %d from %q, want 200 from green", code, name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after %v: %v", r.Reload, err)
	}
	if srv.cmd.Process.Pid != pid || srv.exited() {
		t.Errorf("the server did not survive its reload signal %v", r.Reload)
	}

	// Stopped within the bound; the exit status is not checked:
	// lighttpd exits 1 when SIGTERM finds connections still open.
	srv.stop(t)
}
