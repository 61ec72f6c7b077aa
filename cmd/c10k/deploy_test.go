package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/cgi"
)

// runMainEnv makes the test binary run main instead of the tests: the
// deploy test starts its backends from it, as the c10k binary.
const runMainEnv = "C10K_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	// A cgi core child started by a test's c10k serve is this binary
	// too, with the cgi core's own environment.
	if os.Getenv(runMainEnv) == "1" || cgi.IsChild() {
		main() // exits
	}
	os.Exit(m.Run())
}

// freeAddr returns a 127.0.0.1 address free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startSelf starts this test binary as c10k with args, in its own
// process group; the test's cleanup kills the group and reaps it.
func startSelf(t *testing.T, args ...string) (pid int, done <-chan struct{}) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	go func() { cmd.Wait(); close(ch) }()
	t.Cleanup(func() {
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		<-ch
	})
	return cmd.Process.Pid, ch
}

// xBackend GETs url and returns the status and the X-Backend header.
func xBackend(url string) (int, string) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, ""
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Backend")
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const deployConf = `pid c10k.pid;
events {}
http {
    access_log off;
    upstream app {
        server BLUE weight=5; # blue
    }
    server {
        listen LISTEN;
        location / { proxy_pass http://app; }
    }
}
`

// TestDeployCommand runs c10k deploy's own code path end to end: c10k
// serve (in this process, so the SIGHUP comes here) writes the pid file
// its config names, the deploy reads it, starts green from the --start
// command, checks the switched config as serve -t, reloads, confirms
// through --check-url and stops blue by --old-pid; serve removes the
// pid file when it stops.
func TestDeployCommand(t *testing.T) {
	dir := t.TempDir()
	listen, blue, green := freeAddr(t), freeAddr(t), freeAddr(t)
	conf := filepath.Join(dir, "site.conf")
	text := strings.NewReplacer("BLUE", blue, "LISTEN", listen).Replace(deployConf)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	bluePID, blueDone := startSelf(t, "backend", "--listen", blue, "--name", "blue")
	eventually(t, "blue", func() bool { code, _ := xBackend("http://" + blue + "/health"); return code == 200 })

	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	var serveCode int
	g.Go(func() error {
		serveCode = runServe(ctx, []string{"--core", "event", "-c", conf, "--error-log", filepath.Join(dir, "error.log")})
		return nil
	})
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			g.Wait()
		}
	}
	t.Cleanup(stop)
	pidFile := filepath.Join(dir, "c10k.pid")
	eventually(t, "the pid file", func() bool {
		b, err := os.ReadFile(pidFile)
		return err == nil && string(b) == strconv.Itoa(os.Getpid())+"\n"
	})
	url := "http://" + listen + "/"
	if code, name := xBackend(url); code != 200 || name != "blue" {
		t.Fatalf("before the deploy: %d from %q", code, name)
	}

	start := "C10K_TEST_RUN_MAIN=1 '" + os.Args[0] + "' backend --listen {addr} --name {color}"
	code := runDeploy(context.Background(), []string{"--config", conf, "--upstream", "app", "--pid-file", pidFile,
		"--blue", blue, "--green", green, "--start", start, "--drain", "100ms", "--health-timeout", "10s",
		"--check-url", url, "--old-pid", strconv.Itoa(bluePID)})
	greenPIDFile := filepath.Join(dir, "deploy-app-green.pid")
	if b, err := os.ReadFile(greenPIDFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			t.Cleanup(func() {
				unix.Kill(-pid, unix.SIGKILL)
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, 0, nil)
			})
		}
	}
	if code != 0 {
		t.Fatalf("c10k deploy exited %d", code)
	}
	if c, name := xBackend(url); c != 200 || name != "green" {
		t.Errorf("after the deploy: %d from %q, want green", c, name)
	}
	select {
	case <-blueDone:
	case <-time.After(10 * time.Second):
		t.Error("blue still runs")
	}
	got, _ := os.ReadFile(conf)
	if want := strings.Replace(text, "server "+blue+" weight=5; # blue", "server "+green+" weight=5; # blue", 1); string(got) != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}
	if bak, _ := os.ReadFile(conf + ".bak"); string(bak) != text {
		t.Errorf("backup:\n%s", bak)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "deploy-app-green.log")); !strings.Contains(string(log), "listening on "+green) {
		t.Errorf("green's log: %q", log)
	}

	stop()
	if serveCode != 0 {
		t.Errorf("serve exited %d", serveCode)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file after serve stopped: %v", err)
	}
}

// TestServePIDFile: no pid directive, no file (not even nginx's
// default logs/nginx.pid); a pid file that cannot be written stops
// serve, as nginx.
func TestServePIDFile(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "site.conf")
	os.WriteFile(conf, []byte(siteConf("127.0.0.1:0", "v1", "")), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if code := runServe(ctx, []string{"--core", "event", "-c", conf, "--error-log", filepath.Join(dir, "error.log")}); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("serve without pid left files: %v", ents)
	}

	os.WriteFile(conf, []byte("pid nowhere/c10k.pid;\n"+siteConf("127.0.0.1:0", "v1", "")), 0o644)
	if code := runServe(context.Background(), []string{"--core", "event", "-c", conf, "--error-log", filepath.Join(dir, "error.log")}); code != 1 {
		t.Errorf("serve with an unwritable pid file exited %d, want 1", code)
	}
}

func TestDeployBadInput(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "site.conf")
	os.WriteFile(conf, []byte(strings.NewReplacer("BLUE", "127.0.0.1:8081", "LISTEN", "127.0.0.1:0").Replace(deployConf)), 0o644)
	base := []string{"--config", conf, "--upstream", "app", "--pid", strconv.Itoa(os.Getpid()),
		"--blue", "127.0.0.1:8081", "--green", "127.0.0.1:8082"}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"-h"}, 0},
		{[]string{"--bogus"}, 2},
		{append(base, "--start", "x {addr}", "extra"), 2},
		{base, 2}, // no --start
		{append(base, "--start", "x"), 2},
		{append(base, "--start", "x {addr}", "--pid-file", "p"), 2},
		{append(base, "--start", "x {addr}", "--stop-old", "y", "--old-pid", "5"), 2},
		{append(base, "--start", "x {addr}", "--green", "127.0.0.1:8081"), 2},
		{append(base, "--start", "x {addr}", "--drain", "soon"), 2},
		// Well-formed, but the upstream is not there: a failed step.
		{append(base, "--start", "x {addr}", "--upstream", "api"), 1},
		{append(base, "--start", "x {addr}", "--config", filepath.Join(dir, "none.conf")), 1},
	} {
		if got := runDeploy(context.Background(), tc.args); got != tc.want {
			t.Errorf("c10k deploy %q: exit %d, want %d", tc.args, got, tc.want)
		}
	}
	if _, err := os.Stat(conf + ".bak"); err == nil {
		t.Error("a failed deploy wrote a backup")
	}
}
