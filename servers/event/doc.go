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
// # Slow clients and running out of descriptors
//
// A slowloris connection is a conn on the timer heap and an exchange
// whose head buffer grows to at most client_header_buffer_size plus
// large_client_header_buffers; client_header_timeout runs from the
// accept (first request) or the first byte (keep-alive), as nginx's, so
// trickling bytes never extend it. When accept4 fails with EMFILE or
// ENFILE the loop takes its listeners out of the epoll set for 500ms at
// a time (nginx's accept_mutex_delay) and keeps serving what it holds,
// logging the episode once when it begins and once when it ends.
//
// # Differences from nginx 1.22
//
//   - At worker_connections, nginx accepts and immediately closes new
//     connections, logging each time; this core stops accepting (the
//     kernel queues them) and logs once until a connection closes.
//   - nginx logs every accept4 failure, one line per 500ms retry while
//     descriptors are short; this core logs the episode once.
package event
