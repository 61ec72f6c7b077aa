package scenarios

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A Flavor is the server an nginx.conf is written for.
type Flavor int

// Flavors of NginxConf.
const (
	// ForC10k is what `c10k serve -c` reads, on every core: the site's
	// CGI location is a cgi_pass; no daemon, user, pid or log lines
	// (the command's flags say those).
	ForC10k Flavor = iota
	// ForNginx is for a real nginx 1.22 run by root with `-p DIR`:
	// daemon off, pid, error log and temp paths under Env.Dir,
	// worker_rlimit_nofile for a C10k run, and no CGI location (nginx
	// has no CGI).
	ForNginx
)

// String returns "c10k" or "nginx".
func (f Flavor) String() string {
	switch f {
	case ForC10k:
		return "c10k"
	case ForNginx:
		return "nginx"
	}
	return "Flavor(" + strconv.Itoa(int(f)) + ")"
}

// Defaults of a Site's zero fields in every generated config, nginx's
// own where nginx has one.
const (
	DefaultKeepaliveTimeout  = 75 * time.Second
	DefaultKeepaliveRequests = 1000
	DefaultWorkerConnections = 19000
	DefaultUpstreamKeepalive = 16
	// DefaultRlimitNofile is nginx's worker_rlimit_nofile when
	// worker_connections leaves room under it: the idle connections, the
	// probes and the load together.
	DefaultRlimitNofile = 20000
	// UpstreamName is the name of the upstream block of a proxied site.
	UpstreamName = "app"
)

// Mime types of every generated config: the same short table on every
// server, so that no server answers with a type another does not know.
var mimeTypes = []struct{ typ, exts string }{
	{"text/html", "html htm"},
	{"text/plain", "txt"},
	{"application/json", "json"},
	{"application/octet-stream", "bin"},
}

// NginxConf returns the scenario's site as nginx.conf text for flavor f
// and the addresses and paths of e: one worker process, the keep-alive
// limits of the Site, static files from e.Root, the proxy location to
// an upstream "app" of the backends of Site.Upstream(e.Color) with their
// weights and the balancing method, (ForC10k) the CGI location, and for
// a site with TLS a second listener, `listen e.TLSListen ssl` with
// e.TLSCert and e.TLSKey.
// The upstream lists the members that have an address in e.Backends
// (the running ones, so a killed backend can be left out), in the order
// of Proxy.Backends. An Env that lacks what the site needs (a listen
// address, an address for any member of the upstream, the CGI program,
// ForNginx's Dir, the TLS listener and certificate) is an error wrapping
// ErrEnv; a path the config cannot hold safely wraps ErrUnsafePath.
func NginxConf(s *Scenario, e Env, f Flavor) (string, error) {
	if s == nil {
		return "", errors.New("nginx.conf: no scenario")
	}
	conf, err := nginxConf(s, e, f)
	if err != nil {
		return "", fmt.Errorf("nginx.conf (%s) for scenario %s: %w", f, s.Name, err)
	}
	return conf, nil
}

// upstreamMember is one server line of the upstream.
type upstreamMember struct {
	addr   netip.AddrPort
	weight int
}

