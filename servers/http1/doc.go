// Package http1 parses and serializes HTTP/1.1 messages over byte slices:
// request and response heads, body framing (Content-Length, chunked, until close)
// and response heads, with nginx's limits and statuses, no I/O and no allocation.
package http1
