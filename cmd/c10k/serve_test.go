package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/errlog"
	"github.com/c10k/c10k/servers/thread"
)

// reloadConf is a site on LISTEN whose / answers VERSION; EXTRA is
// more lines at the end of the http block (line 8).
const reloadConf = `events {}
http {
    access_log off;
    server {
        listen LISTEN;
        location / { return 200 "VERSION"; }
    }
EXTRA}
`

// siteConf renders reloadConf.
func siteConf(listen, version, extra string) string {
	return strings.NewReplacer("LISTEN", listen, "VERSION", version, "EXTRA", extra).Replace(reloadConf)
}

// logLines collects error-log lines as "[level] msg".
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(level, msg string) {
	l.mu.Lock()
	l.lines = append(l.lines, "["+level+"] "+msg)
	l.mu.Unlock()
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// TestServeReload drives what c10k serve does on SIGHUP against a thread
// core on 127.0.0.1:0: a good file is swapped in (through the signal
// channel serveReloading watches), while a broken file and one with a
// new listen address are refused with one error-log line naming the
// file and line, and the config before them keeps serving.
func TestServeReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "site.conf")
	write := func(conf string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(siteConf("127.0.0.1:0", "v1", ""))
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logLines{}
	opts := engine.Options{ErrorLog: logs.add}
	e, err := newEngine(file, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := thread.New(e, thread.Options{Workers: 4, ShutdownTimeout: 5 * time.Second, ErrorLog: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addrs()[0].String()
	r := &reloader{file: file, opts: opts, srv: srv, listeners: e.Listeners()}
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return serveReloading(ctx, srv, hup, r.reload) })
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("serveReloading: %v", err)
		}
	})
	wantServed(t, addr, "v1")

	// A good file, on the signal.
	write(siteConf("127.0.0.1:0", "v2", ""))
	hup <- syscall.SIGHUP
	reloaded := "[notice] reloaded " + file
	for deadline := time.Now().Add(10 * time.Second); !contains(logs.all(), reloaded); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the error log after SIGHUP: %q", reloaded, logs.all())
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantServed(t, addr, "v2")

	for _, tc := range []struct {
		name string
		conf string
		want string // the one error-log line
	}{
		{"broken", siteConf("127.0.0.1:0", "v3", "    lcation / { }\n"),
			"[emerg] reload refused: " + file + `:8: unknown directive "lcation"`},
		{"new listen", siteConf("127.0.0.1:0", "v3", "    server { listen 127.0.0.1:1; }\n"),
			"[emerg] reload refused: " + file + ":8: listen 127.0.0.1:1 is new: listen changes need a restart"},
		{"listen gone", siteConf("127.0.0.1:1", "v3", ""),
			"[emerg] reload refused: " + file + ": listen 127.0.0.1:0 is gone: listen changes need a restart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.conf)
			before := len(logs.all())
			if err := r.reload(); err == nil {
				t.Error("reload succeeded, want it refused")
			}
			if got := logs.all()[before:]; len(got) != 1 || got[0] != tc.want {
				t.Errorf("error log: %q, want the one line %q", got, tc.want)
			}
			wantServed(t, addr, "v2")
		})
	}
}

// wantServed fails t unless GET / on addr answers 200 with body.
func wantServed(t *testing.T, addr, body string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("GET /: %v", err)
	}
	resp := string(b)
	if !strings.HasPrefix(resp, "HTTP/1.1 200 ") || !strings.HasSuffix(resp, "\r\n\r\n"+body) {
		t.Errorf("GET / answered\n%s\nwant 200 %q", resp, body)
	}
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// TestListenChange covers listenChange's comparison: the order of the
// addresses does not matter, socket options do.
func TestListenChange(t *testing.T) {
	a := engine.Listener{Addr: "127.0.0.1:8080", Backlog: 511}
	b := engine.Listener{Addr: "127.0.0.1:8081", Backlog: 511}
	cfg := &config.Config{HTTP: &config.HTTP{}}
	for _, tc := range []struct {
		was, now []engine.Listener
		want     string // "" for no change
	}{
		{[]engine.Listener{a, b}, []engine.Listener{b, a}, ""},
		{[]engine.Listener{a}, []engine.Listener{a, b}, "f: listen 127.0.0.1:8081 is new: listen changes need a restart"},
		{[]engine.Listener{a, b}, []engine.Listener{a}, "f: listen 127.0.0.1:8081 is gone: listen changes need a restart"},
		{[]engine.Listener{a}, []engine.Listener{{Addr: a.Addr, Backlog: 1024}}, "f: listen 127.0.0.1:8080: backlog=1024 reuseport=false ssl=false, bound with backlog=511 reuseport=false ssl=false: listen changes need a restart"},
	} {
		got := fmt.Sprint(listenChange("f", cfg, tc.was, tc.now))
		if tc.want == "" && got != "<nil>" || tc.want != "" && got != tc.want {
			t.Errorf("listenChange(%v → %v) = %s, want %q", tc.was, tc.now, got, tc.want)
		}
	}
}

