package engine

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/c10k/c10k/servers/cgiproto"
	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
)

// SafePath is the PATH a CGI child gets: nothing of the server's own
// environment reaches it.
const SafePath = "/usr/local/bin:/usr/bin:/bin"

// CGI is one CGI exchange (cgi_pass, RFC 3875): the engine builds the
// child's environment and turns its output into the response; the core
// runs the child. A core drives it as:
//
//	for p.CGI != nil {
//		x := p.CGI
//		run x.Program() in x.Dir() with x.Env(), the body on stdin when x.Stdin()
//		on a failure before a complete header block: x.Failed(reason, timedOut)
//		else: x.Response(output)   // may re-route: local redirect, error_page
//	}
//
// then executes p as any other plan. Response and Failed may leave a new
// CGI exchange in p (a local redirect or an error_page to another
// cgi_pass location), or a Proxy or file plan.
type CGI struct {
	e       *Engine
	p       *Plan
	loc     *config.Location
	bodyLen int64 // -1: no body for the child
	head    cgiproto.Head
}

// Program returns the path of the program to run.
func (x *CGI) Program() string { return x.loc.CGIPass }

// Dir returns the directory to run the program in: its own, as Apache
// does.
func (x *CGI) Dir() string { return filepath.Dir(x.loc.CGIPass) }

// Timeout returns cgi_timeout: the most the child may run.
func (x *CGI) Timeout() time.Duration { return x.loc.CGITimeout }

// Stdin reports whether the child gets the request body on its
// standard input. It does not after a local redirect, which turns the
// request into a GET.
func (x *CGI) Stdin() bool { return x.bodyLen >= 0 }

// SetBody tells the exchange the core has read the whole request body,
// n bytes (de-chunked): CONTENT_LENGTH says n.
func (x *CGI) SetBody(n int64) {
	if x.bodyLen >= 0 {
		x.bodyLen = n
	}
}

// startCGI makes p a CGI exchange for the current location.
func (e *Engine) startCGI(p *Plan) {
	st := &p.st
	x := &p.cg
	*x = CGI{e: e, p: p, loc: st.loc, bodyLen: 0, head: x.head}
	if st.cgiRedirected {
		x.bodyLen = -1
	} else if st.req != nil && st.req.ContentLength > 0 {
		x.bodyLen = st.req.ContentLength
	}
	p.CGI = x
	p.Status = 0
	p.Header = p.Header[:0]
	p.Body, p.File = nil, nil
}

// Env returns the child's whole environment: the RFC 3875
// meta-variables, HTTP_* for the request's header fields (never
// HTTP_PROXY), a few common extensions (REQUEST_URI, DOCUMENT_ROOT,
// SERVER_ADDR, REQUEST_SCHEME, HTTPS, REDIRECT_STATUS) and SafePath.
func (x *CGI) Env() []string {
	st := &x.p.st
	req := st.req
	env := make([]string, 0, 24+len(req.Header))
	add := func(k, v string) { env = append(env, k+"="+v) }
	add("GATEWAY_INTERFACE", "CGI/1.1")
	add("SERVER_SOFTWARE", x.e.software)
	add("SERVER_NAME", string(hostOnly(st.hostName())))
	add("SERVER_PORT", strconv.Itoa(int(st.c.Local.Port())))
	add("SERVER_ADDR", addrString(st.c.Local))
	add("SERVER_PROTOCOL", string(appendProto(nil, req)))
	add("REQUEST_METHOD", string(st.method))
	add("REQUEST_SCHEME", st.scheme())
	if st.c.TLS {
		add("HTTPS", "on")
	}
	add("QUERY_STRING", string(st.args))
	add("REQUEST_URI", string(req.Target))
	script, info := x.split()
	add("SCRIPT_NAME", script)
	add("PATH_INFO", info)
	if info != "" {
		add("PATH_TRANSLATED", filepath.Join(x.loc.Root, filepath.FromSlash(info)))
	}
	add("SCRIPT_FILENAME", x.loc.CGIPass)
	add("DOCUMENT_ROOT", x.loc.Root)
	if x.bodyLen > 0 {
		add("CONTENT_LENGTH", strconv.FormatInt(x.bodyLen, 10))
		if ct := req.Header.Get("Content-Type"); ct != nil {
			add("CONTENT_TYPE", string(ct))
		}
	}
	add("REMOTE_ADDR", addrString(st.c.Remote))
	add("REMOTE_PORT", strconv.Itoa(int(st.c.Remote.Port())))
	add("REDIRECT_STATUS", "200")
	add("PATH", SafePath)
	// HTTP_*: repeated fields joined with ", " (Cookie with "; ").
	seen := make(map[string]int, len(req.Header))
	var name []byte
	for _, f := range req.Header {
		var ok bool
		name, ok = cgiproto.AppendEnvName(name[:0], f.Name)
		if !ok || !http1.ValidFieldValue(f.Value) {
			continue
		}
		k := string(name)
		if i, dup := seen[k]; dup {
			sep := ", "
			if k == "HTTP_COOKIE" {
				sep = "; "
			}
			env[i] += sep + string(f.Value)
			continue
		}
		seen[k] = len(env)
		add(k, string(f.Value))
	}
	return env
}

