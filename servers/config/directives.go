package config

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"
)

// handler interprets one directive whose context, block and argument
// count are already checked.
type handler func(p *parser, lv *level, d *directive) error

// spec describes a directive in some contexts.
type spec struct {
	ctx      ctx
	min, max int  // argument count; max -1 for no limit
	block    bool // takes a block
	multi    bool // may repeat in one block
	fn       handler
}

// directives maps a name to its specs, one per distinct meaning
// ("server" in http and in upstream).
var directives map[string][]spec

// notYetNames and notYetPrefixes are directives c10k recognises but does
// not implement yet.
var (
	notYetNames = map[string]bool{
		"gzip_disable": true,
		"gzip_buffers": true,

		"limit_req_log_level":  true,
		"limit_req_dry_run":    true,
		"limit_conn_log_level": true,
		"limit_conn_dry_run":   true,
		"gzip_static":          true,
	}
	notYetPrefixes = []string{"proxy_cache"}
)

func notYet(name string) bool {
	if notYetNames[name] {
		return true
	}
	for _, p := range notYetPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

const cAny = cHTTP | cServer | cLoc

func init() {
	directives = map[string][]spec{
		// main
		"worker_processes": {{ctx: cMain, min: 1, max: 1, fn: workerProcesses}},
		"events":           {{ctx: cMain, block: true, fn: events}},
		"http":             {{ctx: cMain, block: true, fn: http}},
		"error_log":        {{ctx: cMain, min: 1, max: 2, fn: errorLog}},
		"pid": {{ctx: cMain, min: 1, max: 1, fn: func(p *parser, lv *level, d *directive) error {
			p.cfg.PID = d.args[0]
			return nil
		}}},
		"worker_connections": {{ctx: cEvents, min: 1, max: 1, fn: func(p *parser, lv *level, d *directive) error {
			n, err := parseNumber(d.args[0])
			if err != nil || n == 0 {
				return invalid(d, d.args[0])
			}
			p.cfg.WorkerConnections = n
			return nil
		}}},

		// http
		"upstream": {{ctx: cHTTP, min: 1, max: 1, block: true, multi: true, fn: upstream}},
		"server": {
			{ctx: cHTTP, block: true, multi: true, fn: server},
			{ctx: cUpstream, min: 1, max: -1, multi: true, fn: upstreamServer},
		},

		"limit_req_zone":  {{ctx: cHTTP, min: 2, max: 4, multi: true, fn: limitReqZone}},
		"limit_conn_zone": {{ctx: cHTTP, min: 2, max: 2, multi: true, fn: limitConnZone}},

		// http, server, location
		"limit_req":                {{ctx: cAny, min: 1, max: 3, multi: true, fn: limitReq}},
		"limit_req_status":         {{ctx: cAny, min: 1, max: 1, fn: limitStatus(func(l *Location) *int { return &l.LimitReqStatus })}},
		"limit_conn":               {{ctx: cAny, min: 2, max: 2, multi: true, fn: limitConn}},
		"limit_conn_status":        {{ctx: cAny, min: 1, max: 1, fn: limitStatus(func(l *Location) *int { return &l.LimitConnStatus })}},
		"types":                    {{ctx: cAny, block: true, multi: true, fn: types}},
		"default_type":             {{ctx: cAny, min: 1, max: 1, fn: func(p *parser, lv *level, d *directive) error { lv.loc.DefaultType = d.args[0]; return nil }}},
		"sendfile":                 {{ctx: cAny, min: 1, max: 1, fn: onOff(func(l *Location) *bool { return &l.Sendfile })}},
		"open_file_cache":          {{ctx: cAny, min: 1, max: 2, fn: openFileCache}},
		"open_file_cache_valid":    {{ctx: cAny, min: 1, max: 1, fn: duration(func(l *Location) *time.Duration { return &l.OpenFileCacheValid })}},
		"open_file_cache_min_uses": {{ctx: cAny, min: 1, max: 1, fn: number(func(l *Location) *int { return &l.OpenFileCacheMinUses })}},
		"open_file_cache_errors":   {{ctx: cAny, min: 1, max: 1, fn: onOff(func(l *Location) *bool { return &l.OpenFileCacheErrors })}},
		"keepalive_timeout": {
			{ctx: cAny, min: 1, max: 2, fn: keepaliveTimeout},
			{ctx: cUpstream, min: 1, max: 1, fn: func(p *parser, lv *level, d *directive) error {
				t, err := parseTime(d.args[0])
				if err != nil {
					return invalid(d, d.args[0])
				}
				lv.ups.KeepaliveTimeout = t
				return nil
			}},
		},
		"keepalive_requests": {
			{ctx: cAny, min: 1, max: 1, fn: number(func(l *Location) *int { return &l.KeepaliveRequests })},
			{ctx: cUpstream, min: 1, max: 1, fn: func(p *parser, lv *level, d *directive) error {
				n, err := parseNumber(d.args[0])
				if err != nil {
					return invalid(d, d.args[0])
				}
				lv.ups.KeepaliveRequests = n
				return nil
			}},
		},
		"client_max_body_size":        {{ctx: cAny, min: 1, max: 1, fn: size(func(l *Location) *int64 { return &l.ClientMaxBodySize })}},
		"client_body_timeout":         {{ctx: cAny, min: 1, max: 1, fn: duration(func(l *Location) *time.Duration { return &l.ClientBodyTimeout })}},
		"send_timeout":                {{ctx: cAny, min: 1, max: 1, fn: duration(func(l *Location) *time.Duration { return &l.SendTimeout })}},
		"access_log":                  {{ctx: cAny, min: 1, max: 4, multi: true, fn: accessLog}},
		"log_format":                  {{ctx: cHTTP, min: 2, max: -1, multi: true, fn: logFormat}},
		"root":                        {{ctx: cAny, min: 1, max: 1, fn: root}},
		"index":                       {{ctx: cAny, min: 1, max: -1, multi: true, fn: index}},
		"error_page":                  {{ctx: cAny, min: 2, max: -1, multi: true, fn: errorPage}},
		"proxy_set_header":            {{ctx: cAny, min: 2, max: 2, multi: true, fn: proxySetHeader}},
		"proxy_http_version":          {{ctx: cAny, min: 1, max: 1, fn: proxyHTTPVersion}},
		"proxy_connect_timeout":       {{ctx: cAny, min: 1, max: 1, fn: duration(func(l *Location) *time.Duration { return &l.ProxyConnectTimeout })}},
		"proxy_read_timeout":          {{ctx: cAny, min: 1, max: 1, fn: duration(func(l *Location) *time.Duration { return &l.ProxyReadTimeout })}},
		"proxy_send_timeout":          {{ctx: cAny, min: 1, max: 1, fn: duration(func(l *Location) *time.Duration { return &l.ProxySendTimeout })}},
		"proxy_buffering":             {{ctx: cAny, min: 1, max: 1, fn: onOff(func(l *Location) *bool { return &l.ProxyBuffering })}},
		"proxy_next_upstream":         {{ctx: cAny, min: 1, max: -1, fn: proxyNextUpstream}},
		"proxy_next_upstream_tries":   {{ctx: cAny, min: 1, max: 1, fn: number(func(l *Location) *int { return &l.ProxyNextUpstreamTries })}},
		"proxy_next_upstream_timeout": {{ctx: cAny, min: 1, max: 1, fn: duration(func(l *Location) *time.Duration { return &l.ProxyNextUpstreamTimeout })}},
		"allow":                       {{ctx: cAny, min: 1, max: 1, multi: true, fn: accessRule}},
		"deny":                        {{ctx: cAny, min: 1, max: 1, multi: true, fn: accessRule}},
		"add_header":                  {{ctx: cAny, min: 2, max: 3, multi: true, fn: addHeader}},
		"gzip":                        {{ctx: cAny, min: 1, max: 1, fn: onOff(func(l *Location) *bool { return &l.Gzip.On })}},
		"gzip_types":                  {{ctx: cAny, min: 1, max: -1, fn: gzipTypes}},
		"gzip_min_length":             {{ctx: cAny, min: 1, max: 1, fn: gzipMinLength}},
		"gzip_comp_level":             {{ctx: cAny, min: 1, max: 1, fn: gzipCompLevel}},
		"gzip_vary":                   {{ctx: cAny, min: 1, max: 1, fn: onOff(func(l *Location) *bool { return &l.Gzip.Vary })}},
		"gzip_proxied":                {{ctx: cAny, min: 1, max: -1, fn: gzipProxied}},
		"gzip_http_version":           {{ctx: cAny, min: 1, max: 1, fn: gzipHTTPVersion}},

		// http, server
		"client_header_buffer_size": {{ctx: cHTTP | cServer, min: 1, max: 1, fn: func(p *parser, lv *level, d *directive) error {
			n, err := parseSize(d.args[0])
			if err != nil || n == 0 {
				return invalid(d, d.args[0])
			}
			lv.srv.ClientHeaderBufferSize = n
			return nil
		}}},
		"large_client_header_buffers": {{ctx: cHTTP | cServer, min: 2, max: 2, fn: func(p *parser, lv *level, d *directive) error {
			n, err := parseNumber(d.args[0])
			if err != nil || n == 0 {
				return invalid(d, d.args[0])
			}
			sz, err := parseSize(d.args[1])
			if err != nil || sz == 0 {
				return invalid(d, d.args[1])
			}
			lv.srv.LargeClientHeaderBuffers = BufferSpec{Number: n, Size: sz}
			return nil
		}}},
		"client_header_timeout": {{ctx: cHTTP | cServer, min: 1, max: 1, fn: func(p *parser, lv *level, d *directive) error {
			t, err := parseTime(d.args[0])
			if err != nil {
				return invalid(d, d.args[0])
			}
			lv.srv.ClientHeaderTimeout = t
			return nil
		}}},

		// server, location
		"try_files": {{ctx: cServer | cLoc, min: 2, max: -1, fn: tryFiles}},
		"return":    {{ctx: cServer | cLoc, min: 1, max: 2, fn: ret}},

		// server
		"listen":      {{ctx: cServer, min: 1, max: -1, multi: true, fn: listen}},
		"server_name": {{ctx: cServer, min: 1, max: -1, multi: true, fn: serverName}},
		"location":    {{ctx: cServer | cLoc, min: 1, max: 2, block: true, multi: true, fn: location}},

		// location
		"alias":      {{ctx: cLoc, min: 1, max: 1, fn: alias}},
		"proxy_pass": {{ctx: cLoc, min: 1, max: 1, fn: proxyPass}},
		"cgi_pass":   {{ctx: cLoc, min: 1, max: 1, fn: cgiPass}},
		"cgi_timeout": {{ctx: cAny, min: 1, max: 1, fn: func(p *parser, lv *level, d *directive) error {
			t, err := parseTime(d.args[0])
			if err != nil || t <= 0 {
				return invalid(d, d.args[0])
			}
			lv.loc.CGITimeout = t
			return nil
		}}},

		// upstream
		"least_conn": {{ctx: cUpstream, fn: func(p *parser, lv *level, d *directive) error { return balance(lv, d, BalanceLeastConn) }}},
		"ip_hash":    {{ctx: cUpstream, fn: func(p *parser, lv *level, d *directive) error { return balance(lv, d, BalanceIPHash) }}},
		"hash":       {{ctx: cUpstream, min: 1, max: 2, fn: hash}},
		"random":     {{ctx: cUpstream, min: 0, max: 2, fn: random}},
		"keepalive": {{ctx: cUpstream, min: 1, max: 1, fn: func(p *parser, lv *level, d *directive) error {
			n, err := parseNumber(d.args[0])
			if err != nil || n == 0 {
				return invalid(d, d.args[0])
			}
			lv.ups.Keepalive = n
			return nil
		}}},
	}
	for name, s := range sslDirectives() {
		directives[name] = s
	}
}

func invalid(d *directive, v string) error {
	return d.errorf("invalid value %q in %q directive", v, d.name)
}

func invalidParam(d *directive, v string) error {
	return d.errorf("invalid parameter %q in %q directive", v, d.name)
}

func notSupported(d *directive, what string) error {
	return &Error{Pos: d.pos, Directive: d.name, Err: ErrNotSupported,
		Msg: fmt.Sprintf("%s in %q directive is not supported yet", what, d.name)}
}

func onOff(field func(*Location) *bool) handler {
	return func(p *parser, lv *level, d *directive) error {
		v, ok := parseFlag(d.args[0])
		if !ok {
			return d.errorf(`invalid value %q in %q directive, it must be "on" or "off"`, d.args[0], d.name)
		}
		*field(lv.loc) = v
		return nil
	}
}

func number(field func(*Location) *int) handler {
	return func(p *parser, lv *level, d *directive) error {
		n, err := parseNumber(d.args[0])
		if err != nil {
			return invalid(d, d.args[0])
		}
		*field(lv.loc) = n
		return nil
	}
}

func size(field func(*Location) *int64) handler {
	return func(p *parser, lv *level, d *directive) error {
		n, err := parseSize(d.args[0])
		if err != nil {
			return invalid(d, d.args[0])
		}
		*field(lv.loc) = n
		return nil
	}
}

func duration(field func(*Location) *time.Duration) handler {
	return func(p *parser, lv *level, d *directive) error {
		t, err := parseTime(d.args[0])
		if err != nil {
			return invalid(d, d.args[0])
		}
		*field(lv.loc) = t
		return nil
	}
}

func workerProcesses(p *parser, lv *level, d *directive) error {
	if d.args[0] == "auto" {
		p.cfg.WorkerProcesses = 0
		return nil
	}
	n, err := parseNumber(d.args[0])
	if err != nil || n == 0 {
		return invalid(d, d.args[0])
	}
	p.cfg.WorkerProcesses = n
	return nil
}

func events(p *parser, lv *level, d *directive) error {
	return p.block(newLevel(cEvents), d.block)
}

var logLevels = map[string]bool{
	"debug": true, "info": true, "notice": true, "warn": true,
	"error": true, "crit": true, "alert": true, "emerg": true,
}

func errorLog(p *parser, lv *level, d *directive) error {
	p.cfg.ErrorLog = d.args[0]
	if len(d.args) == 2 {
		if !logLevels[d.args[1]] {
			return d.errorf("invalid log level %q in %q directive", d.args[1], d.name)
		}
		p.cfg.ErrorLogLevel = d.args[1]
	}
	return nil
}

func http(p *parser, lv *level, d *directive) error {
	h := newLevel(cHTTP)
	h.loc = p.defaultLocation()
	h.srv = &Server{
		ClientHeaderBufferSize:   1 << 10,
		LargeClientHeaderBuffers: BufferSpec{Number: 4, Size: 8 << 10},
		ClientHeaderTimeout:      60 * time.Second,
		SSL:                      defaultSSL(),
	}
	p.http = h
	p.cfg.HTTP = &HTTP{Upstreams: make(map[string]*Upstream),
		LogFormats: map[string]*LogFormat{"combined": combined}}
	return p.block(h, d.block)
}

func server(p *parser, lv *level, d *directive) error {
	srv := &Server{Pos: d.pos, Loc: &Location{Pos: d.pos}}
	s := newLevel(cServer)
	s.srv, s.loc = srv, srv.Loc
	if err := p.block(s, d.block); err != nil {
		return err
	}
	p.servers = append(p.servers, s)
	p.cfg.HTTP.Servers = append(p.cfg.HTTP.Servers, srv)
	return nil
}

// types reads a types block: each line is "mime/type ext...". Blocks of
// one level add to the same table; a level's table replaces the
// inherited one.
func types(p *parser, lv *level, d *directive) error {
	m := lv.loc.Types
	if lv.n["types"] == 1 || m == nil {
		m = make(map[string]string)
		lv.loc.Types = m
	}
	for _, t := range d.block {
		if t.hasBlock {
			return t.errorf("directive %q is not terminated by \";\"", t.name)
		}
		if len(t.args) == 0 {
			return t.errorf(`invalid number of arguments in "types" directive`)
		}
		for _, ext := range t.args {
			m[strings.ToLower(ext)] = t.name
		}
	}
	return nil
}

func keepaliveTimeout(p *parser, lv *level, d *directive) error {
	t, err := parseTime(d.args[0])
	if err != nil {
		return invalid(d, d.args[0])
	}
	var h time.Duration
	if len(d.args) == 2 {
		if h, err = parseTime(d.args[1]); err != nil {
			return invalid(d, d.args[1])
		}
	}
	lv.loc.KeepaliveTimeout, lv.loc.KeepaliveHeader = t, h
	lv.loc.KeepaliveSet = true
	return nil
}

// openFileCache reads "open_file_cache off | max=N [inactive=time]" as
// ngx_http_core_open_file_cache does: max is required and positive,
// inactive defaults to 60s.
func openFileCache(p *parser, lv *level, d *directive) error {
	if d.args[0] == "off" {
		if len(d.args) > 1 {
			return invalidParam(d, d.args[1])
		}
		lv.loc.OpenFileCache = nil
		return nil
	}
	c := &OpenFileCache{Pos: d.pos, Inactive: 60 * time.Second}
	for _, a := range d.args {
		switch {
		case strings.HasPrefix(a, "max="):
			n, err := parseNumber(a[4:])
			if err != nil || n <= 0 {
				return invalid(d, a)
			}
			c.Max = n
		case strings.HasPrefix(a, "inactive="):
			t, err := parseTime(a[9:])
			if err != nil {
				return invalid(d, a)
			}
			c.Inactive = t
		default:
			return invalidParam(d, a)
		}
	}
	if c.Max == 0 {
		return d.errorf(`"open_file_cache" must have the "max" parameter`)
	}
	lv.loc.OpenFileCache = c
	return nil
}

func accessLog(p *parser, lv *level, d *directive) error {
	if d.args[0] == "off" {
		if len(d.args) > 1 {
			return invalidParam(d, d.args[1])
		}
		if lv.n[d.name] > 1 {
			return d.errorf(`"access_log off" cannot be combined with other "access_log" directives`)
		}
		lv.loc.AccessLog, lv.loc.AccessLogFormat, lv.loc.AccessLogs = "", "", nil
		lv.logOff = true
		return nil
	}
	if lv.logOff {
		return d.errorf(`"access_log off" cannot be combined with other "access_log" directives`)
	}
	a := &AccessLog{Pos: d.pos, Path: d.args[0], Format: p.logFormats["combined"]}
	rest := d.args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "buffer=") && !strings.HasPrefix(rest[0], "flush=") {
		f := p.logFormats[rest[0]]
		if f == nil {
			return d.errorf("unknown log format %q in %q directive", rest[0], d.name)
		}
		a.Format, rest = f, rest[1:]
	}
	for _, arg := range rest {
		switch {
		case strings.HasPrefix(arg, "buffer="):
			n, err := parseSize(arg[len("buffer="):])
			if err != nil || n <= 0 {
				return d.errorf("invalid buffer size %q in %q directive", arg, d.name)
			}
			a.Buffer = n
		case strings.HasPrefix(arg, "flush="):
			t, err := parseTime(arg[len("flush="):])
			if err != nil || t <= 0 {
				return d.errorf("invalid flush time %q in %q directive", arg, d.name)
			}
			a.Flush = t
		default:
			return invalidParam(d, arg)
		}
	}
	if a.Flush > 0 && a.Buffer == 0 {
		a.Buffer = DefaultAccessLogBuffer // nginx: flush= implies a 64k buffer
	}
	if lv.n[d.name] == 1 { // the first line of this level replaces the inherited ones
		lv.loc.AccessLogs = nil
		lv.loc.AccessLog, lv.loc.AccessLogFormat = a.Path, a.Format.Name
	}
	lv.loc.AccessLogs = append(lv.loc.AccessLogs, a)
	return nil
}

