package engine

import (
	"strconv"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/upstream"
)

// dropRequest lists the client fields never passed upstream: nginx's
// ngx_http_proxy_headers defaults set them (Host, Connection,
// Content-Length, Transfer-Encoding) or clear them (TE, Keep-Alive,
// Expect, Upgrade), plus Proxy-Connection, a hop-by-hop field of old
// clients. Everything else is passed as nginx does, including Trailer
// and Proxy-Authorization, unless a proxy_set_header names it, except
// the fields the client's Connection header lists (see buildHead).
var dropRequest = []string{"Host", "Connection", "Content-Length", "Transfer-Encoding", "TE", "Keep-Alive", "Expect", "Upgrade", "Proxy-Connection"}

// dropCaching lists the client fields a caching location does not pass
// upstream (nginx's ngx_http_proxy_cache_headers): the stored answer
// must be the whole response, not a 304 or a 206 for one client.
var dropCaching = []string{"If-Modified-Since", "If-Unmodified-Since", "If-None-Match", "If-Match", "Range", "If-Range"}

// dropResponse lists upstream response fields not passed to the client:
// hop-by-hop fields (the framing is ours), Server and Date, which the
// serializer sets as nginx does, and X-Accel-Expires, which nginx's
// proxy_hide_header default keeps for the cache.
var dropResponse = []string{"Connection", "Keep-Alive", "Transfer-Encoding", "Proxy-Connection", "Upgrade", "TE", "Trailer", "Server", "Date", "Content-Length", "X-Accel-Expires"}

// passHeader copies the fields of a backend's response head (an
// upstream's or a CGI program's) into p's arena and header, leaving out
// dropResponse.
func (p *Plan) passHeader(h http1.Header) {
next:
	for _, f := range h {
		for _, d := range dropResponse {
			if http1.EqualFold(f.Name, d) {
				continue next
			}
		}
		n := len(p.arena)
		p.arena = append(p.arena, f.Name...)
		m := len(p.arena)
		p.arena = append(p.arena, f.Value...)
		p.addHeader(p.arena[n:m], p.arena[m:])
	}
}

func (x *Proxy) reset() {
	*x = Proxy{
		head:     x.head[:0],
		key:      nil,
		reqLine:  x.reqLine[:0],
		upURI:    x.upURI[:0],
		bodyLen:  -1,
		upAddrs:  x.upAddrs[:0],
		upStatus: x.upStatus[:0],
		upTimes:  x.upTimes[:0],
	}
}

// logAttempt records one upstream attempt for $upstream_addr,
// $upstream_status and $upstream_response_time (comma-joined, as nginx).
func (x *Proxy) logAttempt(addr string, status int, now time.Time) {
	if len(x.upAddrs) > 0 {
		x.upAddrs = append(x.upAddrs, ", "...)
		x.upStatus = append(x.upStatus, ", "...)
		x.upTimes = append(x.upTimes, ", "...)
	}
	x.upAddrs = append(x.upAddrs, addr...)
	x.upStatus = strconv.AppendInt(x.upStatus, int64(status), 10)
	x.upTimes = appendMillis(x.upTimes, now.Sub(x.attempt))
}

// startProxy makes p a proxy exchange for the current location.
func (e *Engine) startProxy(p *Plan, ug *upGroup) {
	st := &p.st
	x := &p.px
	x.cacheAbandon() // an error_page moved a caching exchange here
	x.reset()
	x.e, x.p, x.loc, x.ug = e, p, st.loc, ug
	x.start = st.now
	st.ug = ug
	p.Proxy = x
	p.Status = 0
	p.Header = p.Header[:0]
	p.Body = nil
	p.CloseFile()
	req := st.req
	if req.ContentLength >= 0 && !st.cgiRedirected {
		x.bodyLen = req.ContentLength
	}
	x.reqLine = append(x.reqLine, req.Method...)
	x.reqLine = append(x.reqLine, ' ')
	x.reqLine = append(x.reqLine, req.Target...)
	x.reqLine = append(x.reqLine, ' ')
	x.reqLine = appendProto(x.reqLine, req)

	switch {
	case ug.up == nil:
	case ug.up.Method == config.BalanceIPHash:
		a := st.c.Remote.Addr().Unmap()
		if a.Is4() {
			b := a.As4()
			x.key = append(x.keyBuf[:0], b[:]...)
		} else {
			b := a.As16()
			x.key = append(x.keyBuf[:0], b[:]...)
		}
	case ug.up.Method == config.BalanceHash:
		n := len(p.arena)
		p.arena = p.eval(p.arena, ug.up.HashKey)
		x.key = p.arena[n:]
	}
	x.buildHead()
}