func nginxConf(s *Scenario, e Env, f Flavor) (string, error) {
	if f != ForC10k && f != ForNginx {
		return "", fmt.Errorf("unknown flavor %d", int(f))
	}
	site := &s.Site
	if !e.Listen.IsValid() {
		return "", fmt.Errorf("%w: no listen address", ErrEnv)
	}
	if f == ForNginx && e.Listen.Port() == 0 {
		return "", fmt.Errorf("%w: listen address %s has no port (nginx cannot bind port 0)", ErrEnv, e.Listen)
	}
	listen, err := confWord("listen address", e.Listen.String())
	if err != nil {
		return "", err
	}
	root, err := absPath("document root (Env.Root)", e.Root)
	if err != nil {
		return "", err
	}
	var dir string
	if f == ForNginx {
		if dir, err = absPath("private directory (Env.Dir)", e.Dir); err != nil {
			return "", err
		}
	}
	var members []upstreamMember
	if site.Proxy != nil {
		switch e.Color {
		case "", "blue", "green":
		default:
			return "", fmt.Errorf("%w: color %q: want \"\", blue or green", ErrEnv, e.Color)
		}
		var names []string
		for _, b := range site.Upstream(e.Color) {
			names = append(names, b.Name)
			addr, ok := e.Backends[b.Name]
			if !ok {
				continue // not running (Env.Backends holds those running)
			}
			if !addr.IsValid() || addr.Port() == 0 {
				return "", fmt.Errorf("%w: backend %q has no usable address (%v)", ErrEnv, b.Name, addr)
			}
			members = append(members, upstreamMember{addr, max(b.Weight, 1)})
		}
		if len(members) == 0 {
			color := e.Color
			if color == "" {
				color = "blue"
			}
			return "", fmt.Errorf("%w: no backend of the %s upstream (%s) has an address in Env.Backends", ErrEnv, color, strings.Join(names, ", "))
		}
		if !validLocation(site.Proxy.Location) {
			return "", fmt.Errorf("%w: proxy location %q", ErrUnsafePath, site.Proxy.Location)
		}
	}
	var tlsListen, tlsCert, tlsKey string
	if site.TLS != nil {
		if !e.TLSListen.IsValid() {
			return "", fmt.Errorf("%w: no TLS listen address (Env.TLSListen) for a site with TLS", ErrEnv)
		}
		if f == ForNginx && e.TLSListen.Port() == 0 {
			return "", fmt.Errorf("%w: TLS listen address %s has no port (nginx cannot bind port 0)", ErrEnv, e.TLSListen)
		}
		if e.TLSListen == e.Listen && e.Listen.Port() != 0 {
			return "", fmt.Errorf("%w: TLS listen address %s is also the plain one", ErrEnv, e.TLSListen)
		}
		if tlsListen, err = confWord("TLS listen address", e.TLSListen.String()); err != nil {
			return "", err
		}
		if tlsCert, err = absPath("certificate (Env.TLSCert)", e.TLSCert); err != nil {
			return "", err
		}
		if tlsKey, err = absPath("certificate key (Env.TLSKey)", e.TLSKey); err != nil {
			return "", err
		}
	}
	var cgiProgram string
	if site.CGI != nil && f == ForC10k {
		if e.CGIProgram == "" {
			return "", fmt.Errorf("%w: no CGI program (Env.CGIProgram) for location %s", ErrEnv, site.CGI.Location)
		}
		if cgiProgram, err = absPath("CGI program (Env.CGIProgram)", e.CGIProgram); err != nil {
			return "", err
		}
		if !validLocation(site.CGI.Location) {
			return "", fmt.Errorf("%w: CGI location %q", ErrUnsafePath, site.CGI.Location)
		}
	}

	w := &confWriter{}
	if validName(s.Name) {
		w.line(0, "# Scenario %s for %s, generated by c10k's scenarios package: edit the scenario, not this file.", s.Name, flavorServer(f))
	} else {
		w.line(0, "# Generated by c10k's scenarios package for %s: edit the scenario, not this file.", flavorServer(f))
	}
	wc := site.WorkerConnections
	if wc <= 0 {
		wc = DefaultWorkerConnections
	}
	if f == ForNginx {
		nofile := max(DefaultRlimitNofile, wc+1000)
		w.line(0, "daemon off;")
		w.line(0, "user root;")
		w.line(0, "worker_processes 1;")
		w.line(0, "worker_rlimit_nofile %d;", nofile)
		w.line(0, "pid %s;", quotePath(filepath.Join(dir, "nginx.pid")))
		w.line(0, "error_log %s;", quotePath(filepath.Join(dir, "error.log")))
	} else {
		w.line(0, "worker_processes 1;")
	}
	w.blank()
	w.line(0, "events {")
	w.line(1, "worker_connections %d;", wc)
	w.line(0, "}")
	w.blank()
	w.line(0, "http {")
	w.line(1, "types {")
	for _, t := range mimeTypes {
		w.line(2, "%s %s;", t.typ, t.exts)
	}
	w.line(1, "}")
	w.line(1, "default_type application/octet-stream;")
	w.line(1, "sendfile on;")
	w.line(1, "access_log off;")
	kt := time.Duration(site.KeepaliveTimeout)
	if kt <= 0 {
		kt = DefaultKeepaliveTimeout
	}
	kr := site.KeepaliveRequests
	if kr <= 0 {
		kr = DefaultKeepaliveRequests
	}
	w.line(1, "keepalive_timeout %s;", nginxTime(kt))
	w.line(1, "keepalive_requests %d;", kr)
	if f == ForNginx {
		for _, t := range []struct{ directive, dir string }{
			{"client_body_temp_path", "client_body_temp"},
			{"proxy_temp_path", "proxy_temp"},
			{"fastcgi_temp_path", "fastcgi_temp"},
			{"uwsgi_temp_path", "uwsgi_temp"},
			{"scgi_temp_path", "scgi_temp"},
		} {
			w.line(1, "%s %s;", t.directive, quotePath(filepath.Join(dir, t.dir)))
		}
	}
	if p := site.Proxy; p != nil {
		w.blank()
		w.line(1, "upstream %s {", UpstreamName)
		if p.Balance != "" {
			w.line(2, "%s;", p.Balance)
		}
		for _, m := range members {
			if m.weight != 1 {
				w.line(2, "server %s weight=%d;", m.addr, m.weight)
			} else {
				w.line(2, "server %s;", m.addr)
			}
		}
		ka := p.Keepalive
		if ka <= 0 {
			ka = DefaultUpstreamKeepalive
		}
		w.line(2, "keepalive %d;", ka)
		w.line(1, "}")
	}
	w.blank()
	w.line(1, "server {")
	w.line(2, "listen %s;", listen)
	if site.TLS != nil {
		// TLS 1.2 and 1.3 on every server: nginx 1.22 leaves 1.3 out
		// of its default (1.23.4 added it; c10k's default is that);
		// session tickets on and no server-side cache, nginx's defaults.
		w.line(2, "listen %s ssl;", tlsListen)
		w.line(2, "ssl_certificate %s;", quotePath(tlsCert))
		w.line(2, "ssl_certificate_key %s;", quotePath(tlsKey))
		w.line(2, "ssl_protocols TLSv1.2 TLSv1.3;")
	}
	w.line(2, "root %s;", quotePath(root))
	w.blank()
	w.line(2, "location / {")
	w.line(3, "try_files $uri =404;")
	w.line(2, "}")
	if p := site.Proxy; p != nil {
		buffering := "on"
		if p.Buffering != nil && !*p.Buffering {
			buffering = "off"
		}
		w.blank()
		w.line(2, "location %s {", p.Location)
		w.line(3, "proxy_pass http://%s;", UpstreamName)
		w.line(3, "proxy_http_version 1.1;")
		w.line(3, "proxy_set_header Connection \"\";")
		w.line(3, "proxy_buffering %s;", buffering)
		w.line(3, "proxy_next_upstream error timeout;")
		w.line(2, "}")
	}
	if site.CGI != nil && f == ForC10k {
		w.blank()
		w.line(2, "location = %s {", site.CGI.Location)
		w.line(3, "cgi_pass %s;", quotePath(cgiProgram))
		w.line(2, "}")
	}
	w.line(1, "}")
	w.line(0, "}")
	return w.String(), nil
}