// logFormat is "log_format NAME [escape=default|json|none] STRING...":
// the strings are joined without separator, as nginx does.
func logFormat(p *parser, lv *level, d *directive) error {
	name := d.args[0]
	if p.logFormats[name] != nil {
		return d.errorf("duplicate \"log_format\" name %q", name)
	}
	f := &LogFormat{Name: name, Escape: "default"}
	args := d.args[1:]
	if strings.HasPrefix(args[0], "escape=") {
		switch v := args[0][len("escape="):]; v {
		case "default", "json", "none":
			f.Escape = v
		default:
			return d.errorf("unknown log format escaping %q", v)
		}
		args = args[1:]
		if len(args) == 0 {
			return d.errorf("invalid number of arguments in %q directive", d.name)
		}
	}
	t, err := p.template(d, strings.Join(args, ""))
	if err != nil {
		return err
	}
	f.Template = t
	p.logFormats[name] = f
	p.cfg.HTTP.LogFormats[name] = f
	return nil
}

func root(p *parser, lv *level, d *directive) error {
	if lv.has("alias") {
		return d.errorf(`"root" directive is duplicate, "alias" directive was specified earlier`)
	}
	t, err := p.pathTemplate(d)
	if err != nil {
		return err
	}
	lv.loc.Root, lv.loc.Alias = p.path(d.args[0]), ""
	lv.loc.RootTemplate, lv.loc.AliasTemplate = t, Template{}
	return nil
}

