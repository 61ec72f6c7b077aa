// Package engine is the shared, sans-I/O web server: it routes a parsed
// request to a virtual server and location and plans the response (static
// files, return, error_page, try_files, reverse proxy) for any core.
//
// Differences from nginx 1.22 worth knowing:
//   - A proxied request does not carry the fields the client's Connection
//     header names ("Connection: foo" drops "Foo"), nor Proxy-Connection:
//     they are hop-by-hop (RFC 9110 section 7.6.1). nginx forwards both.
package engine
