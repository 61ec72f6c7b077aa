package scenarios

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A Reference is a real web server the bench runs next to the c10k
// cores (`c10k bench --reference`): Debian's nginx, Apache 2.4 with each
// of its three MPMs, and lighttpd. Config turns a scenario's Site into
// the server's own configuration, so that every server serves the same
// files, proxy and CGI program with the same keep-alive limits.
type Reference struct {
	// Name is the target's name: "nginx", "apache-event",
	// "apache-worker", "apache-prefork" or "lighttpd".
	Name string
	// Pair is the c10k core the report puts it beside: the event core
	// for nginx, apache-event and lighttpd, the thread core for
	// apache-worker and apache-prefork (the report pairs prefork's CGI
	// steps with the cgi core itself).
	Pair string
	// Package is the Debian package that installs it
	// (scripts/reference, `make reference`).
	Package string
	// CGI says whether it can serve Site.CGI: Apache runs CGI programs
	// with mod_cgi (prefork) or mod_cgid (worker, event), lighttpd with
	// mod_cgi; nginx has no CGI, and a scenario's CGI steps are skipped
	// on it.
	CGI bool
	// Reload is the signal that makes the running server re-read its
	// config without dropping connections (a deploy's reload): nginx
	// SIGHUP; Apache SIGUSR1 (graceful restart: children finish their
	// requests); lighttpd SIGUSR1 (graceful restart, lighttpd 1.4.46
	// and later — Debian 12 ships 1.4.69 — and what Debian's own
	// lighttpd.service sends: the process keeps its pid and listening
	// socket, finishes the requests in flight and re-reads the config;
	// SIGHUP only reopens its logs).
	Reload syscall.Signal
}

// ErrNotInstalled is returned (wrapped) by Reference.Binary when the
// server is not installed.
var ErrNotInstalled = errors.New("not installed")

// Reference server names, in the order References returns them.
const (
	RefNginx         = "nginx"
	RefApacheEvent   = "apache-event"
	RefApacheWorker  = "apache-worker"
	RefApachePrefork = "apache-prefork"
	RefLighttpd      = "lighttpd"
)

var references = []Reference{
	{Name: RefNginx, Pair: "event", Package: "nginx-light", CGI: false, Reload: syscall.SIGHUP},
	{Name: RefApacheEvent, Pair: "event", Package: "apache2", CGI: true, Reload: syscall.SIGUSR1},
	{Name: RefApacheWorker, Pair: "thread", Package: "apache2", CGI: true, Reload: syscall.SIGUSR1},
	{Name: RefApachePrefork, Pair: "thread", Package: "apache2", CGI: true, Reload: syscall.SIGUSR1},
	{Name: RefLighttpd, Pair: "event", Package: "lighttpd", CGI: true, Reload: syscall.SIGUSR1},
}

// References returns every reference server: nginx, apache-event,
// apache-worker, apache-prefork and lighttpd, in that order.
func References() []Reference { return slices.Clone(references) }

// LookupReference returns the reference server called name.
func LookupReference(name string) (Reference, bool) {
	for _, r := range references {
		if r.Name == name {
			return r, true
		}
	}
	return Reference{}, false
}

// Where Debian installs Apache and its modules.
const (
	apacheBinary  = "/usr/sbin/apache2"
	apacheModules = "/usr/lib/apache2/modules"
)