func alias(p *parser, lv *level, d *directive) error {
	if lv.has("root") {
		return d.errorf(`"alias" directive is duplicate, "root" directive was specified earlier`)
	}
	if lv.loc.Match == MatchNamed {
		return d.errorf(`"alias" directive cannot be used inside the named location`)
	}
	t, err := p.pathTemplate(d)
	if err != nil {
		return err
	}
	lv.loc.Alias, lv.loc.AliasTemplate = p.path(d.args[0]), t
	return nil
}

// pathTemplate parses the root or alias path of d, resolved against the
// prefix, when it holds variables; otherwise it returns an empty
// Template.
func (p *parser) pathTemplate(d *directive) (Template, error) {
	if !strings.Contains(d.args[0], "$") {
		return Template{}, nil
	}
	if _, err := p.template(d, d.args[0]); err != nil {
		return Template{}, err
	}
	t, err := splitTemplate(p.path(d.args[0]))
	if err != nil { // the prefix itself holds a "$"
		return Template{}, &Error{Pos: d.pos, Directive: d.name, Err: err,
			Msg: fmt.Sprintf("%v in the prefix of %q directive", err, d.name)}
	}
	return t, nil
}

func index(p *parser, lv *level, d *directive) error {
	if lv.n["index"] == 1 {
		lv.loc.Index = nil
	}
	for _, a := range d.args {
		if a == "" {
			return d.errorf(`index "" in "index" directive is invalid`)
		}
	}
	lv.loc.Index = append(lv.loc.Index, d.args...)
	return nil
}

