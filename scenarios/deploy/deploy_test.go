package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/loadgen"
	"github.com/c10k/c10k/scenarios/internal/testexe"
)

// exe is the c10k binary the tests run, built once by TestMain.
var exe string

func TestMain(m *testing.M) { os.Exit(testexe.Main(m, &exe)) }

// proc is a process a test started, in its own process group; the test's
// cleanup kills the group and reaps it.
type proc struct {
	pid  int
	log  string
	done chan struct{}
}

func start(t *testing.T, dir, name string, argv ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{pid: cmd.Process.Pid, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		unix.Kill(-p.pid, unix.SIGKILL)
		<-p.done
	})
	return p
}

// exited reports whether p has exited (and was reaped).
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// killGroup kills the process group a deploy started (its leader is
// pid) and reaps the leader, which is this process's child.
func killGroup(pid int) {
	unix.Kill(-pid, unix.SIGKILL)
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil)
}

// leftovers lists the processes still running the test's c10k binary.
func leftovers() []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || zombie(pid) {
			continue
		}
		if target, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && target == exe {
			out = append(out, e.Name())
		}
	}
	return out
}

// checkNoLeftovers registers, first, a cleanup that runs after every
// other one of the test and fails it if a process of the binary is left.
func checkNoLeftovers(t *testing.T) {
	t.Cleanup(func() {
		for range 100 {
			if len(leftovers()) == 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("processes of %s left running: %v", exe, leftovers())
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// backendOf GETs url and returns the status and X-Backend.
func backendOf(url string) (int, string, error) {
	code, hdr, err := get(context.Background(), url)
	if err != nil {
		return 0, "", err
	}
	return code, hdr.Get("X-Backend"), nil
}

// waitFor waits until ok holds, for at most 20 s.
func waitFor(t *testing.T, what string, p *proc, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if p != nil && p.exited() {
			b, _ := os.ReadFile(p.log)
			t.Fatalf("waiting for %s: the process exited:\n%s", what, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveT checks a config file with the binary's serve -t.
func serveT(file string) error {
	out, err := exec.Command(exe, "serve", "-t", "-c", file).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

const siteConf = `pid c10k.pid;
events {}
http {
    access_log off;
    upstream app {
        # the live color
        server BLUE weight=2 max_fails=0;
        keepalive 16;
    }
    server {
        listen LISTEN;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location = /down { return 503; }
    }
}
`

// site is a c10k serve child proxying to a blue backend child.
type site struct {
	dir, conf   string
	listen      string
	blue, green string
	server      *proc
	blueProc    *proc
}

func newSite(t *testing.T, core string) *site {
	t.Helper()
	s := &site{dir: t.TempDir(), listen: freeAddr(t), blue: freeAddr(t), green: freeAddr(t)}
	s.conf = filepath.Join(s.dir, "site.conf")
	text := strings.NewReplacer("BLUE", s.blue, "LISTEN", s.listen).Replace(siteConf)
	if err := os.WriteFile(s.conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s.blueProc = start(t, s.dir, "blue", exe, "backend", "--listen", s.blue, "--name", "blue", "--shutdown-timeout", "2s")
	waitFor(t, "blue's health", s.blueProc, func() bool {
		code, _, err := backendOf("http://" + s.blue + "/health")
		return err == nil && code == 200
	})
	s.server = start(t, s.dir, "server", exe, "serve", "--core", core, "-c", s.conf,
		"--error-log", filepath.Join(s.dir, "error.log"), "--shutdown-timeout", "2s")
	waitFor(t, "the server's pid file and blue through it", s.server, func() bool {
		b, err := os.ReadFile(filepath.Join(s.dir, "c10k.pid"))
		if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(s.server.pid) {
			return false
		}
		code, name, err := backendOf(s.url())
		return err == nil && code == 200 && name == "blue"
	})
	return s
}

func (s *site) url() string { return "http://" + s.listen + "/" }

func (s *site) options(log *syncBuffer) Options {
	return Options{
		Config: s.conf, Upstream: "app", PIDFile: filepath.Join(s.dir, "c10k.pid"),
		Blue: s.blue, Green: s.green,
		Start:         "'" + exe + "' backend --listen {addr} --name {color} --shutdown-timeout 2s",
		HealthTimeout: 10 * time.Second, Drain: 300 * time.Millisecond,
		CheckURL: s.url(), OldPID: s.blueProc.pid, Check: serveT, Log: log,
	}
}

// syncBuffer is a bytes.Buffer safe for the deploy and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestDeployUnderLoad is claim 4 end to end on every core: under a
// steady open-model load of 200 requests per second through a real
// c10k serve, a deploy from blue to green fails no request, and
// afterwards every answer comes from green.
func TestDeployUnderLoad(t *testing.T) {
	for _, core := range []string{"thread", "event", "cgi", "nethttp"} {
		t.Run(core, func(t *testing.T) {
			checkNoLeftovers(t)
			s := newSite(t, core)
			var log syncBuffer
			o := s.options(&log)

			var g errgroup.Group
			var sum *loadgenSummary
			var loadEnd time.Time
			g.Go(func() error {
				res, err := loadgen.Run(context.Background(), loadgen.Options{
					Request:  loadgen.Request{Method: http.MethodGet, URL: s.url()},
					Rate:     200,
					Duration: 3 * time.Second,
					Timeout:  5 * time.Second,
				})
				loadEnd = time.Now()
				if err != nil {
					return err
				}
				sum = &loadgenSummary{requests: res.Requests, statuses: res.StatusCodes, errors: res.Errors, first: res.FirstError}
				return nil
			})
			time.Sleep(500 * time.Millisecond) // blue serves a while first
			res, err := Run(context.Background(), o)
			if res != nil {
				t.Cleanup(func() { killGroup(res.PID) })
			}
			deployed := time.Now()
			if gerr := g.Wait(); gerr != nil {
				t.Fatalf("load: %v", gerr)
			}
			if err != nil {
				t.Fatalf("deploy: %v\n%s", err, log.String())
			}
			if deployed.After(loadEnd) {
				t.Logf("the deploy ended %v after the load: only part of it was under load", deployed.Sub(loadEnd))
			}
			failed := sum.failed()
			t.Logf("%s core: %d requests sent at 200/s across the deploy, %d failed; statuses %v", core, sum.requests, failed, sum.statuses)
			if sum.requests == 0 || failed != 0 {
				t.Errorf("%d of %d requests failed across the blue-green deploy (errors %v, first %q)\ndeploy:\n%s",
					failed, sum.requests, sum.errors, sum.first, log.String())
			}

			// Afterwards: green only, blue stopped, the config switched
			// with the previous one in site.conf.bak.
			for i := range 20 {
				code, name, err := backendOf(s.url())
				if err != nil || code != 200 || name != "green" {
					t.Fatalf("request %d after the deploy: %d from %q, %v; want 200 from green", i, code, name, err)
				}
			}
			if !res.Stopped || res.Live != Blue || res.Next != Green {
				t.Errorf("result %+v", res)
			}
			waitFor(t, "blue to exit", nil, s.blueProc.exited)
			conf, _ := os.ReadFile(s.conf)
			bak, _ := os.ReadFile(s.conf + ".bak")
			if !strings.Contains(string(conf), "server "+s.green+" weight=2 max_fails=0;") || strings.Contains(string(conf), s.blue) {
				t.Errorf("switched config:\n%s", conf)
			}
			if !strings.Contains(string(bak), "server "+s.blue+" weight=2 max_fails=0;") {
				t.Errorf("backup:\n%s", bak)
			}
			for _, want := range []string{"live: blue", "healthy: GET", "switched: ", "check: ", "reload: SIGHUP sent to pid " + strconv.Itoa(s.server.pid),
				"confirmed: ", "X-Backend green", "stopped: blue", "done: green"} {
				if !strings.Contains(log.String(), want) {
					t.Errorf("deploy log lacks %q:\n%s", want, log.String())
				}
			}
			if s.server.exited() {
				t.Error("the server exited: a restart, not a reload")
			}
		})
	}
}

type loadgenSummary struct {
	requests int64
	statuses map[string]int64
	errors   map[string]int64
	first    string
}

// failed counts the requests that failed or did not answer 2xx.
func (s *loadgenSummary) failed() int64 {
	var n int64
	for _, c := range s.errors {
		n += c
	}
	var bad int64
	for code, c := range s.statuses {
		if !strings.HasPrefix(code, "2") {
			bad += c
		}
	}
	return max(n, bad)
}

// TestDeployUnhealthy: a new color that never answers its health check
// is stopped; the config and the server stay as they were.
func TestDeployUnhealthy(t *testing.T) {
	checkNoLeftovers(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "site.conf")
	text := "events {}\nhttp {\n    upstream app { server " + blueAddr + "; }\n    server { listen 127.0.0.1:0; location / { proxy_pass http://app; } }\n}\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// The "server": a process SIGHUP would end.
	srv := start(t, dir, "server", "sleep", "60")
	var log syncBuffer
	res, err := Run(context.Background(), Options{
		Config: conf, Upstream: "app", PID: srv.pid, Blue: blueAddr, Green: greenAddr,
		Start: "exec sleep 60 # {addr}", HealthTimeout: 300 * time.Millisecond, Log: &log,
	})
	if !errors.Is(err, ErrStart) || !strings.Contains(err.Error(), "/health did not answer 2xx within 300ms") {
		t.Fatalf("error %v, want ErrStart for the health check\n%s", err, log.String())
	}
	if res == nil || res.PID <= 0 || running(res.PID) {
		t.Fatalf("result %+v: the new color should have been started and stopped", res)
	}
	if b, _ := os.ReadFile(conf); string(b) != text {
		t.Errorf("the config changed:\n%s", b)
	}
	for _, f := range []string{conf + ".bak", filepath.Join(dir, "deploy-app-green.pid")} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s exists", f)
		}
	}
	if srv.exited() {
		t.Error("the server got a signal")
	}
	if !strings.Contains(log.String(), "stopped: green") {
		t.Errorf("log:\n%s", log.String())
	}

	// A start command that fails at once is reported as such.
	res, err = Run(context.Background(), Options{
		Config: conf, Upstream: "app", PID: srv.pid, Blue: blueAddr, Green: greenAddr,
		Start: "echo no such app {addr}; exit 3", HealthTimeout: 10 * time.Second,
	})
	if res != nil {
		t.Cleanup(func() { killGroup(res.PID) })
	}
	if !errors.Is(err, ErrStart) || !strings.Contains(err.Error(), "exited with status 3") {
		t.Errorf("error %v, want ErrStart: exited with status 3", err)
	}
	if b, _ := os.ReadFile(res.StartLog); !strings.Contains(string(b), "no such app "+greenAddr) {
		t.Errorf("start log %s: %q", res.StartLog, b)
	}

	// A server that is not running: nothing starts.
	dead := start(t, dir, "dead", "true")
	<-dead.done
	if _, err := Run(context.Background(), Options{
		Config: conf, Upstream: "app", PID: dead.pid, Blue: blueAddr, Green: greenAddr, Start: "sleep 60 # {addr}",
	}); !errors.Is(err, ErrServer) {
		t.Errorf("dead server: %v, want ErrServer", err)
	}
}

// TestDeployRollback: a reload whose check URL never answers 2xx puts
// the previous config back, reloads again and stops the new color; the
// old one serves on.
func TestDeployRollback(t *testing.T) {
	checkNoLeftovers(t)
	s := newSite(t, "thread")
	orig, _ := os.ReadFile(s.conf)
	var log syncBuffer
	o := s.options(&log)
	o.CheckURL = s.url() + "down"
	o.HealthTimeout = time.Second
	res, err := Run(context.Background(), o)
	if res != nil {
		t.Cleanup(func() { killGroup(res.PID) })
	}
	if !errors.Is(err, ErrConfirm) || !strings.Contains(err.Error(), "status 503") {
		t.Fatalf("error %v, want ErrConfirm with status 503\n%s", err, log.String())
	}
	if b, _ := os.ReadFile(s.conf); string(b) != string(orig) {
		t.Errorf("config not rolled back:\n%s", b)
	}
	if b, _ := os.ReadFile(s.conf + ".bak"); string(b) != string(orig) {
		t.Errorf("backup:\n%s", b)
	}
	for _, want := range []string{"rollback: " + s.conf + " restored", "rollback: SIGHUP sent", "stopped: green"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if running(res.PID) {
		t.Error("green still runs")
	}
	if s.blueProc.exited() {
		t.Error("blue was stopped")
	}
	// The server reloads the restored config: blue again.
	waitFor(t, "blue through the server again", s.server, func() bool {
		code, name, err := backendOf(s.url())
		return err == nil && code == 200 && name == "blue"
	})
}