func flavorServer(f Flavor) string {
	if f == ForNginx {
		return "nginx 1.22"
	}
	return "c10k serve"
}

// confWriter builds config text indented by four spaces a level.
type confWriter struct {
	strings.Builder
}

func (w *confWriter) line(indent int, format string, args ...any) {
	for range indent {
		w.WriteString("    ")
	}
	fmt.Fprintf(w, format, args...)
	w.WriteByte('\n')
}

func (w *confWriter) blank() { w.WriteByte('\n') }

// absPath checks that p is an absolute path a config can hold: no
// control characters and no '$', which nginx would read as a variable.
func absPath(what, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: no %s", ErrEnv, what)
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%w: %s %q is not absolute", ErrEnv, what, p)
	}
	if _, err := confWord(what, p); err != nil {
		return "", err
	}
	return filepath.Clean(p), nil
}

// confWord checks that s can be written into nginx.conf as one word.
func confWord(what, s string) (string, error) {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("%w: %s %q holds a control character", ErrUnsafePath, what, s)
		}
	}
	if strings.Contains(s, "$") {
		return "", fmt.Errorf("%w: %s %q holds '$', which nginx reads as a variable", ErrUnsafePath, what, s)
	}
	return quotePath(s), nil
}

// quotePath returns s as one nginx.conf word: as it is when it holds
// only safe characters, else double-quoted with '"' and '\' escaped.
// s must already be free of control characters and '$' (confWord).
func quotePath(s string) string {
	plain := s != ""
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/._~+=,@%:[]-", c) >= 0) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := range len(s) {
		if c := s[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// nginxTime writes d as an nginx time: whole seconds as "75s", anything
// else in milliseconds, rounded up.
func nginxTime(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return strconv.FormatInt(int64(ms), 10) + "ms"
}