func tryFiles(p *parser, lv *level, d *directive) error {
	ts := make([]Template, len(d.args))
	for i, a := range d.args {
		t, err := p.template(d, a)
		if err != nil {
			return err
		}
		ts[i] = t
	}
	if last := d.args[len(d.args)-1]; strings.HasPrefix(last, "=") {
		if n, err := parseNumber(last[1:]); err != nil || n > 999 {
			return d.errorf("invalid code %q in %q directive", last, d.name)
		}
	}
	lv.loc.TryFiles, lv.loc.TryFilesTemplates = d.args, ts
	return nil
}

func ret(p *parser, lv *level, d *directive) error {
	r := &Return{}
	code, err := parseNumber(d.args[0])
	text := ""
	switch {
	case err == nil && code <= 999:
		r.Code = code
		if len(d.args) == 2 {
			text = d.args[1]
		}
	case err == nil || len(d.args) == 2:
		return d.errorf("invalid return code %q in %q directive", d.args[0], d.name)
	case strings.HasPrefix(d.args[0], "http://"), strings.HasPrefix(d.args[0], "https://"),
		strings.HasPrefix(d.args[0], "$scheme"):
		r.Code, text = 302, d.args[0]
	default:
		return d.errorf("invalid return code %q in %q directive", d.args[0], d.name)
	}
	if r.Text, err = p.template(d, text); err != nil {
		return err
	}
	lv.loc.Return = r
	return nil
}