// Binary returns the absolute path of the server's executable: nginx
// from PATH or /usr/sbin/nginx, /usr/sbin/apache2 (with its MPM module
// in /usr/lib/apache2/modules), lighttpd from PATH or /usr/sbin/lighttpd.
// When it is missing the error wraps ErrNotInstalled and names the
// package that `make reference` installs.
func (r Reference) Binary() (string, error) {
	notInstalled := func(what string) error {
		return fmt.Errorf("%s: %s %w (Debian package %s; `make reference` installs it)",
			r.Name, what, ErrNotInstalled, r.Package)
	}
	switch r.Name {
	case RefNginx, RefLighttpd:
		if p, err := exec.LookPath(r.Name); err == nil {
			return filepath.Abs(p)
		}
		p := "/usr/sbin/" + r.Name
		if executable(p) {
			return p, nil
		}
		return "", notInstalled(r.Name)
	case RefApacheEvent, RefApacheWorker, RefApachePrefork:
		if !executable(apacheBinary) {
			return "", notInstalled(apacheBinary)
		}
		mod := filepath.Join(apacheModules, "mod_mpm_"+r.mpm()+".so")
		if _, err := os.Stat(mod); err != nil {
			return "", notInstalled(mod)
		}
		return apacheBinary, nil
	}
	return "", fmt.Errorf("reference %q: unknown server", r.Name)
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// mpm is the Apache MPM of an apache-* reference: event, worker or
// prefork.
func (r Reference) mpm() string { return strings.TrimPrefix(r.Name, "apache-") }

func (r Reference) apache() bool { return strings.HasPrefix(r.Name, "apache-") }

// Config returns the name of the server's config file (a base name, to
// be written in e.Dir) and its text: the scenario's Site — document
// root, proxy location with the e.Color upstream's weights and balancing
// method, keep-alive limits, CGI program, the TLS listener with
// e.TLSCert (Apache's mod_ssl, lighttpd's mod_openssl), the same short
// mime type table — as the server's own configuration, self-contained (it
// includes no file of /etc), with its pid file, logs and temp files
// under e.Dir and no access log. nginx gets NginxConf(s, e, ForNginx)
// itself. The upstream is the backends of s.Site.Upstream(e.Color)
// that e.Backends has an address for; none is an error wrapping ErrEnv.
//
// The runner must ensure, before starting the server with Command:
//   - it runs as root. nginx's config says `user root`; Debian's Apache
//     refuses to serve as root, so its parent (root) binds and logs and
//     its children run as www-data; lighttpd stays root.
//   - www-data can read e.Root and everything in it and search every
//     directory from / down to e.Root, e.Dir and e.CGIProgram (which it
//     must be able to execute): Apache's children and mod_cgid's daemon
//     run as www-data, and mod_cgid's socket is e.Dir/cgid.sock, so
//     e.Dir must be short enough for a unix socket path (107 bytes).
//   - e.Dir exists (Apache's DefaultRuntimeDir and lighttpd's temp dir).
//   - the open-file limit: nginx and lighttpd set their own
//     (worker_rlimit_nofile; server.max-fds, 2 x worker_connections +
//     2000) but cannot pass the hard limit without CAP_SYS_RESOURCE;
//     Apache inherits the runner's. With a hard limit of 20000 (a
//     container) lighttpd keeps 20000 and accepts at most 10000
//     connections (max-fds/2), and says so in its error.log.
//   - Apache runs in its own process group (Setpgid): on stop, prefork
//     signals its whole process group.
//
// Where a server cannot express a Site setting the text says so in a
// comment: Apache and lighttpd have no client-address hash like
// ip_hash or random choice, lighttpd no weights (each backend is listed
// Weight times instead, in nginx's smooth weighted round-robin order)
// and no upstream keep-alive.
func (r Reference) Config(s *Scenario, e Env) (file, text string, err error) {
	if s == nil {
		return "", "", fmt.Errorf("%s: config: no scenario", r.Name)
	}
	switch {
	case r.Name == RefNginx:
		text, err = NginxConf(s, e, ForNginx)
		if err != nil {
			return "", "", fmt.Errorf("%s: scenario %s: %w", r.Name, s.Name, err)
		}
		return "nginx.conf", text, nil
	case r.apache():
		text, err = r.apacheConf(s, e)
		file = "httpd.conf"
	case r.Name == RefLighttpd:
		text, err = r.lighttpdConf(s, e)
		file = "lighttpd.conf"
	default:
		return "", "", fmt.Errorf("reference %q: unknown server", r.Name)
	}
	if err != nil {
		return "", "", fmt.Errorf("%s: scenario %s: %w", r.Name, s.Name, err)
	}
	return file, text, nil
}

// Command returns the argv that runs the server in the foreground with
// config file conf (a relative conf is taken within e.Dir), its error
// log under e.Dir: nginx -p DIR/ -e DIR/error.log -c CONF (the config
// says daemon off), apache2 -D FOREGROUND -f CONF, lighttpd -D -f CONF.
// Start it in its own process group. SIGTERM stops each of them
// (lighttpd then exits with status 1 when connections were still open:
// not a failure); Reload reloads it.
func (r Reference) Command(bin, conf string, e Env) []string {
	if !filepath.IsAbs(conf) && e.Dir != "" {
		conf = filepath.Join(e.Dir, conf)
	}
	switch {
	case r.Name == RefNginx:
		// -e: the error log used before the config is read (Debian's
		// default, /var/log/nginx/error.log, may not be writable).
		return []string{bin, "-p", withSlash(e.Dir), "-e", filepath.Join(e.Dir, "error.log"), "-c", conf}
	case r.apache():
		return []string{bin, "-D", "FOREGROUND", "-f", conf}
	default:
		return []string{bin, "-D", "-f", conf}
	}
}

// withSlash returns dir with one trailing slash: nginx's -p prefix is
// joined to relative paths as a string.
func withSlash(dir string) string {
	if dir == "" || strings.HasSuffix(dir, "/") {
		return dir
	}
	return dir + "/"
}

// refFailTimeout mirrors nginx's max_fails=1 fail_timeout=10s: how
// long Apache and lighttpd leave out a backend that refused a
// connection, in seconds.
const refFailTimeout = 10

func keepalive(st *Site) (time.Duration, int) {
	t, n := time.Duration(st.KeepaliveTimeout), st.KeepaliveRequests
	if t <= 0 {
		t = DefaultKeepaliveTimeout
	}
	if n <= 0 {
		n = DefaultKeepaliveRequests
	}
	return t, n
}

func upstreamKeepalive(p *Proxy) int {
	if p.Keepalive > 0 {
		return p.Keepalive
	}
	return DefaultUpstreamKeepalive
}

func workerConnections(st *Site) int {
	if st.WorkerConnections > 0 {
		return st.WorkerConnections
	}
	return DefaultWorkerConnections
}

// member is one backend of the upstream with its address.
type member struct {
	Backend
	Addr netip.AddrPort
}

func (m member) weight() int { return max(m.Weight, 1) }

// upstream returns the running backends of the e.Color upstream.
func upstream(st *Site, e Env) ([]member, error) {
	var ms []member
	for _, b := range st.Upstream(e.Color) {
		if a, ok := e.Backends[b.Name]; ok && a.IsValid() {
			ms = append(ms, member{b, a})
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("proxy %s: no backend of the %s upstream is running (Env.Backends has none of its names): %w",
			st.Proxy.Location, colorName(e.Color), ErrEnv)
	}
	return ms, nil
}

// colorName is the upstream's color as Site.Upstream reads it.
func colorName(c string) string {
	if c == "" {
		return "blue"
	}
	return c
}

// checkEnv checks what both generators write into their configs.
func checkEnv(st *Site, e Env, cgi bool) error {
	if !e.Listen.IsValid() || e.Listen.Port() == 0 {
		return fmt.Errorf("env: listen address %q is not addr:port: %w", e.Listen, ErrEnv)
	}
	paths := []struct{ name, p string }{{"Root", e.Root}, {"Dir", e.Dir}}
	if cgi && st.CGI != nil {
		paths = append(paths, struct{ name, p string }{"CGIProgram", e.CGIProgram})
	}
	for _, p := range paths {
		if !filepath.IsAbs(p.p) {
			return fmt.Errorf("env: %s %q is not an absolute path: %w", p.name, p.p, ErrEnv)
		}
		if err := checkConfString(p.p); err != nil {
			return fmt.Errorf("env: %s: %w", p.name, err)
		}
	}
	if st.TLS != nil {
		if !e.TLSListen.IsValid() || e.TLSListen.Port() == 0 || e.TLSListen == e.Listen {
			return fmt.Errorf("env: TLS listen address %q is not an addr:port of its own: %w", e.TLSListen, ErrEnv)
		}
		for _, p := range []struct{ name, p string }{{"TLSCert", e.TLSCert}, {"TLSKey", e.TLSKey}} {
			if !filepath.IsAbs(p.p) {
				return fmt.Errorf("env: %s %q is not an absolute path: %w", p.name, p.p, ErrEnv)
			}
			if err := checkConfString(p.p); err != nil {
				return fmt.Errorf("env: %s: %w", p.name, err)
			}
		}
	}
	for _, loc := range []string{proxyLocation(st), cgiLocation(st)} {
		if loc == "" {
			continue
		}
		if !strings.HasPrefix(loc, "/") {
			return fmt.Errorf("location %q does not start with /: %w", loc, ErrUnsafePath)
		}
		if err := checkConfString(loc); err != nil {
			return fmt.Errorf("location: %w", err)
		}
	}
	return nil
}

func proxyLocation(st *Site) string {
	if st.Proxy == nil {
		return ""
	}
	return st.Proxy.Location
}

func cgiLocation(st *Site) string {
	if st.CGI == nil {
		return ""
	}
	return st.CGI.Location
}

// checkConfString refuses what would not survive as a double-quoted
// string in httpd.conf or lighttpd.conf.
func checkConfString(v string) error {
	for _, c := range v {
		if c < ' ' || c == 0x7f || c == '"' || c == '\\' {
			return fmt.Errorf("%q: quotes, backslashes and control characters are not allowed: %w", v, ErrUnsafePath)
		}
	}
	if strings.Contains(v, "${") {
		return fmt.Errorf("%q: ${ would be expanded by Apache: %w", v, ErrUnsafePath)
	}
	return nil
}

// lbmethod maps nginx's balancing method onto mod_proxy_balancer's; note
// says what is lost.
func lbmethod(balance string) (method, note string, err error) {
	switch balance {
	case "":
		return "byrequests", "weighted round robin (nginx's default)", nil
	case "least_conn":
		return "bybusyness", "fewest requests in flight (nginx: least_conn)", nil
	case "ip_hash":
		return "byrequests", "nginx: ip_hash; Apache has no client-address hash: weighted round robin instead", nil
	case "random":
		return "byrequests", "nginx: random; Apache has no random choice: weighted round robin instead", nil
	}
	return "", "", fmt.Errorf("proxy: balance %q is not one of \"\", least_conn, ip_hash, random", balance)
}

// unixSocketMax is the longest path a unix socket address holds.
const unixSocketMax = 107

func (r Reference) apacheConf(s *Scenario, e Env) (string, error) {
	st := &s.Site
	cgi := st.CGI != nil
	if err := checkEnv(st, e, true); err != nil {
		return "", err
	}
	var ms []member
	var method, note string
	if st.Proxy != nil {
		var err error
		if ms, err = upstream(st, e); err != nil {
			return "", err
		}
		if method, note, err = lbmethod(st.Proxy.Balance); err != nil {
			return "", err
		}
	}
	sock := filepath.Join(e.Dir, "cgid.sock")
	if cgi && r.mpm() != "prefork" && len(sock) > unixSocketMax {
		return "", fmt.Errorf("env: Dir %q is too long for mod_cgid's socket %s (at most %d bytes): %w", e.Dir, sock, unixSocketMax, ErrEnv)
	}
	timeout, requests := keepalive(st)

	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# httpd.conf for %s (Apache 2.4, %s MPM), generated by c10k from scenario %q:", r.Name, r.mpm(), s.Name)
	w("# the site its nginx.conf describes. Run as root: apache2 -D FOREGROUND -f THIS.")
	w("ServerRoot %q", e.Dir)
	w("DefaultRuntimeDir %q", e.Dir)
	w("PidFile %q", filepath.Join(e.Dir, "httpd.pid"))
	w("ErrorLog %q", filepath.Join(e.Dir, "error.log"))
	w("LogLevel warn")
	w("# No access log (nginx.conf: access_log off): no CustomLog.")
	w("ServerName localhost")
	w("Listen %s", e.Listen)
	if st.TLS != nil {
		w("Listen %s https", e.TLSListen)
	}
	w("# Debian's Apache refuses to serve as root: the parent binds and logs,")
	w("# its children run as www-data, which must read the site.")
	w("User www-data")
	w("Group www-data")
	w("")
	mod := func(name, file string) {
		w("LoadModule %s_module %s", name, filepath.Join(apacheModules, "mod_"+file+".so"))
	}
	mod("mpm_"+r.mpm(), "mpm_"+r.mpm())
	mod("authz_core", "authz_core")
	mod("mime", "mime")
	mod("dir", "dir")
	if cgi {
		mod("alias", "alias")
		if r.mpm() == "prefork" {
			mod("cgi", "cgi")
		} else {
			mod("cgid", "cgid")
		}
	}
	if st.TLS != nil {
		mod("ssl", "ssl")
	}
	if st.Proxy != nil {
		mod("proxy", "proxy")
		mod("proxy_http", "proxy_http")
		mod("slotmem_shm", "slotmem_shm")
		mod("proxy_balancer", "proxy_balancer")
		mod("lbmethod_"+method, "lbmethod_"+method)
	}
	w("")
	if r.mpm() == "prefork" {
		w("# Apache 2.4's prefork defaults: one process per connection, at most 256.")
		w("StartServers 5")
		w("MinSpareServers 5")
		w("MaxSpareServers 10")
		w("ServerLimit 256")
		w("MaxRequestWorkers 256")
	} else {
		w("# Apache 2.4's %s defaults: 16 processes of 25 threads, at most 400", r.mpm())
		w("# requests at once (c10k's thread core: 400 workers).")
		w("StartServers 3")
		w("ServerLimit 16")
		w("ThreadLimit 64")
		w("ThreadsPerChild 25")
		w("MaxRequestWorkers 400")
		w("MinSpareThreads 75")
		w("MaxSpareThreads 250")
	}
	w("MaxConnectionsPerChild 0")
	w("ListenBacklog 511")
	w("# Site.WorkerConnections (nginx's worker_connections %d) has no Apache", workerConnections(st))
	w("# equivalent: MaxRequestWorkers bounds it.")
	w("")
	w("KeepAlive On")
	w("KeepAliveTimeout %s", apacheDuration(timeout))
	w("MaxKeepAliveRequests %d", requests)
	w("Timeout 60")
	w("EnableSendfile On")
	w("HostnameLookups Off")
	w("# The same short type table as every generated config (nginx.conf's types).")
	w("TypesConfig /dev/null")
	for _, t := range mimeTypes {
		w("AddType %s .%s", t.typ, strings.ReplaceAll(t.exts, " ", " ."))
	}
	w("# nginx's default_type application/octet-stream has no Apache 2.4 equivalent:")
	w("# a file of another extension is sent without Content-Type.")
	w("")
	w("DocumentRoot %q", e.Root)
	w("DirectoryIndex index.html")
	w("<Directory />")
	w("    Options None")
	w("    AllowOverride None")
	w("    Require all denied")
	w("</Directory>")
	w("<Directory %q>", e.Root)
	w("    Options FollowSymLinks")
	w("    AllowOverride None")
	w("    Require all granted")
	w("</Directory>")
	if st.Proxy != nil {
		p := st.Proxy
		w("")
		w("# Proxy: %s to the %s upstream, the path unchanged (nginx's", p.Location, colorName(e.Color))
		w("# proxy_pass without a URI). Balancing: %s.", note)
		w("# retry=%d: a backend that failed is left out %ds (nginx: fail_timeout=10s).", refFailTimeout, refFailTimeout)
		w("# mod_proxy keeps idle backend connections per child (nginx: keepalive %d).", upstreamKeepalive(p))
		flush := ""
		if p.Buffering != nil && !*p.Buffering {
			w("# proxy_buffering off: flushpackets=on sends each chunk as it comes.")
			flush = " flushpackets=on"
		} else {
			w("# nginx buffers whole responses (proxy_buffering on); mod_proxy has no")
			w("# such buffer and streams them through %d-byte reads.", 8192)
		}
		lf, scaled := loadfactors(ms)
		if scaled {
			w("# Weights above 100, Apache's largest loadfactor, are scaled to 1-100.")
		}
		w("<Proxy \"balancer://%s\">", UpstreamName)
		for i, m := range ms {
			w("    BalancerMember \"http://%s\" loadfactor=%d retry=%d%s", m.Addr, lf[i], refFailTimeout, flush)
		}
		w("    ProxySet lbmethod=%s", method)
		w("</Proxy>")
		w("ProxyPass %q %q", p.Location, "balancer://"+UpstreamName+p.Location)
	}
	if st.TLS != nil {
		w("")
		w("# TLS: the same site on %s (nginx.conf: listen ... ssl), TLS 1.2 and", e.TLSListen)
		w("# 1.3 (ssl_protocols TLSv1.2 TLSv1.3). mod_ssl's defaults, as nginx's:")
		w("# session tickets on, no server-side session cache.")
		w("<VirtualHost %s>", e.TLSListen)
		w("    SSLEngine on")
		w("    SSLProtocol -all +TLSv1.2 +TLSv1.3")
		w("    SSLCertificateFile %q", e.TLSCert)
		w("    SSLCertificateKeyFile %q", e.TLSKey)
		w("</VirtualHost>")
	}
	if cgi {
		c := st.CGI
		w("")
		if r.mpm() == "prefork" {
			w("# CGI: %s (exactly) runs %s (mod_cgi: the child forks it).", c.Location, e.CGIProgram)
		} else {
			w("# CGI: %s (exactly) runs %s (mod_cgid: a daemon forks it).", c.Location, e.CGIProgram)
			w("ScriptSock %q", sock)
		}
		// Exactly the location, as nginx.conf's "location =". No %q:
		// Apache keeps the regexp's backslashes as they are.
		w("ScriptAliasMatch \"^%s$\" %q", regexp.QuoteMeta(c.Location), e.CGIProgram)
		w("<Location %q>", c.Location)
		w("    Require all granted")
		w("</Location>")
	}
	return b.String(), nil
}

// loadfactors returns the members' weights as Apache loadfactors,
// which go up to 100: scaled in proportion when one is above.
func loadfactors(ms []member) (lf []int, scaled bool) {
	top := 0
	for _, m := range ms {
		top = max(top, m.weight())
	}
	for _, m := range ms {
		w := m.weight()
		if top > 100 {
			w = max((w*100+top/2)/top, 1)
		}
		lf = append(lf, w)
	}
	return lf, top > 100
}

// apacheDuration formats d for KeepAliveTimeout: seconds, or
// milliseconds when d is not whole seconds.
func apacheDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10) + "ms"
}

