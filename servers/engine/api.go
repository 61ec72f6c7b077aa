package engine

// CONTRACT FILE: the exported names and signatures below are what the
// cores (servers/thread, later servers/event and servers/cgi) call. Bodies
// are being filled in; keep the signatures (add, don't rename).

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/router"
	"github.com/c10k/c10k/servers/upstream"
	"golang.org/x/sys/unix"
)

// Options are the knobs of an Engine that are not in the config.
type Options struct {
	// Software is the Server header value; default "c10k".
	Software string
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// ErrorLog receives error-log lines (nginx style, without the
	// timestamp); nil discards them.
	ErrorLog func(level, msg string)
	// KeepaliveTimeout, when non-zero, overrides keepalive_timeout for
	// locations where the config does not set it, at their level or an
	// enclosing one (config.Location.KeepaliveSet); the thread core uses
	// it for Apache's 5 s default. An explicit "keepalive_timeout 75s"
	// is kept.
	KeepaliveTimeout time.Duration
}

// Engine is the shared, sans-I/O server: it routes a parsed request to a
// virtual server and location and plans the response. It does no socket
// I/O; static file handlers stat and open files only. Safe for concurrent
// use.
type Engine struct {
	cfg       *config.Config
	software  string
	now       func() time.Time
	errorLog  func(level, msg string)
	keepalive time.Duration // Options.KeepaliveTimeout
	router    *router.Router
	listeners []Listener
	routes    []listenRoute // per listener: its configured address
	locs      map[*config.Location]*locInfo
	caches    map[*config.OpenFileCache]*fileCache // one per open_file_cache line
	pages     map[int][]byte
	hostname  string

	reqZones  map[*config.LimitReqZone]*reqZone   // limit_req_zone state, see limit.go
	connZones map[*config.LimitConnZone]*connZone // limit_conn_zone state

	tlsConfigs []*tls.Config                        // per listener; nil for a plain one (tls.go)
	tlsShared  *tlsShared                           // ticket keys and shared session caches; nil without ssl
	certs      map[*config.Server][]tls.Certificate // ssl_certificate pairs, loaded by New

	logs      map[string]*logFile // access_log files by resolved path; nil: default log skipped
	flushStop chan struct{}       // closed by Close: the flusher stops
	flushDone chan struct{}       // closed by the flusher when it has stopped
	closeMu   sync.Mutex
	closed    bool
}