func errorPage(p *parser, lv *level, d *directive) error {
	args := d.args
	uri := args[len(args)-1]
	args = args[:len(args)-1]
	response := -1
	if a := args[len(args)-1]; strings.HasPrefix(a, "=") {
		args = args[:len(args)-1]
		if a != "=" {
			n, err := parseNumber(a[1:])
			if err != nil || n > 999 {
				return invalid(d, a)
			}
			response = n
		} else {
			response = 0
		}
		if len(args) == 0 {
			return d.errorf("invalid number of arguments in %q directive", d.name)
		}
	}
	t, err := p.template(d, uri)
	if err != nil {
		return err
	}
	if lv.n["error_page"] == 1 {
		lv.loc.ErrorPages = make(map[int]*ErrorPage)
	}
	page := &ErrorPage{URI: t, Response: response}
	for _, a := range args {
		code, err := parseNumber(a)
		if err != nil {
			return invalid(d, a)
		}
		if code < 300 || code > 599 || code == 499 {
			return d.errorf("value %q must be between 300 and 599 in %q directive", a, d.name)
		}
		if _, ok := lv.loc.ErrorPages[code]; !ok {
			lv.loc.ErrorPages[code] = page
		}
	}
	return nil
}

func proxySetHeader(p *parser, lv *level, d *directive) error {
	t, err := p.template(d, d.args[1])
	if err != nil {
		return err
	}
	lv.headers = append(lv.headers, HeaderSet{Name: d.args[0], Value: t})
	return nil
}

// accessRule reads an allow or deny line as ngx_http_access_rule does:
// "all", "unix:", an IPv4 or IPv6 address, or a CIDR. A CIDR with bits
// set below its length is masked, with nginx's warning.
func accessRule(p *parser, lv *level, d *directive) error {
	a := d.args[0]
	r := AccessRule{Pos: d.pos, Deny: d.name == "deny"}
	switch a {
	case "all":
		r.All = true
	case "unix:":
		r.Unix = true
	default:
		pfx, masked, err := parseCIDR(a)
		if err != nil {
			return invalidParam(d, a)
		}
		if masked {
			p.cfg.Warnings = append(p.cfg.Warnings, &Error{Pos: d.pos, Directive: d.name,
				Msg: fmt.Sprintf("low address bits of %s are meaningless", a)})
		}
		r.Prefix = pfx
	}
	lv.loc.Access = append(lv.loc.Access, r)
	return nil
}

// parseCIDR parses "addr" (a full-length prefix) or "addr/bits", IPv4
// or IPv6 without a zone, and clears the bits below the length; masked
// reports that some were set.
func parseCIDR(s string) (pfx netip.Prefix, masked bool, err error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, false, errValue
		}
		return netip.PrefixFrom(a, a.BitLen()), false, nil
	}
	pfx, err = netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false, errValue
	}
	m := pfx.Masked()
	return m, m != pfx, nil
}

// addHeader reads "add_header NAME VALUE [always]". The name must be a
// token (nginx takes any word, and would send a broken head).
func addHeader(p *parser, lv *level, d *directive) error {
	name := d.args[0]
	if !isToken(name) {
		return d.errorf("invalid header name %q in %q directive", name, d.name)
	}
	t, err := p.template(d, d.args[1])
	if err != nil {
		return err
	}
	h := AddHeader{Name: name, Value: t}
	if len(d.args) == 3 {
		if d.args[2] != "always" {
			return invalidParam(d, d.args[2])
		}
		h.Always = true
	}
	lv.loc.AddHeaders = append(lv.loc.AddHeaders, h)
	return nil
}