// buildHead writes the request line and fields; Head adds the framing.
func (x *Proxy) buildHead() {
	st, loc := &x.p.st, x.loc
	h := x.head[:0]
	h = append(h, st.method...)
	h = append(h, ' ')
	uriStart := len(h)
	pp := loc.ProxyPass
	switch {
	case pp.HasURI && !st.redirected && (loc.Match == config.MatchPrefix || loc.Match == config.MatchPrefixFinal):
		h = append(h, pp.URI...)
		rest := st.uri
		if len(rest) >= len(loc.Path) && string(rest[:len(loc.Path)]) == loc.Path {
			rest = rest[len(loc.Path):]
		}
		h = escapeURI(h, rest)
		h = appendArgs(h, st.args)
	case pp.HasURI && !st.redirected && loc.Match == config.MatchExact:
		h = append(h, pp.URI...)
		h = appendArgs(h, st.args)
	case st.redirected:
		h = escapeURI(h, st.uri)
		h = appendArgs(h, st.args)
	default:
		h = append(h, st.req.Path...)
		if st.req.Query != nil {
			h = append(h, '?')
			h = append(h, st.req.Query...)
		}
	}
	x.upURI = append(x.upURI[:0], h[uriStart:]...)
	if loc.ProxyHTTPVersion == "1.1" {
		h = append(h, " HTTP/1.1\r\n"...)
	} else {
		h = append(h, " HTTP/1.0\r\n"...)
	}
	x.connClose = loc.ProxyHTTPVersion != "1.1"

	// ProxySetHeaders already holds nginx's implicit Host and
	// Connection lines (config.EffectiveProxyHeaders).
	sets := loc.ProxySetHeaders
	for i := range sets {
		h = x.setHeader(h, &sets[i])
	}
next:
	for _, f := range st.req.Header {
		for _, d := range dropRequest {
			if http1.EqualFold(f.Name, d) {
				continue next
			}
		}
		if connectionListed(st.req.Header, f.Name) {
			continue
		}
		if loc.Cache != nil {
			for _, d := range dropCaching {
				if http1.EqualFold(f.Name, d) {
					continue next
				}
			}
		}
		for i := range sets {
			if http1.EqualFold(f.Name, sets[i].Name) {
				continue next
			}
		}
		h = append(h, f.Name...)
		h = append(h, ": "...)
		h = append(h, f.Value...)
		h = append(h, "\r\n"...)
	}
	x.head = h
	x.headLen = len(h)
}

// connectionListed reports whether name is one of the connection options
// the client's Connection fields list: hop-by-hop fields that must not
// be forwarded (RFC 9110 section 7.6.1). nginx 1.22 forwards them.
func connectionListed(h http1.Header, name []byte) bool {
	for _, f := range h {
		if http1.EqualFold(f.Name, "Connection") && http1.HasToken(f.Value, name) {
			return true
		}
	}
	return false
}

