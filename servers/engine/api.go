package engine

// CONTRACT FILE: the exported names and signatures below are what the
// cores (servers/thread, later servers/event and servers/cgi) call. Bodies
// are being filled in; keep the signatures (add, don't rename).

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
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
	pages     map[int][]byte
	hostname  string
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
	}
	if e.software == "" {
		e.software = "c10k"
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.pages = pages(e.software)
	e.hostname, _ = os.Hostname()
	r, err := router.New(cfg.HTTP)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e.router = r
	if err := e.prepare(cfg.HTTP); err != nil {
		return nil, err
	}
	if err := e.buildListeners(cfg.HTTP); err != nil {
		return nil, err
	}
	return e, nil
}

// Software returns the Server header value (Options.Software, "c10k" by
// default) that cores give the serializer and the error pages name.
func (e *Engine) Software() string { return e.software }

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
// order. An ip:port and a wildcard on the same port are both listed.
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
	Local    netip.AddrPort
	Remote   netip.AddrPort
	TLS      bool
	Requests int // requests already completed on this connection
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

	Body          []byte   // in-memory body
	File          *os.File // file body; the core sends [Offset, Offset+ContentLength) and closes File
	Offset        int64
	ContentLength int64 // -1 when unknown (chunked to 1.1 clients, close-delimited to 1.0)
	HeadOnly      bool  // HEAD request, or a 1xx/204/304 status: send the head only
	// Sendfile is the location's "sendfile": on, the core sends File with
	// sendfile(2); off, it reads the file into a buffer and writes that.
	Sendfile bool

	// Close says the core must close the connection without sending
	// anything: nginx's "return 444". Status is 444 then.
	Close bool

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

	// Timeouts for writing the response and reading a body.
	SendTimeout time.Duration
	BodyTimeout time.Duration

	arena []byte // header values, URIs, evaluated templates
	px    Proxy  // the exchange Proxy points to
	st    state

	stat     unix.Stat_t // fstat of the file being served
	fileName string      // name of the last File, reused when the next has the same path
}

// Reset clears p for the next request, keeping allocated capacity. It
// does not close File: the core owns it once the plan is handed over.
func (p *Plan) Reset() {
	px := p.px
	*p = Plan{
		Header:   p.Header[:0],
		arena:    p.arena[:0],
		fileName: p.fileName,
	}
	px.reset()
	p.px = px
}

// Serve routes req (read on c) and fills p. Errors in the request
// (bad Host, traversal, too large) are answered by the plan itself.
// For a proxy plan, req must stay valid until the exchange ends (an
// error_page after an upstream failure routes it again).
func (e *Engine) Serve(req *http1.Request, c Conn, p *Plan) {
	p.Reset()
	st := &p.st
	*st = state{e: e, req: req, c: c, method: req.Method, now: e.now()}
	if p.arena == nil {
		p.arena = make([]byte, 0, 4096)
	}
	st.srv = e.router.Server(e.routeAddr(c), req.Host)
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
	lastFail  Failure
	detail    string
	stage     Stage
	done      bool
}

// Next chooses the peer for the next attempt; false when no attempt is
// left (the plan then holds the 502/504 to send).
func (x *Proxy) Next() (addr string, ok bool) { return x.nextPeer() }

// SetBody tells the exchange that the core has read the whole request
// body, n bytes (de-chunked); Head then carries Content-Length: n, as
// nginx does with proxy_request_buffering on.
func (x *Proxy) SetBody(n int64) { x.bodyLen = n }

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