// isToken reports whether s is a non-empty token (RFC 9110 section
// 5.6.2), the syntax of a field name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func proxyHTTPVersion(p *parser, lv *level, d *directive) error {
	switch v := d.args[0]; v {
	case "1.0", "1.1":
		lv.loc.ProxyHTTPVersion = v
		return nil
	}
	return invalid(d, d.args[0])
}

var nextUpstreamNames = map[string]NextUpstream{
	"error":          NextError,
	"timeout":        NextTimeout,
	"invalid_header": NextInvalidHeader,
	"http_500":       NextHTTP500,
	"http_502":       NextHTTP502,
	"http_503":       NextHTTP503,
	"http_504":       NextHTTP504,
	"http_403":       NextHTTP403,
	"http_404":       NextHTTP404,
	"http_429":       NextHTTP429,
	"non_idempotent": NextNonIdempotent,
}

func proxyNextUpstream(p *parser, lv *level, d *directive) error {
	var set NextUpstream
	off := false
	for _, a := range d.args {
		if a == "off" {
			off = true
			continue
		}
		v, ok := nextUpstreamNames[a]
		if !ok {
			return invalid(d, a)
		}
		set |= v
	}
	if off { // nginx: "off" wins over anything else
		set = NextOff
	}
	lv.loc.ProxyNextUpstream = set
	return nil
}

func proxyPass(p *parser, lv *level, d *directive) error {
	u := d.args[0]
	var rest string
	switch l := strings.ToLower(u); {
	case strings.HasPrefix(l, "http://"):
		rest = u[len("http://"):]
	case strings.HasPrefix(l, "https://"):
		return notSupported(d, "https")
	default:
		return d.errorf("invalid URL prefix in %q directive", d.name)
	}
	if strings.Contains(u, "$") {
		return notSupported(d, "variables")
	}
	if strings.HasPrefix(rest, "unix:") {
		return notSupported(d, "unix domain sockets")
	}
	if lv.loc.CGIPass != "" {
		return d.errorf(`"proxy_pass" directive is duplicate, "cgi_pass" directive was specified earlier`)
	}
	pp := &ProxyPass{Pos: d.pos, Scheme: "http", Host: rest}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		pp.Host, pp.URI, pp.HasURI = rest[:i], rest[i:], true
	}
	if pp.Host == "" {
		return d.errorf("no host in %q directive", d.name)
	}
	if pp.HasURI {
		switch lv.loc.Match {
		case MatchRegex, MatchRegexFold, MatchNamed:
			return d.errorf(`"proxy_pass" cannot have URI part in location given by regular expression, or inside named location`)
		}
	}
	lv.loc.ProxyPass = pp
	lv.loc.AutoRedirect = autoRedirect(lv.loc)
	p.proxies = append(p.proxies, proxyUse{d, pp})
	return nil
}

// cgiPass handles "cgi_pass PATH": an absolute path, or one relative to
// the config's prefix, without variables. A location has either
// proxy_pass or cgi_pass, not both.
func cgiPass(p *parser, lv *level, d *directive) error {
	path := d.args[0]
	if strings.Contains(path, "$") {
		return notSupported(d, "variables")
	}
	if path == "" {
		return invalid(d, path)
	}
	if lv.loc.ProxyPass != nil {
		return d.errorf(`"cgi_pass" directive is duplicate, "proxy_pass" directive was specified earlier`)
	}
	lv.loc.CGIPass = p.path(path)
	return nil
}

// autoRedirect reports whether a location that passes requests on gets
// nginx's auto_redirect: its path ends with "/" and it takes part in
// prefix matching (prefix, ^~ or exact; ngx_http_proxy_pass sets the
// flag on any name ending in "/", but only those are looked up by path).
func autoRedirect(l *Location) bool {
	switch l.Match {
	case MatchPrefix, MatchPrefixFinal, MatchExact:
		return strings.HasSuffix(l.Path, "/")
	}
	return false
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port" and
// checks the syntax of both; port is "" when absent.
func splitHostPort(s string) (host, port string, err error) {
	return splitHostPortCheck(s, validPort)
}

// splitHostPortCheck is splitHostPort with the port checked by valid.
func splitHostPortCheck(s string, valid func(string) bool) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		j := strings.IndexByte(s, ']')
		if j < 0 {
			return "", "", errValue
		}
		a, err := netip.ParseAddr(s[1:j])
		if err != nil || !a.Is6() {
			return "", "", errValue
		}
		host, rest := s[:j+1], s[j+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", "", errValue
			}
			port = rest[1:]
		}
		if rest != "" && !valid(port) {
			return "", "", errValue
		}
		return host, port, nil
	}
	host = s
	if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if !valid(port) {
			return "", "", errValue
		}
	}
	if !validHost(host) {
		return "", "", errValue
	}
	return host, port, nil
}

func validPort(s string) bool {
	n, err := parseNumber(s)
	return err == nil && n >= 1 && n <= 65535
}

// validListenPort is validPort for listen, which also takes port 0: a
// c10k extension (nginx rejects it) that binds an ephemeral port, so
// that tests can run a config without choosing free ports. Upstream
// addresses keep rejecting 0.
func validListenPort(s string) bool {
	n, err := parseNumber(s)
	return err == nil && n >= 0 && n <= 65535
}

func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func isIP(h string) bool {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	_, err := netip.ParseAddr(h)
	return err == nil
}