// New builds an Engine from a validated config.
func New(cfg *config.Config, opts Options) (*Engine, error) {
	if cfg == nil || cfg.HTTP == nil {
		return nil, ErrNoHTTP
	}
	e := &Engine{
		cfg:       cfg,
		software:  opts.Software,
		now:       opts.Now,
		errorLog:  opts.ErrorLog,
		keepalive: opts.KeepaliveTimeout,
		locs:      make(map[*config.Location]*locInfo),
		caches:    make(map[*config.OpenFileCache]*fileCache),
	}
	if e.software == "" {
		e.software = "c10k"
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.pages = pages(e.software)
	if e.errorLog != nil {
		for _, w := range cfg.Warnings {
			e.errorLog("warn", w.Error())
		}
	}
	e.hostname, _ = os.Hostname()
	r, err := router.New(cfg.HTTP)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e.router = r
	e.buildZones(cfg.HTTP)
	if err := e.prepare(cfg.HTTP); err != nil {
		return nil, err
	}
	if err := e.buildListeners(cfg.HTTP); err != nil {
		return nil, err
	}
	if err := e.buildTLS(cfg.HTTP); err != nil {
		return nil, err
	}
	if err := e.openLogs(); err != nil {
		return nil, err
	}
	return e, nil
}

// Close empties the open_file_cache: descriptors no plan holds are
// closed now, the others when their last plan calls CloseFile. The
// Engine stays usable for requests still running on it, but its cache
// keeps nothing more: their lookups open and close files themselves. A
// core calls Close on the engine a reload replaced, and a process
// running several engines (tests) may call it when one is done, so that
// no descriptor outlives the engine's use.
//
// Close also writes the access logs' buffers and closes their files; a
// request still running on the Engine logs its line by opening the file
// for it.
func (e *Engine) Close() error {
	for _, c := range e.caches {
		c.close()
	}
	e.closeMu.Lock()
	if !e.closed {
		e.closed = true
		e.closeLogs()
	}
	e.closeMu.Unlock()
	return nil
}

// Software returns the Server header value (Options.Software, "c10k" by
// default) that cores give the serializer and the error pages name.
func (e *Engine) Software() string { return e.software }

// Events returns the config's worker_processes (0 means auto: one per
// CPU) and events { worker_connections }, for the cores that follow them.
func (e *Engine) Events() (workerProcesses, workerConnections int) {
	return e.cfg.WorkerProcesses, e.cfg.WorkerConnections
}

// ErrorLog returns the config's error_log: its path resolved against
// the prefix ("stderr" as it is) and its level ("error" by default), for
// the program that opens the error log (c10k serve, whose --error-log
// flag overrides the path, as nginx's -e). errlog.Log.SetLevel applies
// the level.
func (e *Engine) ErrorLog() (path, level string) {
	if e.cfg.ErrorLog == "stderr" {
		return "stderr", e.cfg.ErrorLogLevel
	}
	return e.cfg.Path(e.cfg.ErrorLog), e.cfg.ErrorLogLevel
}

// Listener is one distinct listening address of the config.
type Listener struct {
	Addr      string // host:port as it should be bound ("0.0.0.0:80" for "*:80")
	Backlog   int
	ReusePort bool
	SSL       bool
	// Limits of the default server of this address, used to read
	// request heads before the virtual server is known.
	HeaderBufferSize int64 // client_header_buffer_size
	LargeHeaders     config.BufferSpec
	HeaderTimeout    time.Duration
}

// Listeners returns the distinct addresses to listen on, in config
// order. As in nginx (without "bind"), an ip:port whose port also has a
// wildcard listen of the same address family is not listed: the wildcard
// socket accepts its connections, and Serve chooses the ip:port's virtual
// servers by Conn.Local. Port 0 listens are listed separately whatever
// their address: each binds its own ephemeral port.
func (e *Engine) Listeners() []Listener {
	return append([]Listener(nil), e.listeners...)
}

// Conn describes the client connection a request arrived on.
type Conn struct {
	// Listener is the index into Listeners() of the listener the
	// connection was accepted on; it selects the virtual servers, so a
	// core may bind "listen 127.0.0.1:0" to an ephemeral port. Out of
	// range (a socket the engine did not configure), Local selects them.
	Listener int
	// Local is the connection's real local address: the bound port and,
	// for a wildcard listen, the address the client connected to
	// (getsockname). It gives $server_addr, $server_port and the port of
	// redirects, and for a wildcard listener the address whose explicit
	// "listen ip:port" servers apply, as in nginx.
	Local  netip.AddrPort
	Remote netip.AddrPort
	// TLS says the connection is TLS ($scheme https, $https on); the
	// core sets it for connections accepted on an SSL listener
	// (Listener.SSL) once the handshake is done. TLSVersion
	// (tls.VersionTLS12, ...) and TLSResumed (the session was resumed)
	// give $ssl_protocol and $ssl_session_reused, TLSServerName (the
	// client's SNI) $ssl_server_name. SetTLS sets them all from the
	// handshake's tls.ConnectionState.
	TLS           bool
	TLSVersion    uint16
	TLSResumed    bool
	TLSServerName string
	// PlainHTTP says the client sent plain HTTP to an SSL listener (its
	// first byte did not start a handshake: IsTLSHandshake): the core
	// reads the request in clear and Serve answers nginx's 497, sent
	// as 400 "The plain HTTP request was sent to HTTPS port" (or the
	// server's error_page 497), and the connection closes.
	PlainHTTP bool
	Requests  int // requests already completed on this connection
	// ID is the connection's serial number ($connection, and the "*N"
	// of error-log lines); 0 when the core does not number them.
	ID uint64
	// Pipelined says the request's head was already buffered when the
	// previous response ended ($pipe "p").
	Pipelined bool
}

// Plan is the response the engine decided on. A core executes it: it
// writes the head with http1's serializer (which adds Date, Server,
// Content-Length or Transfer-Encoding, and Connection), then the body
// source — Body bytes, a File region (sendfile), or a Proxy exchange.
// A Plan is reused per connection: Serve and Reject reset it. Header
// values and Body point into the Plan's own buffer (or the Engine's
// read-only pages) and stay valid until the next Serve, Reject or Reset.
type Plan struct {
	Status int
	Header http1.Header // response fields besides the ones the serializer adds

	Body []byte // in-memory body
	// File is a file body: the core sends [Offset, Offset+ContentLength)
	// and then calls CloseFile, never File.Close: with open_file_cache
	// the descriptor belongs to the cache and other requests send it at
	// the same time. So the core must not move its offset either (Seek,
	// Read, sendfile without an offset): sendfile(2) with an explicit
	// offset and pread(2) (ReadAt) are safe. FileShared reports it.
	File          *os.File
	Offset        int64
	ContentLength int64 // -1 when unknown (chunked to 1.1 clients, close-delimited to 1.0)
	HeadOnly      bool  // HEAD request, or a 1xx/204/304 status: send the head only
	// Sendfile is the location's "sendfile": on, the core sends File with
	// sendfile(2); off, it reads the file into a buffer and writes that.
	Sendfile bool

	// Gzip, when not 0, is the gzip_comp_level (1-9) the core
	// compresses the body with as it sends it: a File region, a proxied
	// body (streamed, buffered in memory or in a temp file). The engine
	// has added Content-Encoding: gzip; the head announces no length
	// (coreio.Framing) while ContentLength stays the uncompressed one.
	// An in-memory body the engine planned itself is compressed already
	// and leaves Gzip 0. See Engine.gzip.
	Gzip int

	// Close says the core must close the connection without sending
	// anything: nginx's "return 444". Status is 444 then.
	Close bool

	// Delay, when not 0, says limit_req delays the request (a request
	// within burst=, past delay=, without nodelay): the plan holds
	// nothing else. The core waits Delay without sending or reading
	// anything, then calls Serve (or ServeCached) again with the same
	// request, conn and plan: the engine resumes the request after
	// limit_req (limit_conn, allow/deny, the content), as nginx does
	// when its delay timer fires. A core that drops the request instead
	// (the client left, shutdown) calls End, which logs 499.
	Delay time.Duration

	// Wait, when not nil, says the request waits for another request
	// that is filling the same proxy_cache entry (proxy_cache_lock): the
	// plan holds nothing else. The core waits, reading and sending
	// nothing, until Wait is closed or WaitTimeout has passed, whichever
	// comes first, then calls Serve (or ServeCached) again with the same
	// request, conn and plan, as after a Delay: the engine then serves
	// the entry, or (lock timeout) passes the request upstream without
	// caching its response, as nginx's proxy_cache_lock_timeout. A core
	// that drops the request instead calls End.
	Wait        <-chan struct{}
	WaitTimeout time.Duration

	// KeepAlive says whether the connection may serve another request
	// afterwards, for at most KeepaliveTimeout of idle time.
	KeepAlive        bool
	KeepaliveTimeout time.Duration

	// ReadBody says the core must read the request body (Proxy needs it)
	// up to MaxBody bytes (0 = unlimited) and answer 413 beyond. When
	// false and the request has a body, the core discards it.
	ReadBody bool
	MaxBody  int64

	Proxy *Proxy // non-nil: run this proxy exchange instead of sending Body/File
	// CGI, when non-nil, is a cgi_pass exchange the core runs before it
	// sends anything (see CGI); it becomes an ordinary plan.
	CGI *CGI

	// Timeouts for writing the response and reading a body.
	SendTimeout time.Duration
	BodyTimeout time.Duration

	arena []byte // header values, URIs, evaluated templates
	px    Proxy  // the exchange Proxy points to
	cg    CGI    // the exchange CGI points to
	st    state

	stat     unix.Stat_t // fstat of the file being served
	ofc      *cachedFile // the open_file_cache entry File belongs to; nil when File is the plan's own
	fileName string      // name of the last File, reused when the next has the same path
	gz       []byte      // a compressed in-memory body (gzip)

	logLine []byte // the access-log line End formats
	logVal  []byte // one variable's value, before escaping

	lim limits // limit_req and limit_conn decisions, limit_conn slots held
}

// CloseFile ends the plan's use of File: it closes a descriptor the plan
// opened itself, or releases its reference to an open_file_cache one
// (the cache closes that when it is evicted and no request uses it any
// more). It sets File to nil; calling it again, or without a File, does
// nothing. Cores call it when the body has been sent or the response
// abandoned, on every path.
func (p *Plan) CloseFile() {
	if p.ofc != nil {
		p.ofc.release()
		p.ofc = nil
	} else if p.File != nil {
		p.File.Close()
	}
	p.File = nil
}

// FileShared reports whether File is an open_file_cache descriptor that
// other requests may be sending concurrently: the core must not change
// its file offset (no Seek or Read; sendfile with an explicit offset
// and ReadAt are fine).
func (p *Plan) FileShared() bool { return p.ofc != nil }

// Reset clears p for the next request, keeping allocated capacity. It
// does not close File: the core owns it once the plan is handed over,
// and calls CloseFile before Reset. It releases the limit_conn slots
// the request held, as End does: a plan reset for a Reject after Serve
// (a body found too large) or for the next request leaks none.
func (p *Plan) Reset() {
	p.lim.release()
	slots := p.lim.slots[:0]
	px := p.px
	gz := p.gz[:0]
	if cap(gz) > maxGzipKeep {
		gz = nil
	}
	*p = Plan{
		gz:       gz,
		Header:   p.Header[:0],
		arena:    p.arena[:0],
		fileName: p.fileName,
		logLine:  p.logLine[:0],
		logVal:   p.logVal[:0],
		lim:      limits{slots: slots},
	}
	px.reset()
	p.px = px
}

// Serve routes req (read on c) and fills p. Errors in the request
// (bad Host, traversal, too large) are answered by the plan itself.
// For a proxy plan, req must stay valid until the exchange ends (an
// error_page after an upstream failure routes it again).
func (e *Engine) Serve(req *http1.Request, c Conn, p *Plan) {
	e.serve(req, c, p, false)
}

// ServeCached is Serve for an event loop that must not block on a slow
// disk: its file lookups (open, stat for index and try_files) use only
// what the kernel already caches (openat2 with RESOLVE_CACHED), and an
// open_file_cache hit makes no system call at all. When a
// lookup would have to wait for the disk, it returns false and p holds
// nothing to execute; the core then calls Serve, which may block, off
// the loop. Requests that touch no file (return, proxy) always complete
// here. Without openat2 (Linux < 5.12) every file lookup returns false.
func (e *Engine) ServeCached(req *http1.Request, c Conn, p *Plan) bool {
	e.serve(req, c, p, true)
	if !p.st.blocked {
		return true
	}
	// The limits were applied (limit_req charged, limit_conn slots
	// taken): Serve keeps these decisions rather than apply them twice.
	lim := p.lim
	p.lim = limits{}
	p.CloseFile()
	p.Reset()
	lim.carried = true
	p.lim = lim
	return false
}

func (e *Engine) serve(req *http1.Request, c Conn, p *Plan, cached bool) {
	// ServeCached gave up on this request, or the plan was a Delay:
	// keep the limits already applied.
	var carry limits
	keep := p.lim.carried || p.lim.resume
	if keep {
		carry, p.lim = p.lim, limits{}
	}
	p.Reset()
	if keep {
		p.lim = carry
	}
	st := &p.st
	*st = state{e: e, req: req, c: c, method: req.Method, now: e.now(), cached: cached}
	if p.arena == nil {
		p.arena = make([]byte, 0, 4096)
	}
	st.srv, st.srvRe = e.router.ServerRegex(e.routeAddr(c), req.Host)
	if len(req.Host) > 0 {
		h, ok := router.CleanHost(p.arena, req.Host)
		if !ok {
			e.fail(p, 400)
			return
		}
		st.host, p.arena = h[len(p.arena):], h
	} else if req.Major == 1 && req.Minor >= 1 {
		e.fail(p, 400) // nginx: "client sent HTTP/1.1 request without "Host" header"
		return
	}
	n := len(p.arena)
	uri, err := normalize(p.arena, req.Path)
	if err != nil {
		e.logf("info", "client sent invalid request URI (%v)", p, err)
		e.fail(p, 400)
		return
	}
	st.uri, p.arena = uri[n:], uri
	st.args = req.Query
	if c.PlainHTTP {
		// ngx_http_process_request: the virtual server is known, its
		// error_page 497 applies.
		e.logf("info", "client sent plain HTTP request to HTTPS port", p)
		e.fail(p, 497)
		return
	}
	e.route(p, e.match(p, st.uri))
}

// Reject fills p with the error response for a request head the parser
// refused (status from http1's error), closing the connection.
func (e *Engine) Reject(status int, c Conn, p *Plan) {
	p.Reset()
	p.st = state{e: e, c: c, now: e.now()}
	if status < 400 || status > 599 {
		status = 400
	}
	e.page(p, status)
	e.rejectHeaders(p, c)
	p.KeepAlive = false
}

// Failure classifies why an upstream attempt failed (shared with the
// balancer's retry rules).
type Failure = upstream.Failure

// Proxy is one reverse-proxy exchange. The engine owns peer choice,
// request rewriting, response-head rewriting and the retry rules; the core
// owns sockets and timers. A core drives it as:
//
//	for {
//		addr, ok := px.Next()            // choose a peer; !ok: send the plan (502/504 or an error_page)
//		conn := pooled or dial(addr, px.ConnectTimeout)
//		write px.Head() then the request body (px.Body or streamed)
//		read and parse the response head (http1.ResponseParser)
//		on failure: if px.Failed(kind, false) { continue } else { break }
//		px.Response(resp)                 // may ask to retry on http_5xx
//		stream the body to the client; px.Done()
//	}
//
// When an error_page sends the failed request to another proxy location,
// Failed returns true and Next continues with the new exchange (the same
// *Proxy). When the plan's HeadOnly is set after Response, the upstream
// response has no body either (HEAD, 1xx, 204, 304).
type Proxy struct {
	e    *Engine
	p    *Plan
	loc  *config.Location
	ug   *upGroup
	try  upstream.Try
	peer *upstream.Peer // current attempt; nil between attempts
	next *upstream.Peer // already picked by Response for the next attempt

	head    []byte // request head without framing and the final CRLF
	headLen int
	bodyLen int64 // -1: no Content-Length
	key     []byte
	keyBuf  [16]byte
	reqLine []byte // for log lines
	upURI   []byte // the URI sent upstream, for log lines

	connClose bool // the Connection field sent upstream is "close" (or HTTP/1.0)
	start     time.Time
	attempt   time.Time // start of the current attempt

	// $upstream_addr, $upstream_status, $upstream_response_time: one
	// entry per attempt, ", " between them.
	upAddrs, upStatus, upTimes []byte
	lastFail                   Failure
	detail                     string
	stage                      Stage
	done                       bool
}

// Next chooses the peer for the next attempt; false when no attempt is
// left (the plan then holds the 502/504 to send).
func (x *Proxy) Next() (addr string, ok bool) { return x.nextPeer() }

// SetBody tells the exchange that the core has read the whole request
// body, n bytes (de-chunked); Head then carries Content-Length: n, as
// nginx does with proxy_request_buffering on. After a CGI local
// redirect the request is a GET without a body (Apache mod_cgi unsets
// Content-Length; nginx makes X-Accel-Redirect a GET too): SetBody is
// ignored, Head has no Content-Length and the core sends no body.
func (x *Proxy) SetBody(n int64) {
	if !x.p.st.cgiRedirected {
		x.bodyLen = n
	}
}

// Head returns the request head to send to the current peer.
func (x *Proxy) Head() []byte { return x.appendHead() }

// Timeouts returns proxy_connect_timeout, proxy_send_timeout and
// proxy_read_timeout.
func (x *Proxy) Timeouts() (connect, send, read time.Duration) {
	return x.loc.ProxyConnectTimeout, x.loc.ProxySendTimeout, x.loc.ProxyReadTimeout
}

// Failed reports a failed attempt on the current peer. sent says whether
// any response byte already reached the client. It returns true when
// proxy_next_upstream allows trying another peer; otherwise the plan is
// now the error response (502, or 504 for a timeout) unless sent.
func (x *Proxy) Failed(f Failure, sent bool) (retry bool) { return x.failed(f, sent) }

// SetError records the OS or protocol error text of the current attempt
// ("connect() failed (111: Connection refused)"); the next Failed logs it
// with nginx's context (client, server, request, upstream).
func (x *Proxy) SetError(err error) {
	if err != nil {
		x.detail = err.Error()
	}
}

// Stage is how far an upstream attempt got; a failure's log line names
// it as nginx does ("... while connecting to upstream").
type Stage int

// The stages of an attempt, in order.
const (
	StageConnect    Stage = iota // connecting to upstream
	StageSend                    // sending request to upstream
	StageReadHeader              // reading response header from upstream
	StageRead                    // reading upstream: the response body
)

// String returns the log-line wording of s: "while connecting to
// upstream".
func (s Stage) String() string {
	switch s {
	case StageConnect:
		return "while connecting to upstream"
	case StageSend:
		return "while sending request to upstream"
	case StageReadHeader:
		return "while reading response header from upstream"
	case StageRead:
		return "while reading upstream"
	}
	return "stage " + strconv.Itoa(int(s))
}

// SetStage records how far the current attempt got, for the log line of
// its failure. Next starts every attempt at StageConnect and Response
// moves it to StageRead; in between, the core reports the stage it
// failed in (StageSend, StageReadHeader) before Failed, or each stage as
// it enters it.
func (x *Proxy) SetStage(s Stage) { x.stage = s }

// Response turns the upstream response head into the client response
// head in p (hop-by-hop fields dropped, framing decided). It returns
// retry=true when the status is one proxy_next_upstream names and another
// attempt is allowed; the core then discards this response and loops.
func (x *Proxy) Response(resp *http1.Response) (retry bool) { return x.response(resp) }

// Done ends a successful attempt (health: success).
func (x *Proxy) Done() {
	if x.peer != nil {
		x.ug.g.Done(x.peer, false, x.e.now())
		x.peer = nil
	}
	x.done = true
}

// Pool returns the upstream keepalive settings for the current peer:
// idle connections to keep (0 = close after each request), idle timeout
// and requests per connection. Only upstream blocks with keepalive, with
// proxy_http_version 1.1 and no "Connection: close" sent pool.
func (x *Proxy) Pool() (idle int, timeout time.Duration, requests int) {
	u := x.ug.up
	if u == nil || u.Keepalive == 0 || x.connClose {
		return 0, 0, 0
	}
	return u.Keepalive, u.KeepaliveTimeout, u.KeepaliveRequests
}

// Buffering reports proxy_buffering.
func (x *Proxy) Buffering() bool { return x.loc.ProxyBuffering }

// DiscardLimit is the most of an unwanted request body (a plan with
// ReadBody false) a core reads and drops to keep the connection alive;
// with a larger Content-Length, or a chunked body that goes past it, the
// core answers and closes instead (DiscardBody). nginx discards without
// a size limit, bounded only by time; a benchmark core bounds the bytes
// too, so that no one makes it read gigabytes nobody wants.
const DiscardLimit = 1 << 20

// SendContinue reports whether the core must send "100 Continue" before
// reading the body of req: the client asked for it (Expect:
// 100-continue) on HTTP/1.1, a body follows and the plan reads it
// (ReadBody, a proxy exchange). Call it after Serve, before reading
// the body; a core that already has body bytes buffered need not send
// it. A plan that does not read the body never sends it: DiscardBody
// then closes the connection rather than wait for the body.
func (p *Plan) SendContinue(req *http1.Request) bool {
	return req.Expect100 && req.Major == 1 && req.Minor >= 1 && req.HasBody() && p.ReadBody && !p.Close
}

// BodyTooLarge reports whether n bytes of request body (de-chunked, as
// read so far, or a Content-Length) exceed the plan's MaxBody
// (client_max_body_size; 0 means no limit). A core reading a body for
// the plan (ReadBody) checks its running total after each decoded piece
// and, on true, stops reading and answers Engine.Reject(413, ...), which
// closes the connection, as nginx's "client intended to send too large
// chunked body". A Content-Length above MaxBody is already answered 413
// by Serve.
//
// A body the plan does not read (a return or static location) is not
// checked: nginx 1.22 checks client_max_body_size only against
// Content-Length (ngx_http_core_find_config_phase) and while reading a
// body (ngx_http_request_body_chunked_filter), not while discarding one
// (ngx_http_discard_request_body_filter), so a chunked body over the
// limit sent to a return location gets the location's answer.
func (p *Plan) BodyTooLarge(n int64) bool {
	return p.MaxBody > 0 && n > p.MaxBody
}

// DiscardBody tells a core what to do with the body of req when the plan
// does not read it (ReadBody false). It returns how many body bytes to
// read and drop before sending the response, at most DiscardLimit; when
// the body goes past that limit the core stops and closes after the
// response. It returns 0 and clears KeepAlive when the core must not
// read the body at all but close after the response: the client waits
// for a "100 Continue" (Expect100 with no body bytes buffered, which the
// core reports in buffered) or Content-Length exceeds DiscardLimit. It
// returns 0 and leaves the plan alone when there is no body to discard
// (none, ReadBody, or Close).
func (p *Plan) DiscardBody(req *http1.Request, buffered bool) (limit int64) {
	if !req.HasBody() || p.ReadBody || p.Close {
		return 0
	}
	if req.Expect100 && !buffered || req.ContentLength > DiscardLimit {
		p.KeepAlive = false
		return 0
	}
	return DiscardLimit
}
