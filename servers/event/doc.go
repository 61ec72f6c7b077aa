// Package event is the nginx-style server core: N event loops on edge-triggered
// epoll, each on its own locked OS thread, with idle connections holding no
// buffers, per-loop timer heaps, a small thread pool for disk lookups, and the reverse proxy on the loop.
//
// # Accept model
//
// Every loop has its own listening socket per address, bound with
// SO_REUSEPORT (nginx's "listen ... reuseport"), so the kernel spreads new
// connections over the loops: no shared accept queue, no thundering herd,
// and a loop can stop accepting on its own (worker_connections, EMFILE)
// without touching the others. The price, as with nginx's reuseport, is
// that connections already queued on a paused or busy loop's socket wait
// for that loop. EPOLLEXCLUSIVE on one shared socket would balance by
// readiness instead, but every loop would then share one accept queue and
// pausing one loop would need the socket removed from that loop's epoll
// set only, which EPOLLEXCLUSIVE does not allow to be modified.
//
// # Buffers
//
// A connection between requests is a small struct (fd, state, timer slot,
// counters, addresses) and no buffer. When bytes arrive the loop lends it an
// exchange from a per-loop free list: parser, request, engine.Plan, read
// and write buffers; it goes back when the response is sent and no
// pipelined byte is left. Stats().Borrowed counts exchanges lent out.
//
// # Timers
//
// Each connection has one deadline in its loop's binary heap (keep-alive,
// client_header_timeout, client_body_timeout, send_timeout, and the proxy's
// connect, send and read timeouts, whichever the connection waits for).
// Pushing a deadline later is lazy, as nginx's timer rbtree is: the heap key
// stays and the entry is re-queued when it comes up early, so a keep-alive
// request costs no heap operation. epoll_wait sleeps until the earliest key.
//
// # File lookups off the loop
//
// Requests are routed on the loop with engine.ServeCached, whose opens and
// stats use only the kernel's dentry and inode caches (openat2 with
// RESOLVE_CACHED). A lookup that would wait for the disk makes the request
// run engine.Serve on a small pool of locked threads (nginx's "aio
// threads"); the result comes back through a queue and the loop's eventfd.
// Hot files are thus served without a thread hand-off, cold ones never
// stall the loop. Reading file data (sendfile, pread) happens on the loop,
// as in nginx without aio.
//
// # Request bodies
//
// A request body for the proxy is kept in memory up to 16 KiB (nginx's
// client_body_buffer_size) and spooled beyond to an unlinked temp file
// (coreio.Spool, nginx's client_body_temp_path), which goes upstream with
// sendfile(2). The writes to that file happen on the loop: they are
// regular-file writes, which may wait for the disk, as nginx's do on its
// event loop.
//
// # Response buffering
//
// With proxy_buffering on, an upstream response body is read into memory
// up to Options.ProxyBuffer and, past it, on into an unlinked temp file
// (nginx's proxy_temp_path, up to proxy_max_temp_file_size:
// Options.ProxyMaxTempFile, 1 GiB), still on the loop as the edge-triggered
// reads deliver it; the file writes are regular-file writes, as nginx's.
// Once the body is complete the upstream goes back to the keepalive pool
// (or is closed), and the client gets the head, the memory part and the
// file part at its own pace: the file part with sendfile(2), resumed on
// EPOLLOUT like a static file, under send_timeout. A body past the temp
// file limit is streamed from there, as nginx does.
//
// # TLS
//
// Connections of a "listen ... ssl" address speak TLS through crypto/tls
// (engine.TLSConfig) with no goroutine of their own once the handshake
// is done. A tls.Conn runs on the loop over a memory transport
// (tlsState): its Read takes the socket's bytes with a non-blocking
// read(2) and, when the socket is drained, returns an error whose
// Temporary() is true. crypto/tls keeps the partial record it has read
// on such an error (readRecordOrCCS does not record it in its sticky
// read error), so the next Read, after the next EPOLLIN, goes on from
// there. Its Write never fails: it appends the ciphertext to the
// connection's output buffer, which the loop writes with write(2); a
// write error crypto/tls saw would be permanent (setErrorLocked wraps
// net errors in permanentError). Backpressure is the loop's: it
// encrypts one 16 KiB record (ssl_buffer_size) only once the previous
// one is on the socket, so a writing connection holds one output
// buffer and an idle one none. Everything sent goes through it: heads,
// in-memory bodies, files (no sendfile under TLS: pread(2) into the
// exchange's buffer on the loop, then encrypted), gzip output, proxied
// and spilled bodies, CGI output and error pages. A connection that
// closes after a complete response sends close_notify first; plain
// HTTP on an ssl port (engine.IsTLSHandshake refuses its first byte)
// is read in clear and answered 400 by the engine (Conn.PlainHTTP).
//
// The handshake cannot run that way: crypto/tls keeps its state on the
// stack of Handshake, and a failed Handshake is final (handshakeErr),
// so it cannot return "would block" and be called again; replaying it
// from the start is no way out either, its ephemeral keys and
// signatures being random. (Its QUIC API is event-driven but requires
// QUIC transport parameters and starts a goroutine itself.) So each
// handshake runs on a goroutine of its own, owned by the Server and
// bounded per loop (Options.TLSHandshakes, 64; more wait in a FIFO with
// their first record read). The loop starts it only once a whole first
// record (the ClientHello) is buffered, so a connection that sends
// nothing, or part of a record, costs no goroutine; the loop keeps the
// socket, reads into the handshake's input and writes its output, and
// the goroutine exits when the handshake ends. client_header_timeout
// bounds the handshake and the first request head together, from the
// accept, as in nginx: when it passes during the handshake, the
// goroutine is told to give up and the connection closes once it has. A stalled client thus holds a goroutine (a few KiB of
// stack) until client_header_timeout, where nginx holds only its SSL
// object; TLSHandshakes bounds how many.
//
// Measured on 2 vCPUs shared with other work (go test -run '^$'
// -bench 'TLSHandshake|IdleRSS' -benchtime 2000x; -benchtime 1x for
// the IdleRSS ones): a full TLS 1.3 handshake (X25519MLKEM768, ECDSA
// P-256) costs about 1.1 ms of CPU, client and server together, on the
// loop and with crypto/tls and a goroutine per connection alike, so
// the hand-off to the handshake goroutine is not what costs; the rate
// (180 to 750 handshakes/s here) follows the machine's other load.
// 5,000 idle TLS connections add no goroutine to the server process (8
// in all) and about 13 KB of RSS each, against 0.4 KB for a plain one
// (BenchmarkTLSIdleRSS, BenchmarkIdleRSS). Of that, about 7 KB is live
// heap that crypto/tls keeps and no API releases (nginx has
// SSL_MODE_RELEASE_BUFFERS): its record and handshake buffers grown
// during the handshake (3.5 KB), two AES-GCM states (1.8 KB) and the
// tls.Conn (0.9 KB); tlsState adds 0.2 KB. Keep-alive requests for a
// 1 KiB file over TLS ran at 9k to 17k/s against 12k to 15k/s in clear,
// in the same noisy runs (BenchmarkTLSStatic1K, BenchmarkStatic1K).
// TestTLSIdleConnectionsHoldNoGoroutine checks the goroutines.
//
// # Reload
//
// Server.Reload swaps the engine (c10k serve on SIGHUP) with one atomic
// store; a loop takes it with one atomic load, no lock, when a request
// head is parsed, and the request keeps it in its exchange to the end,
// the file pool's lookup included. Keep-alive connections take the new
// engine at their next request. nginx starts new worker processes
// instead and lets the old ones finish; here the loops, their sockets
// and worker_processes stay until a restart, worker_connections follows
// the new config.
//
// # Differences from nginx 1.22
//
//   - At worker_connections, nginx accepts and immediately closes new
//     connections, logging each time; this core stops accepting (the
//     kernel queues them) and logs once until a connection closes.
package event
