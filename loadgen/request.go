package loadgen

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Request is what every load request sends. The zero Method is GET.
type Request struct {
	Method string
	URL    string
	Header http.Header // extra headers; Host here overrides the URL's
	Body   []byte
}

// ParseHeader parses a -H value, "Name: value". The name must be an HTTP
// token; neither part may hold CR, LF or NUL.
func ParseHeader(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("-H %q: want \"Name: value\"", s)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return "", "", fmt.Errorf("-H %q: empty header name", s)
	}
	for i := 0; i < len(name); i++ {
		if !isToken(name[i]) {
			return "", "", fmt.Errorf("-H %q: header name has the invalid byte %q", s, name[i])
		}
	}
	value = strings.TrimSpace(value)
	if strings.ContainsAny(value, "\r\n\x00") {
		return "", "", fmt.Errorf("-H %q: header value holds CR, LF or NUL", s)
	}
	return http.CanonicalHeaderKey(name), value, nil
}

// isToken reports whether c may appear in an HTTP token (RFC 9110).
func isToken(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// ValidMethod reports whether m is a usable request method (a token).
func ValidMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !isToken(m[i]) {
			return false
		}
	}
	return true
}

func (r Request) method() string {
	if r.Method == "" {
		return http.MethodGet
	}
	return r.Method
}

// wire returns the HTTP/1.1 bytes of r toward t: request line, Host,
// User-Agent, the extra headers, Content-Length when there is a body and
// Connection.
func (r Request) wire(t Target, keepAlive bool) []byte {
	var b strings.Builder
	b.WriteString(r.method() + " " + t.Path + " HTTP/1.1\r\n")
	host := t.Host
	if h := r.Header.Get("Host"); h != "" {
		host = h
	}
	b.WriteString("Host: " + host + "\r\n")
	if r.Header.Get("User-Agent") == "" {
		b.WriteString("User-Agent: c10k-attack\r\n")
	}
	for name, vals := range r.Header {
		switch name {
		case "Host", "Content-Length", "Connection":
			continue
		}
		for _, v := range vals {
			b.WriteString(name + ": " + v + "\r\n")
		}
	}
	if len(r.Body) > 0 || r.method() == http.MethodPost || r.method() == http.MethodPut || r.method() == http.MethodPatch {
		b.WriteString("Content-Length: " + strconv.Itoa(len(r.Body)) + "\r\n")
	}
	if keepAlive {
		b.WriteString("Connection: keep-alive\r\n\r\n")
	} else {
		b.WriteString("Connection: close\r\n\r\n")
	}
	b.Write(r.Body)
	return []byte(b.String())
}