// TestServeErrorLog checks that c10k serve writes its error log where
// error_log says, at its level, and that a reload switches to the new
// config's file and level, or is refused, with the old log kept, when
// the new file cannot be opened.
func TestServeErrorLog(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "site.conf")
	first, second := filepath.Join(dir, "first.log"), filepath.Join(dir, "second.log")
	write := func(errorLog, version string) {
		t.Helper()
		conf := "error_log " + errorLog + ";\n" + siteConf("127.0.0.1:0", version, "")
		if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write("first.log warn", "v1")
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := errorLogPath("", cfg); got != first {
		t.Fatalf("errorLogPath = %q, want %q", got, first)
	}
	elog, err := errlog.Open(errorLogPath("", cfg), cfg.ErrorLogLevel)
	if err != nil {
		t.Fatal(err)
	}
	defer elog.Close()
	opts := engine.Options{ErrorLog: errlog.Func(elog)}
	e, err := newEngine(file, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := thread.New(e, thread.Options{Workers: 2, ShutdownTimeout: 5 * time.Second, ErrorLog: elog})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	r := &reloader{file: file, opts: opts, srv: srv, listeners: e.Listeners(), log: elog}

	// At warn, the notice of a reload is not written; the new config's
	// file and level take over after it.
	write("second.log notice", "v2")
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	write("second.log notice", "v3")
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	if got := read(first); strings.Contains(got, "reloaded") {
		t.Errorf("%s (warn) has a notice line:\n%s", first, got)
	}
	if got := read(second); !strings.Contains(got, "[notice] ") || !strings.Contains(got, ": reloaded "+file) {
		t.Errorf("%s (notice) lacks the reload's notice:\n%s", second, got)
	}

	// A file that cannot be opened refuses the reload, in the old log.
	write(filepath.Join(dir, "missing", "x.log"), "v4")
	if err := r.reload(); err == nil {
		t.Fatal("a reload to an error_log in a missing directory was accepted")
	}
	want := ": reload refused: open() \"" + filepath.Join(dir, "missing", "x.log") + "\" failed (2: No such file or directory)"
	if got := read(second); !strings.Contains(got, want) {
		t.Errorf("%s lacks %q:\n%s", second, want, got)
	}

	for _, tc := range []struct{ flag, errorLog, want string }{
		{"", "logs/error.log", "stderr"}, // nginx's default: c10k serve uses stderr
		{"", "stderr", "stderr"},
		{"/tmp/flag.log", "first.log", "/tmp/flag.log"},
		{"", "/abs/e.log", "/abs/e.log"},
	} {
		if got := errorLogPath(tc.flag, &config.Config{ErrorLog: tc.errorLog, Prefix: dir}); got != tc.want {
			t.Errorf("errorLogPath(%q, error_log %s) = %q, want %q", tc.flag, tc.errorLog, got, tc.want)
		}
	}
}

// TestServeFlushesAccessLogAtExit: c10k serve writes what an access log
// buffered (buffer= with a flush= longer than the test) when it stops on
// SIGTERM, on every core, as nginx flushes its logs when it exits.
func TestServeFlushesAccessLogAtExit(t *testing.T) {
	for _, core := range []string{"thread", "event", "cgi", "nethttp"} {
		t.Run(core, func(t *testing.T) {
			dir := t.TempDir()
			addr := freeAddr(t)
			logPath := filepath.Join(dir, "access.log")
			conf := "events {}\nhttp {\n    access_log " + logPath + " combined buffer=64k flush=1h;\n" +
				"    server {\n        listen " + addr + ";\n        location / { return 200 \"ok\"; }\n    }\n}\n"
			file := filepath.Join(dir, "site.conf")
			if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			pid, done := startSelf(t, "serve", "--core", core, "-c", file, "--error-log", filepath.Join(dir, "error.log"))
			const requests = 3
			for i := 0; i < requests; i++ {
				eventually(t, "a 200 from the server", func() bool {
					code, _ := xBackend("http://" + addr + "/")
					return code == 200
				})
			}
			if b, _ := os.ReadFile(logPath); len(b) != 0 {
				t.Logf("lines written before the exit (the buffer filled?):\n%s", b)
			}
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("c10k serve did not exit on SIGTERM")
			}
			b, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(b), "\"GET / HTTP/1.1\" 200"); n != requests {
				t.Errorf("access log after the exit has %d request lines, want %d:\n%s", n, requests, b)
			}
		})
	}
}
