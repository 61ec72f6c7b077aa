// Package thread is the Apache worker-MPM style server core: a bounded pool of
// OS threads doing blocking syscalls on raw sockets, one connection per thread
// for its whole keep-alive life. HTTP, routing and proxying are servers/engine's.
package thread
