// Package coreio is the code the server cores (servers/thread,
// servers/event) share beyond the sans-I/O engine: socket setup and
// addresses, upstream error classification, response-head building from
// an engine.Plan, client-error log lines, the request-body spool, and
// the engine reference a reload swaps (EngineRef), and the streaming gzip
// compressor (Gzip) every core sends a Plan.Gzip body through.
// What differs by concurrency model (blocking or non-blocking I/O, who
// owns the thread) stays in each core.
package coreio
