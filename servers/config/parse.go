package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Load reads, parses and validates the config file at name and the files
// it includes. Relative include paths resolve against the directory of
// name, as nginx resolves them against its prefix.
//
// Host names of upstream servers and proxy_pass are resolved now with
// the system resolver; Options.Load takes another.
func Load(name string) (*Config, error) { return Options{}.Load(name) }

func readFile(name string) ([]byte, error) {
	src, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return src, nil
}

// LoadFS is Load reading from fsys: include paths and the prefix are paths
// inside fsys, and an absolute include path is rooted at the top of fsys.
func LoadFS(fsys fs.FS, name string) (*Config, error) { return Options{}.LoadFS(fsys, name) }

// Parse parses and validates src as the config file name. Included files
// are read from disk, relative to the directory of name.
func Parse(name string, src []byte) (*Config, error) { return Options{}.Parse(name, src) }

// Path resolves p, a path from the config such as AccessLog, against
// c.Prefix; absolute paths and "" are returned as they are.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "/") || c.Prefix == "" {
		return p
	}
	return filepath.Join(c.Prefix, p)
}

// ctx is a set of config contexts.
type ctx uint8

const (
	cMain ctx = 1 << iota
	cEvents
	cHTTP
	cServer
	cLoc
	cUpstream
)

// level is one block being interpreted: main, events, http, server,
// location or upstream.
type level struct {
	ctx     ctx
	n       map[string]int // directive name → times seen at this level
	loc     *Location      // http, server, location: values set here
	srv     *Server        // http (server-level values), server
	ups     *Upstream
	headers []HeaderSet // explicit proxy_set_header lines, inherited when a level has none
	kids    []*level    // location levels
	opts    []bool      // server: per Listens entry, whether it sets socket options
	logOff  bool        // "access_log off" was read at this level
	ssl     *sslLevel   // http, server: ssl_certificate and ssl_certificate_key lines
}

func newLevel(c ctx) *level { return &level{ctx: c, n: make(map[string]int)} }

func (lv *level) has(name string) bool { return lv.n[name] > 0 }

// parser interprets the syntax tree into a Config.
type parser struct {
	cfg       *Config
	join      func(...string) string
	opts      Options
	http      *level
	servers   []*level
	upstreams map[string]string // lowercased name → name
	proxies   []proxyUse
	templates []templateUse
	captures  map[string]bool // named regex captures, usable as variables
	// logFormats are the log_format lines read so far; access_log
	// names only those defined before it, as in nginx.
	logFormats map[string]*LogFormat
	// limit_req and limit_conn lines, bound to their zones by finish.
	limitReqs  []limitReqUse
	limitConns []limitConnUse
	// sslListens is the first "listen ... ssl" line of each address.
	sslListens map[string]Pos
}

type proxyUse struct {
	d  *directive
	pp *ProxyPass
}

type templateUse struct {
	d *directive
	t Template
}

func parse(name string, src []byte, s source, prefix string, join func(...string) string, opts Options) (*Config, error) {
	r := &reader{src: s, active: make(map[string]bool)}
	tree, err := r.readFile(name, src)
	if err != nil {
		return nil, err
	}
	p := &parser{
		cfg: &Config{
			File:              name,
			Prefix:            prefix,
			WorkerProcesses:   1,
			WorkerConnections: 512,
			ErrorLog:          "logs/error.log",
			ErrorLogLevel:     "error",
			PID:               "logs/nginx.pid",
		},
		join:       join,
		opts:       opts,
		upstreams:  make(map[string]string),
		captures:   make(map[string]bool),
		logFormats: map[string]*LogFormat{"combined": combined},
		sslListens: make(map[string]Pos),
	}
	if err := p.block(newLevel(cMain), tree); err != nil {
		return nil, err
	}
	if p.http != nil {
		if err := p.finish(); err != nil {
			return nil, err
		}
	}
	return p.cfg, nil
}

