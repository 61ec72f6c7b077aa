package loadgen

import (
	"fmt"
	"net"
	"net/url"
)

// Target is the HTTP/1.1 endpoint a connection talks to.
type Target struct {
	Addr string // host:port to dial
	Host string // Host header value
	Path string // request-target: path and query
	TLS  bool   // https: every connection shakes hands first
}

// ParseTarget parses an http:// or https:// URL (ports 80 and 443 by
// default).
func ParseTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("loadgen: url %q: %w", raw, err)
	}
	port := "80"
	switch u.Scheme {
	case "http":
	case "https":
		port = "443"
	default:
		return Target{}, fmt.Errorf("loadgen: url %q: scheme %q is not supported (want http or https)", raw, u.Scheme)
	}
	if u.Host == "" {
		return Target{}, fmt.Errorf("loadgen: url %q: no host", raw)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	path := u.RequestURI()
	return Target{Addr: addr, Host: u.Host, Path: path, TLS: u.Scheme == "https"}, nil
}

// request returns the bytes of a GET request for t.
func (t Target) request(keepAlive bool) []byte {
	conn := "keep-alive"
	if !keepAlive {
		conn = "close"
	}
	return []byte("GET " + t.Path + " HTTP/1.1\r\nHost: " + t.Host + "\r\nUser-Agent: c10k-attack\r\nConnection: " + conn + "\r\n\r\n")
}
