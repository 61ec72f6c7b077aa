package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/router"
	"github.com/c10k/c10k/servers/upstream"
)

// maxRedirects is nginx's limit of internal redirects per request
// (NGX_HTTP_MAX_URI_CHANGES).
const maxRedirects = 10

// Field names the engine sets; shared, never modified.
var (
	hContentType  = []byte("Content-Type")
	hLocation     = []byte("Location")
	hLastModified = []byte("Last-Modified")
	hETag         = []byte("ETag")
	hAcceptRanges = []byte("Accept-Ranges")
	hContentRange = []byte("Content-Range")
	vBytes        = []byte("bytes")
	vTextHTML     = []byte("text/html")
	defaultIndex  = []string{"index.html"}
)

// state is the per-request routing state kept in a Plan.
type state struct {
	e      *Engine
	req    *http1.Request
	c      Conn
	srv    *config.Server
	loc    *config.Location
	ug     *upGroup // the proxy group of the current exchange, for $proxy_host
	host   []byte   // clean Host, "" when absent
	uri    []byte   // decoded, normalized; changed by internal redirects
	args   []byte
	method []byte
	now    time.Time

	redirects  int
	redirected bool // uri no longer the client's: proxy sends the escaped uri

	cgiRedirected bool // a CGI local redirect: a GET without the body
	errPage       bool // serving an error_page (recursive_error_pages off)
	errStatus     int  // status an error_page target's 2xx turns into; 0 none
	closing       bool // an error that closes the connection (400, 413, 414, 500, 501)
	forbidden     bool // allow/deny refused the request: its log line is due
	cached        bool // ServeCached: file lookups must not wait for the disk
	serving       bool // inside Serve/ServeCached, where a plan may still become a Wait
	blocked       bool // a cached-only lookup would have waited: abandon the plan

	hasID bool
	id    [32]byte

	ended    bool  // End was called
	timedOut bool  // the client timed out (TimedOut)
	sent     int64 // bytes written to the client (End)
	headSize int64 // of them, the response head (SetHeadSize)

	info         *locInfo // of loc
	autoRedirect bool     // loc was found by nginx's auto_redirect rule

	// The regex location match whose captures ($1, named) templates
	// see: the last one of the request, as in nginx. caps holds the
	// capture indexes into reURI, computed on first use.
	re       *regexp.Regexp
	reURI    []byte
	capsDone bool
	caps     [2 * maxCaptures]int

	// The server_name regex that chose srv, matched against host: its
	// named captures are variables, and its $1.. until a location
	// regex with groups matched.
	srvRe       *regexp.Regexp
	srvCapsDone bool
	srvCaps     [2 * maxCaptures]int
}

// maxCaptures is the number of regex groups (the whole match included)
// whose captures templates can use; later groups evaluate to "".
const maxCaptures = 32

// match finds the location for uri (router.Find), remembering a regex
// match for its captures and an auto-redirect for run.
//
// A server-level return (nginx's server rewrite phase) comes before the
// lookup, for the request and for every internal redirect to a URI (not
// to a named location, as in nginx): match then returns the server's own
// level, Server.Loc, whose Return run answers with.
func (e *Engine) match(p *Plan, uri []byte) *config.Location {
	st := &p.st
	if st.srv != nil && st.srv.Loc != nil && st.srv.Loc.Return != nil {
		st.autoRedirect = false
		return st.srv.Loc
	}
	r := router.Find(st.srv, uri)
	if r.Regex != nil {
		st.re, st.reURI, st.capsDone = r.Regex.Regex, uri, false
	}
	st.autoRedirect = r.Redirect
	return r.Loc
}

func (st *state) hostName() []byte {
	if len(st.host) > 0 {
		return st.host
	}
	return []byte(st.serverName())
}

func (st *state) serverName() string {
	if st.srv != nil && len(st.srv.Names) > 0 && st.srv.Names[0].Kind == config.NameExact {
		return st.srv.Names[0].Name
	}
	return ""
}

func (st *state) scheme() string {
	if st.c.TLS {
		return "https"
	}
	return "http"
}