// block interprets the directives of one block.
func (p *parser) block(lv *level, list []*directive) error {
	for _, d := range list {
		if err := p.directive(lv, d); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) directive(lv *level, d *directive) error {
	if notYet(d.name) {
		return &Error{Pos: d.pos, Directive: d.name, Err: ErrNotSupported,
			Msg: fmt.Sprintf("directive %q is not supported yet", d.name)}
	}
	specs, ok := directives[d.name]
	if !ok {
		return d.errorf("unknown directive %q", d.name)
	}
	var s *spec
	for i := range specs {
		if specs[i].ctx&lv.ctx != 0 {
			s = &specs[i]
			break
		}
	}
	if s == nil {
		return d.errorf("%q directive is not allowed here", d.name)
	}
	if s.block && !d.hasBlock {
		return d.errorf(`directive %q has no opening "{"`, d.name)
	}
	if !s.block && d.hasBlock {
		return d.errorf(`directive %q is not terminated by ";"`, d.name)
	}
	if n := len(d.args); n < s.min || s.max >= 0 && n > s.max {
		return d.errorf("invalid number of arguments in %q directive", d.name)
	}
	if !s.multi && lv.has(d.name) {
		return d.errorf("%q directive is duplicate", d.name)
	}
	lv.n[d.name]++
	return s.fn(p, lv, d)
}

// path resolves a root or alias path against the prefix, keeping a
// trailing slash; paths starting with a variable are kept as written.
func (p *parser) path(s string) string {
	if s == "" || s[0] == '$' || s[0] == '/' || filepath.IsAbs(s) {
		return s
	}
	r := p.join(p.cfg.Prefix, s)
	if strings.HasSuffix(s, "/") && !strings.HasSuffix(r, "/") {
		r += "/"
	}
	return r
}

// template parses a directive argument as a Template; its variables are
// checked when the whole config is read (named captures may come later).
func (p *parser) template(d *directive, s string) (Template, error) {
	t, err := splitTemplate(s)
	if err != nil {
		return t, &Error{Pos: d.pos, Directive: d.name, Err: err,
			Msg: fmt.Sprintf("%v in %q directive", err, d.name)}
	}
	if !t.IsStatic() {
		p.templates = append(p.templates, templateUse{d, t})
	}
	return t, nil
}

// combined is nginx's predefined log format, shared by every config.
var combined = &LogFormat{Name: "combined", Escape: "default", Template: mustTemplate(CombinedFormat)}

func mustTemplate(s string) Template {
	t, err := ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

// defaultLocation has nginx 1.22's defaults of every location setting.
func (p *parser) defaultLocation() *Location {
	return &Location{
		Root:                p.path("html"),
		Index:               []string{"index.html"},
		DefaultType:         "text/plain",
		KeepaliveTimeout:    75 * time.Second,
		KeepaliveRequests:   1000,
		ClientMaxBodySize:   1 << 20,
		ClientBodyTimeout:   60 * time.Second,
		SendTimeout:         60 * time.Second,
		AccessLog:           "logs/access.log",
		AccessLogFormat:     "combined",
		AccessLogs:          []*AccessLog{{Path: "logs/access.log", Format: combined}},
		ProxyHTTPVersion:    "1.0",
		ProxyConnectTimeout: 60 * time.Second,
		ProxyReadTimeout:    60 * time.Second,
		ProxySendTimeout:    60 * time.Second,
		ProxyBuffering:      true,
		ProxyNextUpstream:   NextError | NextTimeout,
		CGITimeout:          60 * time.Second,
		LimitReqStatus:      503,
		LimitConnStatus:     503,

		OpenFileCacheValid:   60 * time.Second,
		OpenFileCacheMinUses: 1,
		Gzip:                 defaultGzip,
	}
}

// finish runs the checks that need the whole http block, then resolves
// inheritance.
func (p *parser) finish() error {
	if err := p.finishListens(); err != nil {
		return err
	}
	if err := p.finishSSL(); err != nil {
		return err
	}
	if err := p.finishProxies(); err != nil {
		return err
	}
	if err := p.finishLimits(); err != nil {
		return err
	}
	for _, u := range p.templates {
		for _, part := range u.t.Parts {
			v := part.Var
			if v == "" || KnownVariable(v) || p.captures[v] || isCapture(v) {
				continue
			}
			return u.d.errorf("unknown %q variable in %q directive", v, u.d.name)
		}
	}
	p.inherit()
	return nil
}

func (p *parser) finishListens() error {
	type addrInfo struct {
		def, opts *Listen
		backlog   int
		reuseport bool
		ssl       bool
	}
	addrs := make(map[string]*addrInfo)
	for _, s := range p.servers {
		srv := s.srv
		if len(srv.Listens) == 0 {
			srv.Listens = []Listen{{Pos: srv.Pos, Addr: "*:80", Backlog: 511}}
			s.opts = []bool{false}
		}
		if len(srv.Names) == 0 {
			srv.Names = []ServerName{{Kind: NameExact}}
		}
		for i := range srv.Listens {
			l := &srv.Listens[i]
			a := addrs[l.Addr]
			if a == nil {
				a = &addrInfo{}
				addrs[l.Addr] = a
			}
			if l.DefaultServer {
				if a.def != nil {
					return &Error{Pos: l.Pos, Directive: "listen",
						Msg: fmt.Sprintf(`a duplicate default server for %s in "listen" directive`, l.Addr)}
				}
				a.def = l
			}
			if s.opts[i] {
				if a.opts != nil {
					return &Error{Pos: l.Pos, Directive: "listen",
						Msg: fmt.Sprintf(`duplicate listen options for %s in "listen" directive`, l.Addr)}
				}
				a.opts, a.backlog, a.reuseport = l, l.Backlog, l.ReusePort
			}
			a.ssl = a.ssl || l.SSL
		}
	}
	for _, s := range p.servers {
		for i := range s.srv.Listens {
			l := &s.srv.Listens[i]
			a := addrs[l.Addr]
			l.SSL = a.ssl
			l.Backlog, l.ReusePort = 511, false
			if a.opts != nil {
				l.Backlog, l.ReusePort = a.backlog, a.reuseport
			}
		}
	}
	return nil
}

func (p *parser) finishProxies() error {
	for _, u := range p.proxies {
		pp := u.pp
		host, port, err := splitHostPort(pp.Host)
		if err != nil {
			return u.d.errorf("invalid host in upstream %q in \"proxy_pass\" directive", pp.Host)
		}
		if port == "" {
			if name, ok := p.upstreams[strings.ToLower(host)]; ok {
				pp.Upstream = name
				continue
			}
			port = "80"
		}
		pp.Addr = host + ":" + port
		addrs, ok := p.resolve(host, port)
		if !ok {
			return u.d.errorf("host not found in upstream %q in \"proxy_pass\" directive", pp.Host)
		}
		pp.Addrs = addrs
	}
	return nil
}

// implicitHeaders are the proxy_set_header lines nginx adds unless a line
// names them.
var implicitHeaders = []HeaderSet{
	{Name: "Host", Value: Template{Raw: "$proxy_host", Parts: []TemplatePart{{Var: "proxy_host"}}}},
	{Name: "Connection", Value: Template{Raw: "close", Parts: []TemplatePart{{Lit: "close"}}}},
}

// EffectiveProxyHeaders returns explicit, the proxy_set_header lines of
// a level, followed by nginx's implicit "Host $proxy_host" and
// "Connection close" unless a line names them (case-insensitively): the
// value Location.ProxySetHeaders holds. Code that builds a Location by
// hand uses it to get the same list.
func EffectiveProxyHeaders(explicit []HeaderSet) []HeaderSet {
	hs := make([]HeaderSet, 0, len(explicit)+len(implicitHeaders))
	hs = append(hs, explicit...)
next:
	for _, h := range implicitHeaders {
		for _, e := range explicit {
			if strings.EqualFold(e.Name, h.Name) {
				continue next
			}
		}
		hs = append(hs, h)
	}
	return hs
}

// builtinTypes is the built-in mime.types table.
var builtinTypes = sync.OnceValue(func() map[string]string {
	m := make(map[string]string)
	l := newLexer(builtinMimeName, builtinMimeTypes)
	for {
		words, end, err := l.next()
		if err != nil || end == endEOF {
			return m
		}
		if end == endSemi && len(words) > 1 {
			for _, w := range words[1:] {
				m[strings.ToLower(w.text)] = words[0].text
			}
		}
	}
})

// inherit resolves every server and location from its enclosing level.
func (p *parser) inherit() {
	h := p.http
	if h.loc.Types == nil {
		h.loc.Types = builtinTypes()
	}
	for _, s := range p.servers {
		srv, hs := s.srv, h.srv
		if !s.has("client_header_buffer_size") {
			srv.ClientHeaderBufferSize = hs.ClientHeaderBufferSize
		}
		if !s.has("large_client_header_buffers") {
			srv.LargeClientHeaderBuffers = hs.LargeClientHeaderBuffers
		}
		if !s.has("client_header_timeout") {
			srv.ClientHeaderTimeout = hs.ClientHeaderTimeout
		}
		inheritTree(s, h)
		srv.ClientBodyTimeout = srv.Loc.ClientBodyTimeout
		srv.SendTimeout = srv.Loc.SendTimeout
	}
}

func inheritTree(c, parent *level) {
	inheritLoc(c, parent)
	for _, k := range c.kids {
		inheritTree(k, c)
	}
}

// inheritLoc copies into c every setting c does not set itself.
func inheritLoc(c, parent *level) {
	l, p := c.loc, parent.loc
	switch {
	case !c.has("root") && !c.has("alias"):
		l.Root, l.Alias = p.Root, p.Alias
		l.RootTemplate, l.AliasTemplate = p.RootTemplate, p.AliasTemplate
	case c.has("alias"):
		l.Root, l.RootTemplate = p.Root, p.RootTemplate
	}
	if !c.has("index") {
		l.Index = p.Index
	}
	if !c.has("try_files") {
		l.TryFiles, l.TryFilesTemplates = p.TryFiles, p.TryFilesTemplates
	}
	if !c.has("sendfile") {
		l.Sendfile = p.Sendfile
	}
	if !c.has("open_file_cache") {
		l.OpenFileCache = p.OpenFileCache
	}
	if !c.has("open_file_cache_valid") {
		l.OpenFileCacheValid = p.OpenFileCacheValid
	}
	if !c.has("open_file_cache_min_uses") {
		l.OpenFileCacheMinUses = p.OpenFileCacheMinUses
	}
	if !c.has("open_file_cache_errors") {
		l.OpenFileCacheErrors = p.OpenFileCacheErrors
	}
	if !c.has("types") {
		l.Types = p.Types
	}
	if !c.has("default_type") {
		l.DefaultType = p.DefaultType
	}
	if !c.has("error_page") {
		l.ErrorPages = p.ErrorPages
	}
	if !c.has("keepalive_timeout") {
		l.KeepaliveTimeout, l.KeepaliveHeader = p.KeepaliveTimeout, p.KeepaliveHeader
		l.KeepaliveSet = p.KeepaliveSet
	}
	if !c.has("keepalive_requests") {
		l.KeepaliveRequests = p.KeepaliveRequests
	}
	if !c.has("client_max_body_size") {
		l.ClientMaxBodySize = p.ClientMaxBodySize
	}
	if !c.has("client_body_timeout") {
		l.ClientBodyTimeout = p.ClientBodyTimeout
	}
	if !c.has("send_timeout") {
		l.SendTimeout = p.SendTimeout
	}
	if !c.has("access_log") {
		l.AccessLog, l.AccessLogFormat, l.AccessLogs = p.AccessLog, p.AccessLogFormat, p.AccessLogs
	}
	if !c.has("proxy_set_header") {
		c.headers = parent.headers
	}
	l.ProxySetHeaders = EffectiveProxyHeaders(c.headers)
	if !c.has("proxy_http_version") {
		l.ProxyHTTPVersion = p.ProxyHTTPVersion
	}
	if !c.has("proxy_connect_timeout") {
		l.ProxyConnectTimeout = p.ProxyConnectTimeout
	}
	if !c.has("proxy_read_timeout") {
		l.ProxyReadTimeout = p.ProxyReadTimeout
	}
	if !c.has("proxy_send_timeout") {
		l.ProxySendTimeout = p.ProxySendTimeout
	}
	if !c.has("proxy_buffering") {
		l.ProxyBuffering = p.ProxyBuffering
	}
	if !c.has("proxy_next_upstream") {
		l.ProxyNextUpstream = p.ProxyNextUpstream
	}
	if !c.has("proxy_next_upstream_tries") {
		l.ProxyNextUpstreamTries = p.ProxyNextUpstreamTries
	}
	if !c.has("proxy_next_upstream_timeout") {
		l.ProxyNextUpstreamTimeout = p.ProxyNextUpstreamTimeout
	}
	if !c.has("cgi_timeout") {
		l.CGITimeout = p.CGITimeout
	}
	// nginx's array inheritance: a level's own lines replace the
	// enclosing level's, which apply only where a level has none.
	if !c.has("allow") && !c.has("deny") {
		l.Access = p.Access
	}
	if !c.has("add_header") {
		l.AddHeaders = p.AddHeaders
	}
	inheritGzip(c, parent)
	inheritLimits(c, parent)
}
