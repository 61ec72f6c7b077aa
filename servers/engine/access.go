package engine

import (
	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
)

// denied reports whether rules (a location's allow and deny lines)
// refuse the client of st, as ngx_http_access_handler decides: an IPv4
// client is checked against the IPv4 rules and "all", an IPv6 one
// against the IPv6 rules and "all", in order, and the first match
// decides. An IPv4-mapped IPv6 client counts as IPv4 when the list has
// IPv4 rules (or "all"), as IPv6 otherwise. A connection without an IP
// address (nginx: a unix-domain socket) matches "unix:" and "all". No
// match allows the request.
func (st *state) denied(rules []config.AccessRule) bool {
	a := st.c.Remote.Addr().WithZone("")
	switch {
	case a.Is4() || a.Is4In6() && hasIPv4Rule(rules):
		a = a.Unmap()
		for i := range rules {
			r := &rules[i]
			if r.All || r.Prefix.IsValid() && r.Prefix.Addr().Is4() && r.Prefix.Contains(a) {
				return r.Deny
			}
		}
	case a.Is6():
		for i := range rules {
			r := &rules[i]
			if r.All || r.Prefix.IsValid() && r.Prefix.Addr().Is6() && r.Prefix.Contains(a) {
				return r.Deny
			}
		}
	default:
		for i := range rules {
			if r := &rules[i]; r.All || r.Unix {
				return r.Deny
			}
		}
	}
	return false
}

// hasIPv4Rule reports whether rules has an IPv4 rule or "all": nginx's
// non-empty IPv4 rule array.
func hasIPv4Rule(rules []config.AccessRule) bool {
	for i := range rules {
		if r := &rules[i]; r.All || r.Prefix.IsValid() && r.Prefix.Addr().Is4() {
			return true
		}
	}
	return false
}

// forbid answers 403 for a request the location's rules deny (through
// its error_page for 403), with nginx's error-level log line. Under
// ServeCached the line waits until the plan is finished
// (logForbidden), so that an attempt abandoned for a slow disk, and
// served again by Serve, does not write it twice.
func (e *Engine) forbid(p *Plan) *config.Location {
	p.st.forbidden = true
	if !p.st.cached {
		e.logForbidden(p)
	}
	return e.error(p, 403)
}

// logForbidden writes nginx's "access forbidden by rule" line for a
// request forbid answered, once.
func (e *Engine) logForbidden(p *Plan) {
	st := &p.st
	if !st.forbidden {
		return
	}
	st.forbidden = false
	if e.errorLog != nil {
		e.errorLog("error", "access forbidden by rule"+st.context()+st.hostContext())
	}
}

// hostContext is the ", host: ..." part of nginx's log-line tail, empty
// when the request has no Host.
func (st *state) hostContext() string {
	if st.req == nil || len(st.req.Host) == 0 {
		return ""
	}
	return `, host: "` + string(st.req.Host) + `"`
}

// addsAlways reports whether status gets add_header lines without
// "always" (ngx_http_headers_filter's safe statuses).
func addsAlways(status int) bool {
	switch status {
	case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308:
		return true
	}
	return false
}

// addHeaders adds loc's add_header fields to p, whose status is final,
// as ngx_http_headers_filter does: every line for the statuses
// addsAlways lists, only "always" lines for the others. A value is
// evaluated now ($status is p's status); an empty one adds nothing; CR,
// LF and NUL in it become spaces (newer nginx sanitizes them so; 1.22
// sends them). ETag and Last-Modified replace the field the response
// has (an empty value removes it); other names are added after any
// field of the same name, as nginx does. Names the serializer owns
// (Content-Length, Transfer-Encoding, Connection, Date, Server) are
// never written.
func (e *Engine) addHeaders(p *Plan, loc *config.Location) {
	if loc == nil || len(loc.AddHeaders) == 0 || p.Close {
		return
	}
	all := addsAlways(p.Status)
	for i := range loc.AddHeaders {
		h := &loc.AddHeaders[i]
		if !all && !h.Always {
			continue
		}
		n := len(p.arena)
		p.arena = append(p.arena, h.Name...)
		m := len(p.arena)
		p.arena = p.eval(p.arena, h.Value)
		name, value := p.arena[n:m], p.arena[m:]
		if http1.EqualFold(name, "ETag") || http1.EqualFold(name, "Last-Modified") {
			p.dropHeader(name)
		}
		if len(value) == 0 {
			p.arena = p.arena[:n]
			continue
		}
		for j, c := range value {
			if c == '\r' || c == '\n' || c == 0 {
				value[j] = ' '
			}
		}
		p.addHeader(name, value)
	}
}

// dropHeader removes the fields named name from p's header.
func (p *Plan) dropHeader(name []byte) {
	h := p.Header[:0]
	for _, f := range p.Header {
		if !http1.EqualFold(f.Name, name) {
			h = append(h, f)
		}
	}
	clear(p.Header[len(h):])
	p.Header = h
}

// rejectHeaders adds the add_header fields of the server-level
// configuration of c's default server to a rejected request's response,
// as nginx, which serves a request it could not parse with that
// configuration. Reject keeps nothing of an earlier Serve, so a body
// found over client_max_body_size while reading it gets these lines
// too, where nginx would use the location's.
func (e *Engine) rejectHeaders(p *Plan, c Conn) {
	if srv := e.router.Default(e.routeAddr(c)); srv != nil {
		e.addHeaders(p, srv.Loc)
	}
}

// noRequest stands for the request in variables evaluated without one
// (a rejected request head): every request variable is empty.
var noRequest http1.Request