// locInfo is what New precomputes per location.
type locInfo struct {
	tryFiles []config.Template
	root     config.Template // root with variables; no Parts when static
	alias    config.Template // alias with variables; no Parts when static
	ug       *upGroup
	ofc      *fileCache  // open_file_cache; nil when off
	logs     []accessLog // access_log lines; nil when off
}

// noInfo stands for the precomputed parts of a location New did not see.
var noInfo locInfo

// upGroup is one balancer: an upstream block or the implicit group of a
// proxy_pass address.
type upGroup struct {
	g    *upstream.Group
	up   *config.Upstream // nil for an implicit group
	host string           // $proxy_host
	port string           // $proxy_port
}

// prepare walks every location: try_files templates and proxy groups.
func (e *Engine) prepare(h *config.HTTP) error {
	groups := make(map[string]*upGroup)
	var walk func(l *config.Location) error
	walk = func(l *config.Location) error {
		if l == nil {
			return nil
		}
		info := &locInfo{tryFiles: l.TryFilesTemplates}
		if len(info.tryFiles) != len(l.TryFiles) { // a Location not made by config
			info.tryFiles = make([]config.Template, len(l.TryFiles))
			for i, s := range l.TryFiles {
				t, err := config.ParseTemplate(s)
				if err != nil {
					return fmt.Errorf("engine: try_files at %s: %w", l.Pos, err)
				}
				info.tryFiles[i] = t
			}
		}
		var err error
		if info.root, err = pathTemplate(l.Root, l.RootTemplate); err != nil {
			return fmt.Errorf("engine: root at %s: %w", l.Pos, err)
		}
		if info.alias, err = pathTemplate(l.Alias, l.AliasTemplate); err != nil {
			return fmt.Errorf("engine: alias at %s: %w", l.Pos, err)
		}
		if pp := l.ProxyPass; pp != nil {
			ug, err := e.group(h, groups, pp)
			if err != nil {
				return fmt.Errorf("engine: proxy_pass at %s: %w", pp.Pos, err)
			}
			info.ug = ug
		}
		if oc := l.OpenFileCache; oc != nil {
			if e.caches[oc] == nil {
				e.caches[oc] = newFileCache(oc)
			}
			info.ofc = e.caches[oc]
		}
		e.locs[l] = info
		for _, n := range l.Locations {
			if err := walk(n); err != nil {
				return err
			}
		}
		return nil
	}
	for _, srv := range h.Servers {
		if err := walk(srv.Loc); err != nil {
			return err
		}
		for _, l := range srv.Locations {
			if err := walk(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// pathTemplate returns the template of a root or alias path s that holds
// variables: t as config parsed it, or s parsed for a Location not made
// by config. A static path gives a Template without Parts.
func pathTemplate(s string, t config.Template) (config.Template, error) {
	if strings.IndexByte(s, '$') < 0 || t.Raw == s {
		return t, nil
	}
	return config.ParseTemplate(s)
}

func (e *Engine) group(h *config.HTTP, groups map[string]*upGroup, pp *config.ProxyPass) (*upGroup, error) {
	name := pp.Upstream
	if name == "" && h.Upstreams[pp.Host] != nil {
		name = pp.Host
	}
	if name != "" {
		if ug := groups["u:"+name]; ug != nil {
			return ug, nil
		}
		u := h.Upstreams[name]
		if u == nil {
			return nil, fmt.Errorf("%w %q", ErrUpstream, name)
		}
		g, err := upstream.New(u)
		if err != nil {
			return nil, fmt.Errorf("upstream %q: %w", name, err)
		}
		ug := &upGroup{g: g, up: u, host: name, port: "80"}
		groups["u:"+name] = ug
		return ug, nil
	}
	host, port := pp.Host, "80"
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host, port = host[:i], host[i+1:]
	}
	addr := host + ":" + port
	if ug := groups["a:"+addr]; ug != nil {
		return ug, nil
	}
	ph := addr
	if port == "80" {
		ph = host
	}
	ug := &upGroup{host: ph, port: port}
	switch addrs := pp.Addrs; {
	case len(addrs) == 0: // a ProxyPass not made by config
		ug.g = upstream.NewSingle(addr)
	case len(addrs) == 1:
		ug.g = upstream.NewSingle(addrs[0])
	default:
		// nginx's implicit upstream of a name with several addresses:
		// round robin, max_fails 1, fail_timeout 10s.
		u := &config.Upstream{Name: host}
		for _, a := range addrs {
			u.Servers = append(u.Servers, config.UpstreamServer{Pos: pp.Pos, Addr: a, Addrs: []string{a},
				Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second})
		}
		g, err := upstream.New(u)
		if err != nil {
			return nil, err
		}
		ug.g = g
	}
	groups["a:"+addr] = ug
	return ug, nil
}

// buildListeners lists the sockets to bind. As nginx without "bind", an
// ip:port whose port also has a wildcard listen of the same family is not
// bound: the wildcard socket accepts its connections and routeAddr picks
// its servers by the connection's local address. Port 0 listens (a c10k
// test extension) are the exception: each binds its own ephemeral port.
func (e *Engine) buildListeners(h *config.HTTP) error {
	index := make(map[string]int)
	explicit := make(map[string]bool)
	wildPorts := make(map[wildPort]bool)
	err := eachListen(h, func(srv *config.Server, l config.Listen, ap netip.AddrPort, wild bool) error {
		if wild && ap.Port() != 0 {
			wildPorts[wildPort{ap.Port(), ap.Addr().Is6()}] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	return eachListen(h, func(srv *config.Server, l config.Listen, ap netip.AddrPort, wild bool) error {
		if !wild && wildPorts[wildPort{ap.Port(), ap.Addr().Is6()}] {
			return nil // served by the wildcard socket of its port
		}
		addr := ap.String()
		i, ok := index[addr]
		if !ok {
			i = len(e.listeners)
			index[addr] = i
			e.listeners = append(e.listeners, Listener{Addr: addr, Backlog: 511})
			e.routes = append(e.routes, listenRoute{ap, wild})
			setLimits(&e.listeners[i], srv)
		}
		ln := &e.listeners[i]
		if l.Backlog > 0 {
			ln.Backlog = l.Backlog
		}
		ln.ReusePort = ln.ReusePort || l.ReusePort
		ln.SSL = ln.SSL || l.SSL
		if l.DefaultServer && !explicit[addr] {
			explicit[addr] = true
			setLimits(ln, srv)
		}
		return nil
	})
}

// wildPort is a port with a wildcard listen, per address family.
type wildPort struct {
	port uint16
	v6   bool
}

// eachListen calls fn for every listen of every server of h, in config
// order, with its parsed address.
func eachListen(h *config.HTTP, fn func(srv *config.Server, l config.Listen, ap netip.AddrPort, wild bool) error) error {
	for _, srv := range h.Servers {
		listens := srv.Listens
		if len(listens) == 0 {
			listens = []config.Listen{{Addr: "*:80"}}
		}
		for _, l := range listens {
			ap, wild, err := router.ParseListen(l.Addr)
			if err != nil {
				return fmt.Errorf("engine: listen at %s: %w", l.Pos, err)
			}
			if err := fn(srv, l, ap, wild); err != nil {
				return err
			}
		}
	}
	return nil
}

// listenRoute is the configured address of a listener, by which the
// router chooses its virtual servers.
type listenRoute struct {
	addr netip.AddrPort
	wild bool // all addresses of the family: the connection's local address decides
}

// routeAddr is the address the virtual servers of c are chosen by: the
// configured address of c's listener (its port 0 stays 0 whatever port
// the core bound), with c's real local address for a wildcard listen,
// so that explicit "listen ip:port" servers of the same port apply as in
// nginx.
func (e *Engine) routeAddr(c Conn) netip.AddrPort {
	if c.Listener < 0 || c.Listener >= len(e.routes) {
		return c.Local
	}
	r := e.routes[c.Listener]
	if r.wild && c.Local.Addr().IsValid() {
		return netip.AddrPortFrom(c.Local.Addr(), r.addr.Port())
	}
	return r.addr
}

func setLimits(ln *Listener, srv *config.Server) {
	ln.HeaderBufferSize = srv.ClientHeaderBufferSize
	ln.LargeHeaders = srv.LargeClientHeaderBuffers
	ln.HeaderTimeout = srv.ClientHeaderTimeout
}

func (e *Engine) logf(level, format string, p *Plan, args ...any) {
	if e.errorLog == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	e.errorLog(level, msg+p.st.context())
}

// context is nginx's log-line tail: client, server, request, host.
func (st *state) context() string {
	var b strings.Builder
	b.WriteString(", client: ")
	b.WriteString(st.c.Remote.Addr().Unmap().String())
	b.WriteString(", server: ")
	b.WriteString(st.serverName())
	if st.req != nil {
		b.WriteString(`, request: "`)
		b.Write(st.req.Method)
		b.WriteByte(' ')
		b.Write(st.req.Target)
		b.WriteString(" HTTP/1.")
		b.WriteString(strconv.Itoa(st.req.Minor))
		b.WriteByte('"')
	}
	return b.String()
}

// fail answers with an error status before a location was chosen; the
// server-level error_page applies.
func (e *Engine) fail(p *Plan, status int) {
	if p.st.srv != nil {
		p.st.loc = p.st.srv.Loc
	}
	e.route(p, e.error(p, status))
}

// route serves loc and follows internal redirects, then finishes p.
func (e *Engine) route(p *Plan, loc *config.Location) {
	st := &p.st
	for loc != nil {
		loc = e.run(p, loc)
		if st.blocked {
			return // ServeCached: the core serves the request again off the loop
		}
		if p.Delay > 0 || p.Wait != nil {
			return // limit_req, proxy_cache_lock: the core waits and serves the request again
		}
		if loc == nil {
			break
		}
		st.redirects++
		if st.redirects > maxRedirects {
			e.logf("error", "rewrite or internal redirection cycle while internally redirecting to %q", p, st.uri)
			st.errPage = true
			e.page(p, 500)
			break
		}
	}
	e.finish(p)
}

// run serves the request in loc. It returns the next location for an
// internal redirect, or nil when p is complete.
func (e *Engine) run(p *Plan, loc *config.Location) *config.Location {
	st := &p.st
	st.loc = loc
	info := e.locs[loc]
	if info == nil { // a location New did not see: serve it without precomputed parts
		info = &noInfo
	}
	st.info = info
	autoRedirect := st.autoRedirect
	st.autoRedirect = false
	if st.srv != nil && loc == st.srv.Loc && loc.Return != nil {
		// The server level's return runs before the location lookup and
		// so before its client_max_body_size check.
		return e.doReturn(p, loc.Return)
	}
	req := st.req
	if req != nil && req.ContentLength > 0 && loc.ClientMaxBodySize > 0 && req.ContentLength > loc.ClientMaxBodySize {
		e.logf("error", "client intended to send too large body: %d bytes", p, req.ContentLength)
		return e.error(p, 413)
	}
	if autoRedirect {
		// ngx_http_core_find_config_phase: 301 to the location's own
		// name, with the arguments.
		n := len(p.arena)
		p.arena = append(p.arena, loc.Path...)
		p.arena = appendArgs(p.arena, st.args)
		e.redirect(p, 301, p.arena[n:])
		return nil
	}
	if loc.Return != nil {
		return e.doReturn(p, loc.Return)
	}
	// nginx's preaccess phase (limit_req, limit_conn) comes after the
	// rewrite phase and before the access phase; each limit is applied
	// once per request, internal redirects included.
	if next, rejected := e.preaccess(p, loc); rejected {
		return next
	}
	// nginx's access phase comes after the rewrite phase (return) and
	// before try_files and the content handlers; every internal
	// redirect checks the rules of its new location.
	if len(loc.Access) > 0 && st.denied(loc.Access) {
		return e.forbid(p)
	}
	if len(info.tryFiles) > 0 {
		if next, done := e.tryFiles(p, info.tryFiles); done {
			return next
		}
	}
	if loc.ProxyPass != nil && info.ug != nil {
		e.startProxy(p, info.ug)
		if loc.Cache != nil {
			e.cacheLookup(p, loc.Cache)
		}
		return nil
	}
	if loc.CGIPass != "" && st.req != nil {
		e.startCGI(p)
		return nil
	}
	return e.static(p)
}

// finish decides keep-alive, timeouts and body handling.
func (e *Engine) finish(p *Plan) {
	st := &p.st
	e.logForbidden(p)
	e.logLimit(p)
	if st.errStatus != 0 && p.Proxy == nil && p.CGI == nil && p.Status >= 200 && p.Status < 300 {
		p.Status = st.errStatus
	}
	// A proxy plan has no status yet: Response decides HeadOnly from
	// the upstream's. A plan finished again (an error after a failed
	// exchange) is decided anew.
	p.HeadOnly = p.Proxy == nil && p.CGI == nil && (headOnlyStatus(p.Status) ||
		st.req != nil && string(st.req.Method) == "HEAD")
	if p.HeadOnly {
		p.CloseFile()
	}
	loc := st.loc
	if p.Proxy == nil && p.CGI == nil {
		// A proxy or CGI plan gets them with its response's status
		// (Proxy.Response, CGI.Response).
		e.addHeaders(p, loc)
		e.gzip(p, loc)
	}
	p.Sendfile = loc != nil && loc.Sendfile
	if loc == nil || st.req == nil || st.srv == nil {
		p.KeepAlive = false
		return
	}
	kt := loc.KeepaliveTimeout
	if e.keepalive != 0 && !loc.KeepaliveSet {
		kt = e.keepalive
	}
	p.KeepaliveTimeout = kt
	p.KeepAlive = st.req.KeepAlive && kt > 0 && st.c.Requests+1 < loc.KeepaliveRequests &&
		!st.closing && !p.Close
	if p.ContentLength < 0 && st.req.Minor == 0 && p.Proxy == nil && p.CGI == nil {
		p.KeepAlive = false
	}
	p.MaxBody = loc.ClientMaxBodySize
	p.ReadBody = p.Proxy != nil || p.CGI != nil && p.CGI.Stdin()
	// nginx takes both from the location (clcf), so that a location
	// may give a slow download or upload more (or less) time.
	p.SendTimeout = loc.SendTimeout
	p.BodyTimeout = loc.ClientBodyTimeout
}

// headOnlyStatus reports a status whose response has no body: 1xx,
// 204 and 304.
func headOnlyStatus(status int) bool {
	return status < 200 || status == 204 || status == 304
}

// closes lists the statuses after which nginx closes the connection
// (ngx_http_special_response_handler).
func closes(status int) bool {
	switch status {
	case 400, 413, 414, 495, 496, 497, 500, 501:
		return true
	}
	return false
}

// error answers status, through the location's error_page when it has
// one. It returns the next location for an internal redirect.
func (e *Engine) error(p *Plan, status int) *config.Location {
	st := &p.st
	if closes(status) {
		st.closing = true
	}
	if st.errPage || st.loc == nil || st.srv == nil {
		e.page(p, status)
		return nil
	}
	ep := st.loc.ErrorPages[status]
	if ep == nil {
		e.page(p, status)
		return nil
	}
	st.errPage = true
	switch {
	case ep.Response > 0:
		st.errStatus = ep.Response
	case ep.Response < 0:
		st.errStatus = status
	default:
		st.errStatus = 0
	}
	n := len(p.arena)
	p.arena = p.eval(p.arena, ep.URI)
	target := p.arena[n:]
	if len(target) == 0 {
		e.page(p, status)
		return nil
	}
	if st.req != nil && string(st.method) != "HEAD" {
		st.method = methodGET
	}
	switch target[0] {
	case '@':
		return e.named(p, target)
	case '/':
		e.setURI(p, target)
		return e.match(p, st.uri)
	}
	code := 302
	switch ep.Response {
	case 301, 302, 303, 307, 308:
		code = ep.Response
	}
	st.errStatus = 0
	e.redirect(p, code, target)
	return nil
}

var methodGET = []byte("GET")

// named returns the named location "@name" for an internal redirect; a
// missing one is a 500.
func (e *Engine) named(p *Plan, name []byte) *config.Location {
	if l := router.Named(p.st.srv, name); l != nil {
		return l
	}
	e.logf("error", "could not find named location %q", p, name)
	return e.error(p, 500)
}

// setURI makes u (maybe with "?args") the request's URI for an internal
// redirect; u is a URI as written in the config, used undecoded as nginx
// does.
func (e *Engine) setURI(p *Plan, u []byte) {
	st := &p.st
	if i := bytes.IndexByte(u, '?'); i >= 0 {
		st.args = u[i+1:]
		u = u[:i]
	}
	st.uri = u
	st.redirected = true
}

// page fills p with nginx's built-in response for status.
func (e *Engine) page(p *Plan, status int) {
	if closes(status) {
		p.st.closing = true
	}
	p.CloseFile()
	p.Status = status
	if _, ok := badRequestPages[status]; ok {
		p.Status = 400 // nginx sends its internal 494-497 as 400
	}
	p.Header = p.Header[:0]
	p.Proxy = nil
	p.CGI = nil
	p.Gzip = 0
	p.Offset = 0
	p.Body = e.pages[status]
	p.ContentLength = int64(len(p.Body))
	if p.Body != nil {
		p.addHeader(hContentType, vTextHTML)
	}
}

func (p *Plan) addHeader(name, value []byte) {
	p.Header = append(p.Header, http1.Field{Name: name, Value: value})
}

// addString adds a header whose value is copied into the arena.
func (p *Plan) addString(name []byte, value string) {
	n := len(p.arena)
	p.arena = append(p.arena, value...)
	p.addHeader(name, p.arena[n:])
}

// redirect answers code with a Location made absolute as nginx does.
func (e *Engine) redirect(p *Plan, code int, url []byte) {
	e.page(p, code)
	n := len(p.arena)
	p.arena = e.absolute(p, p.arena, url)
	p.addHeader(hLocation, p.arena[n:])
}

// absolute appends url to dst, prefixed with scheme://host[:port] when
// it starts with "/" (absolute_redirect on, port_in_redirect on), with
// controls and spaces percent-encoded so that no template can split the
// header.
func (e *Engine) absolute(p *Plan, dst, url []byte) []byte {
	st := &p.st
	if len(url) > 0 && url[0] == '/' {
		dst = append(dst, st.scheme()...)
		dst = append(dst, "://"...)
		h := st.hostName()
		if len(h) == 0 {
			h = st.c.Local.Addr().Unmap().AppendTo(nil)
		}
		dst = append(dst, h...)
		port := st.c.Local.Port()
		if port != 0 && !(port == 80 && !st.c.TLS) && !(port == 443 && st.c.TLS) {
			dst = append(dst, ':')
			dst = strconv.AppendUint(dst, uint64(port), 10)
		}
	}
	return escapeCTL(dst, url)
}

// doReturn runs the return directive.
func (e *Engine) doReturn(p *Plan, r *config.Return) *config.Location {
	st := &p.st
	switch r.Code {
	case 444:
		e.page(p, 444)
		p.Close = true
		st.closing = true
		return nil
	case 301, 302, 303, 307, 308:
		n := len(p.arena)
		p.arena = p.eval(p.arena, r.Text)
		e.redirect(p, r.Code, p.arena[n:])
		return nil
	}
	if r.Text.Raw == "" && len(r.Text.Parts) == 0 {
		if r.Code >= 400 {
			return e.error(p, r.Code)
		}
		e.page(p, r.Code)
		return nil
	}
	e.page(p, r.Code)
	n := len(p.arena)
	p.arena = p.eval(p.arena, r.Text)
	p.Header = p.Header[:0]
	p.Body = p.arena[n:]
	p.ContentLength = int64(len(p.Body))
	p.addString(hContentType, defaultType(st.loc))
	return nil
}

func defaultType(loc *config.Location) string {
	if loc.DefaultType == "" {
		return "text/plain"
	}
	return loc.DefaultType
}