func listen(p *parser, lv *level, d *directive) error {
	addr, err := listenAddr(d.args[0])
	if err != nil {
		if err == ErrNotSupported {
			return notSupported(d, "unix domain sockets")
		}
		return d.errorf("invalid address %q in %q directive", d.args[0], d.name)
	}
	l := Listen{Pos: d.pos, Addr: addr, Backlog: 511}
	opts := false
	for _, a := range d.args[1:] {
		switch {
		case a == "default_server" || a == "default":
			l.DefaultServer = true
		case a == "ssl":
			l.SSL = true
			if _, ok := p.sslListens[addr]; !ok {
				p.sslListens[addr] = d.pos
			}
		case a == "http2":
			// Common with ssl; c10k speaks HTTP/1.1 only (ALPN offers
			// http/1.1, so clients fall back to it).
			p.warn(d, fmt.Sprintf(`the "http2" parameter of %q directive is ignored: HTTP/2 is not supported`, d.name))
		case a == "reuseport":
			l.ReusePort, opts = true, true
		case strings.HasPrefix(a, "backlog="):
			n, err := parseNumber(a[len("backlog="):])
			if err != nil || n == 0 {
				return d.errorf("invalid backlog %q in %q directive", a, d.name)
			}
			l.Backlog, opts = n, true
		default:
			return invalidParam(d, a)
		}
	}
	for _, o := range lv.srv.Listens {
		if o.Addr == addr {
			return d.errorf("a duplicate listen %s in %q directive", addr, d.name)
		}
	}
	lv.srv.Listens = append(lv.srv.Listens, l)
	lv.opts = append(lv.opts, opts)
	return nil
}

// listenAddr normalizes a listen address to "host:port": a bare port, an
// address without port (80), "*" or "0.0.0.0" as "*".
func listenAddr(s string) (string, error) {
	if strings.HasPrefix(s, "unix:") {
		return "", ErrNotSupported
	}
	if _, err := parseNumber(s); err == nil {
		if !validListenPort(s) {
			return "", errValue
		}
		return "*:" + s, nil
	}
	var host, port string
	if strings.HasPrefix(s, "*") {
		host = "*"
		switch rest := s[1:]; {
		case rest == "":
		case rest[0] == ':' && validListenPort(rest[1:]):
			port = rest[1:]
		default:
			return "", errValue
		}
	} else {
		var err error
		if host, port, err = splitHostPortCheck(s, validListenPort); err != nil {
			return "", err
		}
	}
	if host == "0.0.0.0" {
		host = "*"
	}
	if port == "" {
		port = "80"
	}
	return host + ":" + port, nil
}

func serverName(p *parser, lv *level, d *directive) error {
	for _, a := range d.args {
		n, err := p.serverName(d, a)
		if err != nil {
			return err
		}
		lv.srv.Names = append(lv.srv.Names, n)
	}
	return nil
}

func (p *parser) serverName(d *directive, a string) (ServerName, error) {
	if strings.HasPrefix(a, "~") {
		src := a[1:]
		expr := src
		if strings.ContainsAny(src, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			expr = "(?i)" + src
		}
		re, err := p.regexp(d, src, expr)
		if err != nil {
			return ServerName{}, err
		}
		return ServerName{Kind: NameRegex, Name: src, Regex: re}, nil
	}
	if a == "$hostname" {
		h, err := os.Hostname()
		if err != nil {
			return ServerName{}, &Error{Pos: d.pos, Directive: d.name, Err: err,
				Msg: fmt.Sprintf("cannot get hostname in %q directive: %v", d.name, err)}
		}
		a = h
	}
	a = strings.ToLower(a)
	bad := func() (ServerName, error) {
		return ServerName{}, d.errorf("invalid server name or wildcard %q in %q directive", a, d.name)
	}
	switch {
	case strings.HasPrefix(a, "*."):
		if len(a) < 3 || strings.Contains(a[1:], "*") {
			return bad()
		}
		return ServerName{Kind: NameSuffix, Name: a[1:]}, nil
	case strings.HasPrefix(a, "."):
		if len(a) < 2 || strings.Contains(a, "*") {
			return bad()
		}
		return ServerName{Kind: NameSuffix, Name: a, Dot: true}, nil
	case strings.HasSuffix(a, ".*"):
		if len(a) < 3 || strings.Contains(a[:len(a)-1], "*") {
			return bad()
		}
		return ServerName{Kind: NamePrefix, Name: a[:len(a)-1]}, nil
	case strings.Contains(a, "*"):
		return bad()
	}
	return ServerName{Kind: NameExact, Name: a}, nil
}

// regexp compiles expr (src as written, for messages) and records its
// named captures as variables.
func (p *parser) regexp(d *directive, src, expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, &Error{Pos: d.pos, Directive: d.name, Err: err,
			Msg: fmt.Sprintf("invalid regular expression %q in %q directive: %v", src, d.name, err)}
	}
	for _, n := range re.SubexpNames() {
		if n != "" {
			p.captures[strings.ToLower(n)] = true
		}
	}
	return re, nil
}

