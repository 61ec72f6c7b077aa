// Package servertest is the one conformance suite every server core runs:
// it writes an nginx.conf, a docroot and real backends, then checks the core
// with a strict raw HTTP/1.1 client against nginx semantics.
package servertest