// setHeader appends one proxy_set_header field. An empty value removes
// the field; a value with CR, LF, NUL or other bytes invalid in a field
// (possible through $uri, which is decoded) is dropped with a log line,
// so that no variable can inject a header.
func (x *Proxy) setHeader(h []byte, s *config.HeaderSet) []byte {
	p := x.p
	n := len(p.arena)
	p.arena = p.eval(p.arena, s.Value)
	v := p.arena[n:]
	if http1.EqualFold([]byte(s.Name), "Connection") {
		x.connClose = x.loc.ProxyHTTPVersion != "1.1" || http1.HasToken(v, "close")
	}
	if len(v) == 0 {
		return h
	}
	if !http1.ValidFieldValue(v) {
		x.e.logf("warn", "proxy_set_header %q value dropped: invalid characters", p, s.Name)
		return h
	}
	h = append(h, s.Name...)
	h = append(h, ": "...)
	h = append(h, v...)
	return append(h, "\r\n"...)
}

func appendArgs(dst, args []byte) []byte {
	if len(args) == 0 {
		return dst
	}
	dst = append(dst, '?')
	return append(dst, args...)
}

func (x *Proxy) appendHead() []byte {
	h := x.head[:x.headLen]
	if x.bodyLen >= 0 {
		h = append(h, "Content-Length: "...)
		h = strconv.AppendInt(h, x.bodyLen, 10)
		h = append(h, "\r\n"...)
	}
	h = append(h, "\r\n"...)
	x.head = h
	return h
}

func (x *Proxy) nextPeer() (string, bool) {
	if x.done || x.e == nil {
		return "", false
	}
	now := x.e.now()
	if x.peer != nil { // an attempt the core did not end: count it as an error
		x.ug.g.Done(x.peer, true, now)
		x.peer = nil
	}
	peer := x.next
	x.next = nil
	if peer == nil {
		var err error
		if peer, err = x.ug.g.Pick(&x.try, x.key, now); err != nil {
			if x.try.Attempts() == 0 {
				x.log("no live upstreams while connecting to upstream", nil)
			}
			if x.serveStale(x.c.pc != nil && x.c.pc.UseStale&staleFor(x.lastFail) != 0) {
				return "", false
			}
			status := 502
			if x.lastFail == upstream.FailTimeout {
				status = 504
			}
			return x.giveUp(status)
		}
	}
	x.peer = peer
	x.stage = StageConnect
	x.attempt = now
	return peer.Addr, true
}

// giveUp ends the exchange with status (through error_page). When an
// error_page hands the request to another proxy location, the same
// Proxy continues with it.
func (x *Proxy) giveUp(status int) (string, bool) {
	x.cacheAbandon()
	x.done = true
	e, p := x.e, x.p
	p.Proxy = nil
	e.route(p, e.error(p, status))
	if p.Proxy != nil {
		return x.nextPeer()
	}
	return "", false
}

func (x *Proxy) failed(f Failure, sent bool) bool {
	x.abandonWriter() // nothing of a failed attempt is stored; a retry stores its own
	if x.peer == nil || x.done {
		if sent {
			x.p.KeepAlive = false
		}
		return false
	}
	now := x.e.now()
	cond := x.loc.ProxyNextUpstream
	peer := x.peer
	x.peer = nil
	if f == upstream.FailLocal {
		return x.localFailure(peer, now)
	}
	x.ug.g.Done(peer, upstream.CountsAsFailure(cond, f, 0), now)
	x.lastFail = f
	if f == upstream.FailTimeout {
		x.logAttempt(peer.Addr, 504, now)
	} else {
		x.logAttempt(peer.Addr, 502, now)
	}
	detail := x.detail
	x.detail = ""
	if detail == "" {
		switch f {
		case upstream.FailTimeout:
			detail = "upstream timed out (110: Connection timed out)"
		case upstream.FailInvalidHeader:
			detail = "upstream sent invalid header"
		default:
			detail = "upstream prematurely closed connection"
		}
	}
	x.log(detail+" "+x.stage.String(), peer)
	if sent {
		x.done = true
		x.p.KeepAlive = false
		return false
	}
	o := upstream.Outcome{
		Cond: cond, Failure: f, Method: x.p.st.method,
		RequestSent: x.stage > StageConnect, // nginx's u->request_sent
		Tries:       x.try.Attempts(), MaxTries: x.loc.ProxyNextUpstreamTries,
		Elapsed: now.Sub(x.start), MaxTime: x.loc.ProxyNextUpstreamTimeout,
	}
	if o.Retry() {
		return true
	}
	if x.serveStale(x.c.pc != nil && x.c.pc.UseStale&staleFor(f) != 0) {
		return false
	}
	status := 502
	if f == upstream.FailTimeout {
		status = 504
	}
	x.giveUp(status)
	return x.p.Proxy != nil
}

