// Package thread is the Apache worker-MPM style server core: a bounded pool of
// OS threads doing blocking syscalls on raw sockets, one connection per thread
// for its whole keep-alive life. HTTP, routing and proxying are servers/engine's.
//
// # GOMAXPROCS
//
// Each worker is a goroutine locked to its own OS thread
// (runtime.LockOSThread), but a Go thread runs Go code only while it holds
// a P, and there are GOMAXPROCS of them. A worker blocked in read(2) gives
// its P away; when the syscall returns, the thread must get a P back
// before it can parse the request. With few Ps and many workers the Ps
// are handed from locked thread to locked thread, each hand-over a futex
// wake and a context switch, which Apache's threads, scheduled by the
// kernel alone, never pay. Measured with the server pinned to one CPU and
// 100 connections: about 11k requests/s with GOMAXPROCS=1 against about
// 30k with GOMAXPROCS=100, on the same CPU.
//
// So that the core measures Apache's architecture and not this Go runtime
// artifact, Options.Procs sets GOMAXPROCS while the Server serves, and
// c10k serve gives it --workers by default (--gomaxprocs): every worker
// thread can then run as soon as the kernel schedules it, as in Apache.
// More Ps than CPUs cost some memory per P and more GC worker goroutines;
// --gomaxprocs -1 keeps the runtime's own setting for comparison. The
// package leaves GOMAXPROCS alone when Options.Procs is zero, since it is
// process-wide (tests run many Servers in one process).
//
// # Proxy buffering
//
// With proxy_buffering on, a worker reads an upstream response into
// memory (Options.ProxyBuffer) and the rest into an unlinked temp file
// (coreio.RespSpool, up to coreio.MaxTempFile as nginx's
// proxy_max_temp_file_size), releases the upstream connection, and only
// then writes to the client, the file part with sendfile(2): a slow
// client holds its worker thread, as in Apache, but not the upstream nor
// the app server's worker behind it. Past the cap the rest is streamed.
//
// # Slow clients exhaust the pool
//
// A worker is tied to its connection while the request head arrives
// (client_header_timeout), while its body arrives (client_body_timeout)
// and while the response is sent (send_timeout), as in Apache: N
// slowloris clients, each sending part of a head and then a byte now
// and then, hold N workers, and with every worker held the listener
// thread accepts nothing; new connections wait in the listen backlog
// until a timeout frees a worker. This is shown, not hidden: the first
// time every worker is busy the core logs, once for its life as Apache
// does (AH00484), "server reached MaxRequestWorkers setting, consider
// raising the MaxRequestWorkers setting", and Stats reports Busy and
// Idle. The head timeout covers the whole head, as nginx's
// client_header_timeout (from the accept for a connection's first
// request, from the first byte for a keep-alive one), so a trickling
// client cannot hold a worker longer than that; the event core holds
// such clients for the price of a small struct and a head buffer each.
//
// # Reload
//
// Server.Reload swaps the engine (c10k serve on SIGHUP). A worker takes
// the engine once per request, when its head has been read, and uses it
// to the end of the exchange; a keep-alive connection takes the new one
// at its next request, and the listening sockets stay bound.
package thread
