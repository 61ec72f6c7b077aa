package runner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/c10k/c10k/reports"
	"github.com/c10k/c10k/scenarios"
)

// stack is what one step runs against: the backends and the server under
// test, started for the step and stopped after it. A url target's stack
// is empty but for the pid to sample.
type stack struct {
	r    *runner
	sc   *scenarioRun
	t    Target
	ref  *refInfo // reference targets
	raw  string   // the raw directory: configs, server.log, backend logs
	env  scenarios.Env
	conf string // the server's live config file

	mu       sync.Mutex
	server   *proc
	backends map[string]*proc
	direct   *proc // a "backend:NAME" step's backend, the server under test
}

func (r *runner) newStack(sc *scenarioRun, t Target, raw string) *stack {
	return &stack{r: r, sc: sc, t: t, ref: r.refs[t.Name], raw: raw, backends: make(map[string]*proc)}
}

// directBackend returns NAME of a step's "backend:NAME" target.
func directBackend(st scenarios.Step) (string, bool) {
	return strings.CutPrefix(st.Target, "backend:")
}

// up starts what step i needs and waits until it answers.
func (k *stack) up(ctx context.Context, i int) error {
	st := k.sc.s.Steps[i]
	dir, err := k.r.privateDir()
	if err != nil {
		return err
	}
	k.env = scenarios.Env{Root: k.sc.root, Dir: dir, CGIProgram: k.sc.cgi, Color: "blue",
		Backends: make(map[string]netip.AddrPort)}
	if name, ok := directBackend(st); ok {
		b, ok := k.sc.s.Site.Backend(name)
		if !ok {
			return fmt.Errorf("step %s: target %q: the site has no backend %q", st.Name(), st.Target, name)
		}
		// The backend is the server under test: it gets the server's CPU.
		p, addr, err := k.startBackend(ctx, b, k.r.pin.Server)
		if err != nil {
			return err
		}
		k.mu.Lock()
		k.direct = p
		k.mu.Unlock()
		k.env.Backends[name] = addr
		return nil
	}
	if p := k.sc.s.Site.Proxy; p != nil {
		for _, b := range p.Backends {
			if b.Color == "green" {
				continue
			}
			// Backends share the generator's CPU (inherited): the server's
			// is the server's alone.
			if _, _, err := k.startBackend(ctx, b, -1); err != nil {
				return err
			}
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	k.env.Listen = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	if k.sc.s.Site.TLS != nil {
		if port, err = freePort(); err != nil {
			return err
		}
		k.env.TLSListen = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
		k.env.TLSCert, k.env.TLSKey = k.sc.tls.Cert, k.sc.tls.Key
	}
	conf, err := k.writeConfig("")
	if err != nil {
		return err
	}
	k.conf = conf
	p, err := k.startServer(ctx, conf)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.server = p
	k.mu.Unlock()
	return nil
}

// down stops the server, then the backends, and keeps the server's own
// logs.
func (k *stack) down() {
	k.mu.Lock()
	srv, direct := k.server, k.direct
	bs := make([]*proc, 0, len(k.backends))
	for _, b := range k.backends {
		bs = append(bs, b)
	}
	k.mu.Unlock()
	if srv != nil {
		srv.stop(StopGrace)
	}
	if direct != nil {
		direct.stop(StopGrace)
	}
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Go(func() { b.stop(StopGrace) })
	}
	wg.Wait()
	if k.env.Dir != "" {
		k.keepLogs()
		os.RemoveAll(k.env.Dir)
	}
}

// keepLogs appends the logs a reference server wrote in its private
// directory to server.log.
func (k *stack) keepLogs() {
	ents, err := os.ReadDir(k.env.Dir)
	if err != nil {
		return
	}
	var out *os.File
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		in, err := os.Open(filepath.Join(k.env.Dir, e.Name()))
		if err != nil {
			continue
		}
		if out == nil {
			if out, err = os.OpenFile(filepath.Join(k.raw, "server.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
				in.Close()
				return
			}
			defer out.Close()
		}
		fmt.Fprintf(out, "---- %s (the server's own log)\n", e.Name())
		io.Copy(out, io.LimitReader(in, 1<<20))
		in.Close()
	}
}

// serverPID is the pid whose process tree is sampled: the server, or a
// direct step's backend; 0 when there is none.
func (k *stack) serverPID() int {
	if k.t.Kind == reports.KindURL {
		return k.t.PID
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.direct != nil:
		return k.direct.pid
	case k.server != nil:
		return k.server.pid
	}
	return 0
}

// serverProc is the process under test, nil for a url target.
func (k *stack) serverProc() *proc {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.direct != nil {
		return k.direct
	}
	return k.server
}

// url is where step i's requests go.
func (k *stack) url(i int) string {
	st := k.sc.s.Steps[i]
	if k.t.Kind == reports.KindURL {
		return strings.TrimSuffix(k.t.URL, "/") + st.Path
	}
	if name, ok := directBackend(st); ok {
		return "http://" + k.env.Backends[name].String() + st.Path
	}
	if st.TLS {
		return "https://" + k.env.TLSListen.String() + st.Path
	}
	return "http://" + k.env.Listen.String() + st.Path
}

// writeConfig writes the server's config for the current env, in the
// private directory (where a reference server reads it) and, for the
// record, in the raw directory. suffix names a variant ("green").
func (k *stack) writeConfig(suffix string) (string, error) {
	var file, text string
	var err error
	if k.t.Kind == reports.KindCore {
		file = "nginx.conf"
		text, err = scenarios.NginxConf(k.sc.conf, k.env, scenarios.ForC10k)
	} else {
		file, text, err = k.ref.ref.Config(k.sc.conf, k.env)
	}
	if err != nil {
		return "", fmt.Errorf("config for %s: %w", k.t.Name, err)
	}
	file = filepath.Base(file)
	live := filepath.Join(k.env.Dir, file)
	if err := os.WriteFile(live, []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("config for %s: %w", k.t.Name, err)
	}
	rec := file
	if suffix != "" {
		ext := filepath.Ext(file)
		rec = strings.TrimSuffix(file, ext) + "-" + suffix + ext
	}
	if err := os.WriteFile(filepath.Join(k.raw, rec), []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("config for %s: %w", k.t.Name, err)
	}
	return live, nil
}

// startServer starts the server on config conf, pinned to the server
// CPU, and waits until it answers.
func (k *stack) startServer(ctx context.Context, conf string) (*proc, error) {
	var argv []string
	logPath := filepath.Join(k.raw, "server.log")
	switch k.t.Kind {
	case reports.KindCore:
		argv = []string{k.r.exe, "serve", "--core", k.t.Name, "-c", conf, "--error-log", logPath, "--shutdown-timeout", "3s"}
	case reports.KindReference:
		// A C server keeps the soft descriptor limit it is given
		// (Go's runtime restores the original soft limit in children):
		// raise it to the hard limit first.
		argv = append([]string{"/bin/sh", "-c",
			`ulimit -n ` + strconv.FormatUint(k.r.hardNoFile(), 10) + ` 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`, "sh"},
			k.ref.ref.Command(k.ref.bin, conf, k.env)...)
	}
	p, err := k.r.procs.start("server "+k.t.Name, argv, k.env.Dir, logPath, k.r.pin.Server)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, p, "http://"+k.env.Listen.String()+"/", nil, ServerStartTimeout); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// startBackend starts backend b on a free port and waits for its
// /health.
func (k *stack) startBackend(ctx context.Context, b scenarios.Backend, cpu int) (*proc, netip.AddrPort, error) {
	port, err := freePort()
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	size, model, workers := b.Size, b.Model, b.Workers
	if size <= 0 {
		size = 1024
	}
	if model == "" {
		model = "async"
	}
	if workers <= 0 {
		workers = 1
	}
	argv := []string{k.r.exe, "backend", "--listen", addr.String(), "--name", b.Name,
		"--latency", time.Duration(b.Latency).String(), "--cpu", time.Duration(b.CPU).String(),
		"--size", strconv.FormatInt(size, 10), "--model", model, "--workers", strconv.Itoa(workers),
		"--shutdown-timeout", "2s"}
	p, err := k.r.procs.start("backend "+b.Name, argv, k.raw, filepath.Join(k.raw, "backend-"+fileName(b.Name)+".log"), cpu)
	if err != nil {
		return nil, addr, err
	}
	ok := func(code int) bool { return code == http.StatusOK }
	if err := waitHTTP(ctx, p, "http://"+addr.String()+"/health", ok, BackendStartTimeout); err != nil {
		p.kill()
		return nil, addr, err
	}
	k.mu.Lock()
	k.backends[b.Name] = p
	k.mu.Unlock()
	k.env.Backends[b.Name] = addr
	return p, addr, nil
}

// freePort returns a TCP port free on 127.0.0.1 a moment ago.
func freePort() (uint16, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("runner: find a free port: %w", err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}

// httpClient talks to the runner's own servers: no proxy from the
// environment, no keep-alive, no redirects followed.
var httpClient = &http.Client{
	Timeout:       time.Second,
	Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// get fetches url and returns its status code.
func get(ctx context.Context, url string) (int, error) {
	return getWith(ctx, httpClient, url)
}

// tlsClient is httpClient for https URLs whose certificate the CA of PEM
// file ca signed.
func tlsClient(ca string) (*http.Client, error) {
	pemBytes, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("runner: TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("runner: TLS CA %s: no PEM certificate", ca)
	}
	c := *httpClient
	c.Transport = &http.Transport{Proxy: nil, DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool}}
	return &c, nil
}

// getWith fetches url with client c and returns its status code.
func getWith(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitHTTP waits until url answers (with a status ok accepts; nil: any)
// while p runs, for at most timeout.
func waitHTTP(ctx context.Context, p *proc, url string, ok func(int) bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if p.exited() {
			return p.errExited("exited while starting")
		}
		code, err := get(ctx, url)
		switch {
		case err == nil && (ok == nil || ok(code)):
			return nil
		case err == nil:
			last = "status " + strconv.Itoa(code)
		default:
			last = err.Error()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			t := tail(p.log, 8)
			if t != "" {
				t = "; the end of " + p.log + ":\n" + t
			}
			return fmt.Errorf("%s (pid %d): %s %w within %v (last: %s)%s", p.name, p.pid, url, ErrNotReady, timeout, last, t)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
