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
}

// ParseTarget parses an http:// URL. https is not supported yet.
func ParseTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("loadgen: url %q: %w", raw, err)
	}
	if u.Scheme != "http" {
		return Target{}, fmt.Errorf("loadgen: url %q: scheme %q is not supported (want http)", raw, u.Scheme)
	}
	if u.Host == "" {
		return Target{}, fmt.Errorf("loadgen: url %q: no host", raw)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	path := u.RequestURI()
	return Target{Addr: addr, Host: u.Host, Path: path}, nil
}

// request returns the bytes of a GET request for t.
func (t Target) request(keepAlive bool) []byte {
	conn := "keep-alive"
	if !keepAlive {
		conn = "close"
	}
	return []byte("GET " + t.Path + " HTTP/1.1\r\nHost: " + t.Host + "\r\nUser-Agent: c10k-attack\r\nConnection: " + conn + "\r\n\r\n")
}