// split returns SCRIPT_NAME and PATH_INFO: for a prefix location the
// location's path is the script and the rest of the URI its path info
// ("/cgi-bin/app" + "/x/y"); any other location runs the URI itself.
func (x *CGI) split() (script, info string) {
	uri := string(x.p.st.uri)
	switch x.loc.Match {
	case config.MatchPrefix, config.MatchPrefixFinal:
		prefix := strings.TrimSuffix(x.loc.Path, "/")
		if prefix != "" && strings.HasPrefix(uri, prefix) && (len(uri) == len(prefix) || uri[len(prefix)] == '/') {
			return prefix, uri[len(prefix):]
		}
		if prefix == "" {
			return "", uri
		}
	}
	return uri, ""
}

func hostOnly(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		if i := strings.IndexByte(string(h), ']'); i > 0 {
			return h[:i+1]
		}
	}
	if i := strings.LastIndexByte(string(h), ':'); i >= 0 {
		return h[:i]
	}
	return h
}

func addrString(ap netip.AddrPort) string {
	if !ap.Addr().IsValid() {
		return ""
	}
	return ap.Addr().Unmap().String()
}

// Failed ends the exchange without a usable response: the child wrote
// no complete header block, an invalid one, or could not run, or ran
// out of cgi_timeout (timedOut). It logs reason and makes p the 502
// (504 for a timeout), through error_page.
func (x *CGI) Failed(reason string, timedOut bool) {
	e, p := x.e, x.p
	e.logf("error", "%s while running CGI program %q", p, reason, x.loc.CGIPass)
	p.CGI = nil
	status := 502
	if timedOut {
		status = 504
	}
	e.route(p, e.error(p, status))
}

// Response turns the child's whole output into the response: the
// header block (cgiproto.ParseHead) then the body, which p.Body aliases
// (the core keeps out until the response is sent). A local redirect
// ("Location: /path" without a Status) serves that URI as a GET inside
// the server; a client redirect answers 302 (or the script's Status)
// with the Location made absolute. A broken header block is Failed.
func (x *CGI) Response(out []byte) {
	e, p, st := x.e, x.p, &x.p.st
	h := &x.head
	n, err := cgiproto.ParseHead(out, h)
	if err != nil {
		x.Failed(strings.TrimPrefix(err.Error(), "cgi: "), false)
		return
	}
	p.CGI = nil
	if h.Kind == cgiproto.LocalRedirect {
		st.redirects++
		if st.redirects > maxRedirects {
			e.logf("error", "rewrite or internal redirection cycle while internally redirecting to %q", p, h.Location)
			st.errPage = true
			e.page(p, 500)
			e.finish(p)
			return
		}
		loc := h.Location
		var args []byte
		if i := strings.IndexByte(string(loc), '?'); i >= 0 {
			loc, args = loc[:i], loc[i+1:]
		}
		m := len(p.arena)
		p.arena = append(p.arena, args...)
		args = p.arena[m:]
		k := len(p.arena)
		uri, err := normalize(p.arena, loc)
		if err != nil {
			x.Failed("invalid local redirect "+strconv.Quote(string(h.Location)), false)
			return
		}
		st.uri, st.args, p.arena = uri[k:], args, uri
		st.redirected, st.cgiRedirected = true, true
		if string(st.method) != "HEAD" {
			st.method = methodGET
		}
		p.Header = p.Header[:0]
		e.route(p, e.match(p, st.uri))
		return
	}
	p.Status = h.Status
	if st.errStatus != 0 && p.Status >= 200 && p.Status < 300 {
		p.Status = st.errStatus
	}
	p.Header = p.Header[:0]
	if h.ContentType != nil {
		p.addString(hContentType, string(h.ContentType))
	}
	if h.Location != nil {
		m := len(p.arena)
		p.arena = e.absolute(p, p.arena, h.Location)
		p.addHeader(hLocation, p.arena[m:])
	}
	p.passHeader(h.Header)
	p.Body = out[n:]
	p.ContentLength = int64(len(p.Body))
	p.HeadOnly = string(st.method) == "HEAD" || headOnlyStatus(p.Status)
	if p.HeadOnly {
		p.Body = nil
	}
	e.addHeaders(p, x.loc)
	e.gzip(p, x.loc)
}