// lighttpdBalance maps nginx's balancing method onto mod_proxy's
// proxy.balance; note says what is lost.
func lighttpdBalance(balance string) (method, note string, err error) {
	switch balance {
	case "":
		return "round-robin", "round robin over the list (nginx's default, weighted)", nil
	case "least_conn":
		return "fair", "fewest connections (nginx: least_conn)", nil
	case "ip_hash":
		return "sticky", "the same client address to the same backend (nginx: ip_hash)", nil
	case "random":
		return "round-robin", "nginx: random; lighttpd has no random choice: round robin instead", nil
	}
	return "", "", fmt.Errorf("proxy: balance %q is not one of \"\", least_conn, ip_hash, random", balance)
}

// maxListed bounds the entries of lighttpd's proxy.server list.
const maxListed = 1000

// swrr returns the order in which nginx's smooth weighted round robin
// picks the members over one cycle: the sum of the weights, divided by
// their greatest common divisor (the same proportions and order).
func swrr(ms []member) ([]member, error) {
	g := 0
	for _, m := range ms {
		g = gcd(g, m.weight())
	}
	total := 0
	for _, m := range ms {
		total += m.weight() / g
	}
	if total > maxListed {
		return nil, fmt.Errorf("proxy: weights sum to %d entries of lighttpd's proxy.server list (at most %d): %w", total, maxListed, ErrInvalid)
	}
	cur := make([]int, len(ms))
	out := make([]member, 0, total)
	for range total {
		best := 0
		for i, m := range ms {
			cur[i] += m.weight() / g
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, ms[best])
	}
	return out, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (r Reference) lighttpdConf(s *Scenario, e Env) (string, error) {
	st := &s.Site
	if err := checkEnv(st, e, true); err != nil {
		return "", err
	}
	var ms, order []member
	var method, note string
	if st.Proxy != nil {
		var err error
		if ms, err = upstream(st, e); err != nil {
			return "", err
		}
		if method, note, err = lighttpdBalance(st.Proxy.Balance); err != nil {
			return "", err
		}
		if order, err = swrr(ms); err != nil {
			return "", err
		}
	}
	timeout, requests := keepalive(st)
	wc := workerConnections(st)

	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# lighttpd.conf generated by c10k from scenario %q:", s.Name)
	w("# the site its nginx.conf describes. Run: lighttpd -D -f THIS.")
	var mods []string
	if st.CGI != nil {
		mods = append(mods, `"mod_alias"`, `"mod_cgi"`)
	}
	if st.Proxy != nil {
		mods = append(mods, `"mod_proxy"`)
	}
	if st.TLS != nil {
		mods = append(mods, `"mod_openssl"`)
	}
	w("server.modules = ( %s )", strings.Join(mods, ", "))
	w("# No access log (nginx.conf: access_log off): mod_accesslog is not loaded.")
	w("server.document-root = %q", e.Root)
	w("server.bind = %q", e.Listen.Addr().String())
	w("server.port = %d", e.Listen.Port())
	w("server.pid-file = %q", filepath.Join(e.Dir, "lighttpd.pid"))
	w("server.errorlog = %q", filepath.Join(e.Dir, "error.log"))
	w("server.upload-dirs = ( %q )", e.Dir)
	w("index-file.names = ( \"index.html\" )")
	w("# nginx's worker_connections %d. lighttpd allows at most max-fds/2", wc)
	w("# connections (a proxied one takes two descriptors): max-fds is twice that,")
	w("# plus room; lighttpd raises its own descriptor limit when run as root.")
	w("server.max-connections = %d", wc)
	w("server.max-fds = %d", 2*wc+2000)
	w("server.max-keep-alive-idle = %d", (timeout+time.Second-1)/time.Second)
	w("server.max-keep-alive-requests = %d", requests)
	w("# The same short type table as every generated config (nginx.conf's types),")
	w("# and nginx's default_type.")
	w("mimetype.assign = (")
	for _, t := range mimeTypes {
		for _, ext := range strings.Fields(t.exts) {
			w("    %q => %q,", "."+ext, t.typ)
		}
	}
	w("    \"\" => \"application/octet-stream\"")
	w(")")
	if st.Proxy != nil {
		p := st.Proxy
		w("")
		w("# Proxy: %s to the %s upstream, the path unchanged (nginx's", p.Location, colorName(e.Color))
		w("# proxy_pass without a URI). Balancing: %s.", note)
		w("# lighttpd has no weights: each backend is listed Weight times, in the")
		w("# order nginx's smooth weighted round robin picks them.")
		w("# lighttpd's mod_proxy opens a connection per request (no upstream keepalive).")
		w("# disable-time %d: a backend that failed is left out %ds (nginx: fail_timeout=10s).", refFailTimeout, refFailTimeout)
		w("proxy.balance = %q", method)
		w("proxy.server = ( %q => (", p.Location)
		for i, m := range order {
			sep := ","
			if i == len(order)-1 {
				sep = ""
			}
			w("    ( \"host\" => %q, \"port\" => %d, \"disable-time\" => %d )%s", m.Addr.Addr().String(), m.Addr.Port(), refFailTimeout, sep)
		}
		w(") )")
		if p.Buffering != nil && !*p.Buffering {
			w("# proxy_buffering off: stream the response as it comes.")
			w("$HTTP[\"url\"] =^ %q {", p.Location)
			w("    server.stream-response-body = 2")
			w("}")
		} else {
			w("# proxy_buffering on: lighttpd buffers whole responses by default")
			w("# (server.stream-response-body = 0), in memory or under upload-dirs.")
		}
	}
	if st.TLS != nil {
		w("")
		w("# TLS: the same site on %s (nginx.conf: listen ... ssl), TLS 1.2 and", e.TLSListen)
		w("# 1.3 (ssl_protocols TLSv1.2 TLSv1.3), mod_openssl's session tickets on.")
		w("$SERVER[\"socket\"] == %q {", e.TLSListen.String())
		w("    ssl.engine = \"enable\"")
		w("    ssl.openssl.ssl-conf-cmd = ( \"MinProtocol\" => \"TLSv1.2\", \"MaxProtocol\" => \"TLSv1.3\" )")
		w("    ssl.pemfile = %q", e.TLSCert)
		w("    ssl.privkey = %q", e.TLSKey)
		w("}")
	}
	if st.CGI != nil {
		c := st.CGI
		w("")
		w("# CGI: %s (exactly, as nginx.conf's \"location =\") runs %s (mod_cgi).", c.Location, e.CGIProgram)
		w("$HTTP[\"url\"] == %q {", c.Location)
		w("    alias.url = ( %q => %q )", c.Location, e.CGIProgram)
		w("    cgi.assign = ( \"\" => \"\" )")
		w("}")
	}
	return b.String(), nil
}