// localFailure ends the exchange on a failure of this server before
// anything went to peer (no socket for the attempt: out of
// descriptors), as nginx 1.22 does when ngx_event_connect_peer returns
// NGX_ERROR: the peer is released as not failed, no other one is tried,
// the socket() failure is logged at alert, and the request gets 500
// (or its error_page).
func (x *Proxy) localFailure(peer *upstream.Peer, now time.Time) bool {
	x.ug.g.Done(peer, false, now)
	x.logAttempt(peer.Addr, 500, now)
	detail := x.detail
	x.detail = ""
	if detail == "" {
		detail = "socket() failed"
	}
	if x.e.errorLog != nil {
		x.e.errorLog("alert", detail+" "+StageConnect.String()+x.p.st.context()+x.upstreamText(peer))
	}
	x.giveUp(500)
	return x.p.Proxy != nil
}

// log writes an nginx-style error line: msg, client, server, request,
// upstream, host.
func (x *Proxy) log(msg string, peer *upstream.Peer) {
	if x.e.errorLog != nil {
		x.e.errorLog("error", msg+x.p.st.context()+x.upstreamText(peer))
	}
}

func (x *Proxy) upstreamText(peer *upstream.Peer) string {
	s := ""
	if x.p.st.req != nil && x.p.st.req.Host != nil {
		s = `, host: "` + string(x.p.st.req.Host) + `"`
	}
	if peer == nil {
		return `, upstream: "http://` + x.ug.host + string(x.upURI) + `"` + s
	}
	return `, upstream: "http://` + peer.Addr + string(x.upURI) + `"` + s
}

func (x *Proxy) response(resp *http1.Response) bool {
	p, st := x.p, &x.p.st
	if x.peer == nil || x.done {
		return false
	}
	now := x.e.now()
	x.logAttempt(x.peer.Addr, resp.Status, now)
	cond := x.loc.ProxyNextUpstream
	if upstream.Retry(cond, 0, resp.Status, st.method, false, x.try.Attempts(), x.loc.ProxyNextUpstreamTries, now.Sub(x.start), x.loc.ProxyNextUpstreamTimeout) {
		// As nginx, pass this response through when no other peer is left.
		x.ug.g.Done(x.peer, upstream.CountsAsFailure(cond, 0, resp.Status), now)
		x.peer = nil
		if next, err := x.ug.g.Pick(&x.try, x.key, now); err == nil {
			x.next = next
			return true
		}
	}
	if x.c.stale != nil && x.c.pc.UseStale.Status(resp.Status) && x.serveStale(true) {
		// proxy_cache_use_stale http_500 (...) once no other peer is
		// tried: the core drops this response, and Next finds the
		// plan made of the stale entry.
		if x.peer != nil {
			x.ug.g.Done(x.peer, upstream.CountsAsFailure(cond, 0, resp.Status), now)
			x.peer = nil
		}
		return true
	}
	x.stage = StageRead
	p.Status = resp.Status
	if st.errStatus != 0 && resp.Status >= 200 && resp.Status < 300 {
		p.Status = st.errStatus
	}
	p.Header = p.Header[:0]
	p.passHeader(resp.Header)
	p.ContentLength = resp.ContentLength
	if resp.Chunked {
		p.ContentLength = -1
	}
	p.HeadOnly = string(st.req.Method) == "HEAD" || headOnlyStatus(resp.Status)
	if p.ContentLength < 0 && !p.HeadOnly && st.req.Minor == 0 {
		p.KeepAlive = false
	}
	x.cacheResponse(resp)
	x.e.addHeaders(p, x.loc)
	x.e.gzip(p, x.loc)
	return false
}
