// Package cgi is the process-per-request core (CGI, inetd; Apache
// mod_cgi, lighttpd mod_cgi): every request is served by a child
// process that exits when it is done.
//
// The parent owns what must outlive a request: the listening sockets,
// reading and parsing requests (http1), routing and planning (the
// shared engine), and balancer state and health. For each request it
// then starts one child:
//
//   - a cgi_pass location runs the configured program (RFC 3875, through
//     the runner every core shares, servers/internal/cgirun), and the
//     parent sends what the engine makes of its output;
//   - anything else runs the c10k binary itself in its child mode
//     (ChildMain). The parent hands it the client socket (fd 3) and the
//     engine's decision: the serialized response head and body, the
//     file of a static plan (fd 4), or for a proxy plan the upstream
//     connection (fd 4) and the request to send on it. The parent owns
//     upstream connections as it owns the balancer: it picks the peer,
//     connects (connect errors and timeouts are its own, reported to
//     engine.Proxy like any failure) or takes an idle connection from
//     its keepalive pool (the upstream's keepalive, keepalive_timeout
//     and keepalive_requests), and keeps its copy of the descriptor.
//     The child does the response I/O (send, read, the body relay,
//     sendfile) and reports the outcome on its stdout: send or read
//     error, timeout, invalid header, the upstream's response head, and
//     at the end whether the connection is reusable (response read
//     whole, keep-alive). The parent feeds that to engine.Proxy (Failed,
//     Response, Done), so proxy_next_upstream and passive health are
//     the shared ones: a retry is a new child for the next peer, and a
//     pooled connection the peer closed while idle is retried once on
//     a fresh one without counting a failure. Then it pools its copy of
//     the connection or closes it.
//
// proxy_cache lives in the parent's engine, while the child relays the
// body: for a response the engine stores (engine.Proxy.Caching) the
// verdict asks the child to tee the de-chunked upstream body back as
// "body" reports on its stdout, which the parent passes to CacheBody;
// once the body was read whole the child says so and waits until the
// parent has called Done (which stores the entry) before it writes the
// end of the response. A fill cut short ends with DonePartial. A hit is
// an ordinary bytes or file job.
// A request that proxy_cache_lock makes wait for another one's fill
// waits on its connection's goroutine, as a limit_req delay does.
//
// The parent runs one goroutine per connection on Go's netpoller. That
// is not the model under test: every request costs a fork+exec of a
// child (about a millisecond for a small C or shell program, several
// for a Go binary that initialises its runtime), next to which a
// goroutine switch is noise. MaxChildren (default 256, like Apache
// prefork's MaxRequestWorkers) bounds the children; requests beyond it
// queue in FIFO order. While a child runs, its connection's goroutine
// watches the client socket for a hang-up on the netpoller; a child
// whose client hung up, or past its timeout, gets SIGTERM then SIGKILL
// (Grace later) on its whole process group, and every child is reaped.
// Children share one stderr pipe, read by the runner into the error
// log.
//
// Server.Reload swaps the engine (c10k serve on SIGHUP). Children never
// read the config (the parent plans every request and hands its child
// the outcome), so a reload needs nothing from them: a request and its
// child finish on the engine the request started with, and the next
// request of a keep-alive connection takes the new one.
package cgi
