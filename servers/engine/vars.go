package engine

import (
	"bytes"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
)

// eval appends the value of template t for the current request to dst.
func (p *Plan) eval(dst []byte, t config.Template) []byte {
	if len(t.Parts) == 0 {
		return append(dst, t.Raw...)
	}
	for _, part := range t.Parts {
		if part.Var == "" {
			dst = append(dst, part.Lit...)
			continue
		}
		dst = p.variable(dst, part.Var)
	}
	return dst
}

// variable appends the value of the nginx variable name ("" when unknown
// or unset). It allocates nothing beyond growing dst.
func (p *Plan) variable(dst []byte, name string) []byte {
	st := &p.st
	req := st.req
	if req == nil {
		req = &noRequest
	}
	switch name {
	case "host":
		return append(dst, st.hostName()...)
	case "server_name":
		return append(dst, st.serverName()...)
	case "remote_addr":
		return st.c.Remote.Addr().Unmap().AppendTo(dst)
	case "binary_remote_addr":
		a := st.c.Remote.Addr().Unmap()
		if a.Is4() {
			b := a.As4()
			return append(dst, b[:]...)
		}
		b := a.As16()
		return append(dst, b[:]...)
	case "remote_port":
		return strconv.AppendUint(dst, uint64(st.c.Remote.Port()), 10)
	case "server_addr":
		return st.c.Local.Addr().Unmap().AppendTo(dst)
	case "server_port":
		return strconv.AppendUint(dst, uint64(st.c.Local.Port()), 10)
	case "scheme":
		return append(dst, st.scheme()...)
	case "https":
		if st.c.TLS {
			return append(dst, "on"...)
		}
		return dst
	case "ssl_protocol":
		return append(dst, tlsVersionName(st.c.TLSVersion)...)
	case "ssl_session_reused":
		if !st.c.TLS {
			return dst
		}
		if st.c.TLSResumed {
			return append(dst, 'r')
		}
		return append(dst, '.')
	case "ssl_server_name":
		return append(dst, st.c.TLSServerName...)
	case "request_uri":
		return append(dst, req.Target...)
	case "uri", "document_uri":
		return append(dst, st.uri...)
	case "args", "query_string":
		return append(dst, st.args...)
	case "is_args":
		if len(st.args) > 0 {
			return append(dst, '?')
		}
		return dst
	case "request_method":
		return append(dst, st.method...)
	case "request":
		dst = append(dst, req.Method...)
		dst = append(dst, ' ')
		dst = append(dst, req.Target...)
		dst = append(dst, ' ')
		return appendProto(dst, req)
	case "server_protocol":
		return appendProto(dst, req)
	case "content_length":
		return append(dst, req.Header.Get("Content-Length")...)
	case "content_type":
		return append(dst, req.Header.Get("Content-Type")...)
	case "document_root", "realpath_root":
		if st.loc != nil {
			return append(dst, st.loc.Root...)
		}
		return dst
	case "proxy_host":
		if st.ug != nil {
			return append(dst, st.ug.host...)
		}
		return dst
	case "proxy_port":
		if st.ug != nil {
			return append(dst, st.ug.port...)
		}
		return dst
	case "proxy_add_x_forwarded_for":
		n := len(dst)
		for _, f := range req.Header {
			if http1.EqualFold(f.Name, "X-Forwarded-For") {
				if len(dst) > n {
					dst = append(dst, ", "...)
				}
				dst = append(dst, f.Value...)
			}
		}
		if len(dst) > n {
			dst = append(dst, ", "...)
		}
		return st.c.Remote.Addr().Unmap().AppendTo(dst)
	case "request_id":
		if !st.hasID {
			const hex = "0123456789abcdef"
			a, b := rand.Uint64(), rand.Uint64()
			for i := range 16 {
				st.id[i] = hex[a>>(60-4*i)&15]
				st.id[16+i] = hex[b>>(60-4*i)&15]
			}
			st.hasID = true
		}
		return append(dst, st.id[:]...)
	case "msec":
		ms := st.now.UnixMilli()
		dst = strconv.AppendInt(dst, ms/1000, 10)
		dst = append(dst, '.')
		return append(dst, byte('0'+ms%1000/100), byte('0'+ms%100/10), byte('0'+ms%10))
	case "time_local":
		return st.now.AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
	case "time_iso8601":
		return st.now.AppendFormat(dst, "2006-01-02T15:04:05-07:00")
	case "hostname":
		return append(dst, st.e.hostname...)
	case "status":
		return strconv.AppendInt(dst, int64(p.Status), 10)
	}
	switch {
	case len(name) > 5 && name[:5] == "http_":
		return appendHeaderVar(dst, req.Header, name[5:])
	case len(name) > 4 && name[:4] == "arg_":
		if v, ok := argValue(st.args, name[4:]); ok {
			return append(dst, v...)
		}
		return dst
	case len(name) > 7 && name[:7] == "cookie_":
		return appendCookie(dst, req.Header, name[7:])
	}
	return p.capture(dst, name)
}

