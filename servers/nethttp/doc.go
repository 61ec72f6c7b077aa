// Package nethttp is the optional baseline core: Go's net/http (one goroutine
// per connection, the runtime's netpoller) in front of the same servers/engine
// as the other cores, to show where Go's own server stands. See Findings.
//
// # Findings
//
// net/http owns the HTTP/1.1 wire, so some behaviour of the shared engine
// cannot reach the client unchanged. Run against this core, the
// conformance suite (servers/servertest) fails three cases, so it is not
// part of this package's tests (nethttp_test.go is a smoke test instead):
//
//   - malformed/obs-fold: net/http accepts obsolete line folding, which
//     nginx and the engine's parser refuse with 400;
//   - malformed/content-length-and-chunked: net/http serves a request with
//     both Content-Length and Transfer-Encoding: chunked (dropping the
//     length), which nginx refuses with 400 and a closed connection;
//   - proxy/upstream-keepalive: there is no upstream keepalive pool.
//
// servertest.RunHostile, not run here either, fails ten cases on this
// core, all of them net/http's parser being laxer than nginx 1.22's:
// Content-Length with Transfer-Encoding: chunked (either order) is served
// chunked, and the request sent after the chunked body is then served
// too (the proxy still re-frames, so the upstream sees two well-framed
// requests, not a desync); Transfer-Encoding in HTTP/1.0, folded into an
// obs-fold line or wrapped in tabs is accepted; two equal Content-Length
// fields are accepted; a duplicate Transfer-Encoding is 501, not 400;
// control bytes in a chunk extension are accepted; and a chunk size over
// client_max_body_size is not refused until that much data has come (the
// core sees de-chunked data only), so the client waits instead of getting
// 413.
//
// The differences, each a result of the comparison rather than a gap to
// hide:
//
//   - Malformed requests are answered by net/http itself (400 with its own
//     plain-text body, or 431), never by engine.Reject: nginx's error pages
//     and its lingering close do not apply, and the framing checks are
//     net/http's (it rejects some heads nginx accepts and the reverse).
//   - Header order and case are lost: net/http parses fields into a map
//     with canonical names. The core rebuilds a request head (Host first,
//     then fields sorted by name) and parses it with servers/http1, so
//     routing and framing use the engine's rules, but a proxied request
//     carries the fields in that order.
//   - net/http writes Date, Content-Length or chunking and Connection
//     itself, and answers "Expect: 100-continue" when the handler first
//     reads the body. HEAD bodies are discarded by net/http.
//   - There is one idle timeout per server (http.Server.IdleTimeout): the
//     largest keepalive_timeout of the config, not one per location.
//     keepalive_requests is honoured through the plan's Connection: close.
//   - cgi_pass runs on the connection's goroutine with the shared CGI
//     runner (servers/internal/cgirun), as the thread core runs it on its
//     worker; net/http de-chunks the body and cancels the request's
//     context when the client goes, which ends the child.
//   - Reverse proxying works (engine.Proxy over net.Dial, with peer choice,
//     retries and health in the engine), but without an upstream keepalive
//     pool: every attempt dials a fresh connection and closes it. Responses
//     are streamed, not buffered: proxy_buffering is not honoured.
//   - Listen backlogs are the kernel's somaxconn (net.Listen), not the
//     listen directive's backlog=; reuseport is ignored.
//   - Server.Reload (SIGHUP) swaps the engine for the requests that start
//     afterwards, as on the other cores, but the http.Servers keep the
//     idle timeout, header timeout and header size limit they started
//     with until a restart.
package nethttp