func location(p *parser, lv *level, d *directive) error {
	loc := &Location{Pos: d.pos}
	mod, name := "", d.args[0]
	if len(d.args) == 2 {
		mod, name = d.args[0], d.args[1]
		switch mod {
		case "=", "^~", "~", "~*":
		default:
			return d.errorf("invalid location modifier %q in %q directive", mod, d.name)
		}
	} else {
		for _, m := range []string{"=", "^~", "~*", "~"} {
			if strings.HasPrefix(name, m) {
				mod, name = m, name[len(m):]
				break
			}
		}
	}
	loc.Path = name
	switch mod {
	case "=":
		loc.Match = MatchExact
	case "^~":
		loc.Match = MatchPrefixFinal
	case "~", "~*":
		loc.Match = MatchRegex
		expr := name
		if mod == "~*" {
			loc.Match, expr = MatchRegexFold, "(?i)"+name
		}
		re, err := p.regexp(d, name, expr)
		if err != nil {
			return err
		}
		loc.Regex = re
	default:
		if strings.HasPrefix(name, "@") {
			loc.Match = MatchNamed
		}
	}
	if lv.ctx == cLoc {
		parent := lv.loc
		switch {
		case parent.Match == MatchExact:
			return d.errorf("location %q cannot be inside the exact location %q", name, parent.Path)
		case parent.Match == MatchNamed:
			return d.errorf("location %q could not be inside the named location %q", name, parent.Path)
		case loc.Match == MatchNamed:
			return d.errorf("named location %q can be on the server level only", name)
		case loc.Regex == nil && !strings.HasPrefix(name, parent.Path):
			return d.errorf("location %q is outside location %q", name, parent.Path)
		}
	}
	for _, k := range lv.kids {
		if k.loc.Path == name && matchClass(k.loc.Match) == matchClass(loc.Match) && loc.Regex == nil {
			return d.errorf("duplicate location %q", name)
		}
	}
	c := newLevel(cLoc)
	c.loc = loc
	if err := p.block(c, d.block); err != nil {
		return err
	}
	lv.kids = append(lv.kids, c)
	if lv.ctx == cLoc {
		lv.loc.Locations = append(lv.loc.Locations, loc)
	} else {
		lv.srv.Locations = append(lv.srv.Locations, loc)
	}
	return nil
}

// matchClass groups the location kinds nginx considers duplicates of
// each other when their paths are equal.
func matchClass(m MatchKind) MatchKind {
	if m == MatchPrefixFinal {
		return MatchPrefix
	}
	return m
}

func upstream(p *parser, lv *level, d *directive) error {
	name := d.args[0]
	key := strings.ToLower(name)
	if _, ok := p.upstreams[key]; ok {
		return d.errorf("duplicate upstream %q", name)
	}
	u := &Upstream{Pos: d.pos, Name: name, KeepaliveTimeout: 60 * time.Second, KeepaliveRequests: 1000}
	ul := newLevel(cUpstream)
	ul.ups = u
	if err := p.block(ul, d.block); err != nil {
		return err
	}
	if len(u.Servers) == 0 {
		return d.errorf("no servers are inside upstream %q", name)
	}
	switch u.Method {
	case BalanceHash, BalanceIPHash, BalanceRandom:
		for _, s := range u.Servers {
			if s.Backup {
				return &Error{Pos: s.Pos, Directive: "server",
					Msg: `balancing method does not support parameter "backup" in "server" directive`}
			}
		}
	}
	p.upstreams[key] = name
	p.cfg.HTTP.Upstreams[name] = u
	return nil
}

func upstreamServer(p *parser, lv *level, d *directive) error {
	a := d.args[0]
	if strings.HasPrefix(a, "unix:") {
		return notSupported(d, "unix domain sockets")
	}
	host, port, err := splitHostPort(a)
	if err != nil {
		return d.errorf("invalid address %q in %q directive", a, d.name)
	}
	if port == "" {
		port = "80"
	}
	addrs, ok := p.resolve(host, port)
	if !ok {
		return d.errorf("host not found in upstream %q in %q directive", a, d.name)
	}
	s := UpstreamServer{Pos: d.pos, Addr: host + ":" + port, Addrs: addrs, Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second}
	for _, a := range d.args[1:] {
		k, v, eq := strings.Cut(a, "=")
		switch {
		case a == "backup":
			s.Backup = true
		case a == "down":
			s.Down = true
		case eq && (k == "weight" || k == "max_fails" || k == "max_conns"):
			n, err := parseNumber(v)
			if err != nil || k == "weight" && n == 0 {
				return invalidParam(d, a)
			}
			switch k {
			case "weight":
				s.Weight = n
			case "max_fails":
				s.MaxFails = n
			default:
				s.MaxConns = n
			}
		case eq && k == "fail_timeout":
			t, err := parseTime(v)
			if err != nil {
				return invalidParam(d, a)
			}
			s.FailTimeout = t
		default:
			return invalidParam(d, a)
		}
	}
	lv.ups.Servers = append(lv.ups.Servers, s)
	return nil
}

func balance(lv *level, d *directive, m Balance) error {
	if lv.has("balance") {
		return d.errorf("load balancing method redefined by %q directive", d.name)
	}
	lv.n["balance"]++
	lv.ups.Method = m
	return nil
}

func hash(p *parser, lv *level, d *directive) error {
	if err := balance(lv, d, BalanceHash); err != nil {
		return err
	}
	t, err := p.template(d, d.args[0])
	if err != nil {
		return err
	}
	lv.ups.HashKey = t
	if len(d.args) == 2 {
		if d.args[1] != "consistent" {
			return invalidParam(d, d.args[1])
		}
		lv.ups.Consistent = true
	}
	return nil
}

func random(p *parser, lv *level, d *directive) error {
	if err := balance(lv, d, BalanceRandom); err != nil {
		return err
	}
	if len(d.args) >= 1 {
		if d.args[0] != "two" {
			return invalidParam(d, d.args[0])
		}
		lv.ups.Two = true
	}
	if len(d.args) == 2 && d.args[1] != "least_conn" {
		return invalidParam(d, d.args[1])
	}
	return nil
}
