package cgiproto

// AppendEnvName appends the meta-variable name of request header field
// name to dst: "HTTP_" and the name upper-cased with "-" as "_"
// (RFC 3875 section 4.1.18). ok is false for a field that gets no
// variable: one whose name has bytes other than letters, digits and
// "-" (so that "X_A" and "X-A" cannot collide, as nginx drops
// underscored names by default), the ones passed otherwise
// (Content-Length, Content-Type, and Transfer-Encoding, since the body
// is passed de-chunked), hop-by-hop Connection, credentials
// (Authorization, Proxy-Authorization: RFC 3875 says the server should
// not pass them), and Proxy, whose HTTP_PROXY would be taken for the
// proxy setting of the program's HTTP clients (httpoxy, CVE-2016-5385).
func AppendEnvName(dst, name []byte) (out []byte, ok bool) {
	if len(name) == 0 {
		return dst, false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return dst, false
		}
	}
	for _, s := range skipped {
		if equalFold(name, s) {
			return dst, false
		}
	}
	dst = append(dst, "HTTP_"...)
	for _, c := range name {
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, true
}

var skipped = []string{"Proxy", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Authorization", "Proxy-Authorization"}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