// capture appends the regex capture name ("0".."9" or a group name,
// case-insensitive): from the request's last regex location match, else
// from the server_name regex that chose the server (matched against the
// clean host), as nginx keeps both; "" when there is none or the group did
// not take part. The indexes are computed once per match into the Plan's
// fixed arrays; only that first use allocates (regexp has no way to fill
// a caller's slice).
func (p *Plan) capture(dst []byte, name string) []byte {
	st := &p.st
	if g := group(st.re, name); g >= 0 {
		if !st.capsDone {
			st.capsDone = true
			fillCaps(&st.caps, st.re, st.reURI)
		}
		return appendCap(dst, &st.caps, g, st.reURI)
	}
	if g := group(st.srvRe, name); g >= 0 {
		if !st.srvCapsDone {
			st.srvCapsDone = true
			fillCaps(&st.srvCaps, st.srvRe, st.host)
		}
		return appendCap(dst, &st.srvCaps, g, st.host)
	}
	return dst
}

// group returns the index of capture name in re, -1 when re is nil or
// has no such group.
func group(re *regexp.Regexp, name string) int {
	if re == nil {
		return -1
	}
	g := -1
	if len(name) == 1 && '0' <= name[0] && name[0] <= '9' {
		g = int(name[0] - '0')
	} else {
		for i, n := range re.SubexpNames() {
			if i > 0 && strings.EqualFold(n, name) {
				g = i
				break
			}
		}
	}
	if g < 0 || g > re.NumSubexp() || g >= maxCaptures {
		return -1
	}
	return g
}

func fillCaps(caps *[2 * maxCaptures]int, re *regexp.Regexp, s []byte) {
	for i := range caps {
		caps[i] = -1
	}
	copy(caps[:], re.FindSubmatchIndex(s))
}

func appendCap(dst []byte, caps *[2 * maxCaptures]int, g int, s []byte) []byte {
	a, b := caps[2*g], caps[2*g+1]
	if a < 0 {
		return dst
	}
	return append(dst, s[a:b]...)
}

func appendProto(dst []byte, req *http1.Request) []byte {
	dst = append(dst, "HTTP/"...)
	dst = strconv.AppendInt(dst, int64(req.Major), 10)
	dst = append(dst, '.')
	return strconv.AppendInt(dst, int64(req.Minor), 10)
}

// appendHeaderVar appends the request fields whose name matches the
// variable suffix ("user_agent" ~ "User-Agent"); repeated fields are
// joined with ", " (nginx does so for known multi-value ones).
func appendHeaderVar(dst []byte, h http1.Header, name string) []byte {
	n := len(dst)
	for _, f := range h {
		if varNameEqual(f.Name, name) {
			if len(dst) > n {
				dst = append(dst, ", "...)
			}
			dst = append(dst, f.Value...)
		}
	}
	return dst
}

func varNameEqual(field []byte, name string) bool {
	if len(field) != len(name) {
		return false
	}
	for i := range field {
		c := lower(field[i])
		if c == '-' {
			c = '_'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// argValue finds the query argument name (case-insensitive, as nginx).
func argValue(args []byte, name string) ([]byte, bool) {
	for len(args) > 0 {
		var kv []byte
		if i := bytes.IndexByte(args, '&'); i >= 0 {
			kv, args = args[:i], args[i+1:]
		} else {
			kv, args = args, nil
		}
		k, v := kv, []byte(nil)
		if i := bytes.IndexByte(kv, '='); i >= 0 {
			k, v = kv[:i], kv[i+1:]
		}
		if http1.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func appendCookie(dst []byte, h http1.Header, name string) []byte {
	for _, f := range h {
		if !http1.EqualFold(f.Name, "Cookie") {
			continue
		}
		v := f.Value
		for len(v) > 0 {
			var kv []byte
			if i := bytes.IndexByte(v, ';'); i >= 0 {
				kv, v = v[:i], v[i+1:]
			} else {
				kv, v = v, nil
			}
			kv = bytes.TrimLeft(kv, " \t")
			if i := bytes.IndexByte(kv, '='); i >= 0 && http1.EqualFold(kv[:i], name) {
				return append(dst, kv[i+1:]...)
			}
		}
	}
	return dst
}

// lower returns the ASCII lowercase of c.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
