package router

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/c10k/c10k/servers/config"
)

// Router chooses the virtual server for a connection's local address and
// a request's Host. It is immutable after New and safe for concurrent use.
type Router struct {
	addrs map[netip.AddrPort]*vhosts // servers of explicit ip:port listens
	wild  map[wildKey]*vhosts        // servers of wildcard listens, by port and family
	first *config.Server             // the first server of the config
}

type wildKey struct {
	port uint16
	v6   bool
}

// vhosts is the set of servers of one listen address.
type vhosts struct {
	def     *config.Server
	defSet  bool                      // def came from an explicit default_server
	noHost  *config.Server            // the first server named "": requests without Host
	exact   map[string]*config.Server // "example.com"
	dotSelf map[string]*config.Server // ".example.com" matching "example.com" itself
	head    map[string]*config.Server // "*.example.com" and ".example.com", keyed ".example.com"
	tail    map[string]*config.Server // "www.example.*", keyed "www.example."
	regex   []nameRegex               // in config order
}

type nameRegex struct {
	re  *regexp.Regexp
	srv *config.Server
}

// New builds a Router for the servers of h.
func New(h *config.HTTP) (*Router, error) {
	if h == nil {
		return nil, ErrNoHTTP
	}
	r := &Router{
		addrs: make(map[netip.AddrPort]*vhosts),
		wild:  make(map[wildKey]*vhosts),
	}
	for _, srv := range h.Servers {
		if r.first == nil {
			r.first = srv
		}
		listens := srv.Listens
		if len(listens) == 0 {
			listens = []config.Listen{{Addr: "*:80"}}
		}
		for _, l := range listens {
			ap, wildcard, err := ParseListen(l.Addr)
			if err != nil {
				return nil, fmt.Errorf("router: server at %s: %w", srv.Pos, err)
			}
			var vh *vhosts
			if wildcard {
				k := wildKey{ap.Port(), ap.Addr().Is6()}
				if vh = r.wild[k]; vh == nil {
					vh = newVhosts()
					r.wild[k] = vh
				}
			} else {
				if vh = r.addrs[ap]; vh == nil {
					vh = newVhosts()
					r.addrs[ap] = vh
				}
			}
			if err := vh.add(srv, l.DefaultServer); err != nil {
				return nil, fmt.Errorf("router: server at %s: %w", srv.Pos, err)
			}
		}
	}
	return r, nil
}

func newVhosts() *vhosts {
	return &vhosts{
		exact:   make(map[string]*config.Server),
		dotSelf: make(map[string]*config.Server),
		head:    make(map[string]*config.Server),
		tail:    make(map[string]*config.Server),
	}
}

// add registers srv; on a conflicting name the first server keeps it, as
// nginx does (it warns "conflicting server name ... ignored").
func (vh *vhosts) add(srv *config.Server, def bool) error {
	if vh.def == nil || (def && !vh.defSet) {
		vh.def = srv
		vh.defSet = def
	}
	for _, n := range srv.Names {
		name := strings.ToLower(n.Name)
		switch n.Kind {
		case config.NameExact:
			name = strings.TrimSuffix(name, ".")
			if n.Name == "" {
				if vh.noHost == nil {
					vh.noHost = srv // server_name "" (the default name) catches requests without Host
				}
				continue
			}
			setOnce(vh.exact, name, srv)
		case config.NameSuffix:
			if !strings.HasPrefix(name, ".") {
				name = "." + name
			}
			setOnce(vh.head, name, srv)
			if n.Dot {
				setOnce(vh.dotSelf, name[1:], srv)
			}
		case config.NamePrefix:
			if !strings.HasSuffix(name, ".") {
				name += "."
			}
			setOnce(vh.tail, name, srv)
		case config.NameRegex:
			re := n.Regex
			if re == nil {
				var err error
				if re, err = regexp.Compile(strings.TrimPrefix(n.Name, "~")); err != nil {
					return fmt.Errorf("server_name %q: %w", n.Name, err)
				}
			}
			vh.regex = append(vh.regex, nameRegex{re, srv})
		}
	}
	return nil
}

func setOnce(m map[string]*config.Server, k string, srv *config.Server) {
	if _, ok := m[k]; !ok {
		m[k] = srv
	}
}

// ParseListen parses a listen address: "80", "*:80", ":80", "1.2.3.4:80",
// "[::1]:80", "host:80" (resolved now, as nginx does) or "1.2.3.4" (port
// 80). wildcard reports an all-addresses listen; ap then holds the
// unspecified address of its family. Port 0 is accepted (a c10k extension
// for tests, see config.Listen): the core binds an ephemeral port, and
// virtual servers are chosen by the configured address, not the bound one.
func ParseListen(addr string) (ap netip.AddrPort, wildcard bool, err error) {
	return parseListen(addr, net.LookupIP)
}

// parseListen is ParseListen with the resolver of host names given, so
// that tests never query DNS.
func parseListen(addr string, lookup func(string) ([]net.IP, error)) (ap netip.AddrPort, wildcard bool, err error) {
	host, port := addr, "80"
	if n, perr := strconv.Atoi(addr); perr == nil {
		if n < 0 || n > 65535 {
			return ap, false, fmt.Errorf("%w: %q", ErrListen, addr)
		}
		host, port = "", addr
	} else if strings.HasPrefix(addr, "[") {
		i := strings.IndexByte(addr, ']')
		if i < 0 {
			return ap, false, fmt.Errorf("%w: %q", ErrListen, addr)
		}
		host = addr[1:i]
		if rest := addr[i+1:]; rest != "" {
			if rest[0] != ':' {
				return ap, false, fmt.Errorf("%w: %q", ErrListen, addr)
			}
			port = rest[1:]
		}
	} else if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		host, port = addr[:i], addr[i+1:]
	}
	p, perr := strconv.ParseUint(port, 10, 16)
	if perr != nil {
		return ap, false, fmt.Errorf("%w: %q: bad port", ErrListen, addr)
	}
	var ip netip.Addr
	switch host {
	case "", "*":
		return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(p)), true, nil
	case "localhost":
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		if ip, err = netip.ParseAddr(host); err != nil {
			ips, lerr := lookup(host)
			if lerr != nil || len(ips) == 0 {
				return ap, false, fmt.Errorf("%w: %q: host not found", ErrListen, addr)
			}
			ip, _ = netip.AddrFromSlice(ips[0])
		}
	}
	ip = ip.Unmap()
	return netip.AddrPortFrom(ip, uint16(p)), ip.IsUnspecified(), nil
}

// Server returns the virtual server for a request that arrived on a
// socket bound to local with the given Host header value (port, case and
// a trailing dot do not matter). It never returns nil when the config has
// a server. An empty host (a request without Host) selects the server
// named "" on that address, as nginx's server_name "" (the default
// server_name of a server without one), else the default server. An
// invalid host selects the default server; use CleanHost to detect it.
func (r *Router) Server(local netip.AddrPort, host []byte) *config.Server {
	srv, _ := r.ServerRegex(local, host)
	return srv
}

// ServerRegex is Server that also returns the server_name regex that
// chose the server, nil when another rule did. Its captures ($1, named)
// are variables of the request; they match the host as CleanHost
// returns it.
func (r *Router) ServerRegex(local netip.AddrPort, host []byte) (*config.Server, *regexp.Regexp) {
	vh := r.vhosts(local)
	if vh == nil {
		return r.first, nil
	}
	if len(host) == 0 {
		if vh.noHost != nil {
			return vh.noHost, nil
		}
		return vh.def, nil
	}
	h, upper, ok := cleanHost(host)
	if !ok {
		return vh.def, nil
	}
	if upper {
		var buf [256]byte
		if len(h) > len(buf) {
			return vh.def, nil
		}
		if srv := vh.byName(lowerInto(buf[:0], h)); srv != nil {
			return srv, nil
		}
		if len(vh.regex) > 0 {
			h = lowerInto(nil, h) // rare: an uppercase Host and regex names
		}
	} else if srv := vh.byName(h); srv != nil {
		return srv, nil
	}
	for _, nr := range vh.regex {
		if nr.re.Match(h) {
			return nr.srv, nr.re
		}
	}
	return vh.def, nil
}

// Default returns the default server of the address local.
func (r *Router) Default(local netip.AddrPort) *config.Server {
	if vh := r.vhosts(local); vh != nil {
		return vh.def
	}
	return r.first
}

func (r *Router) vhosts(local netip.AddrPort) *vhosts {
	ap := netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	if vh := r.addrs[ap]; vh != nil {
		return vh
	}
	v6 := ap.Addr().Is6()
	if vh := r.wild[wildKey{ap.Port(), v6}]; vh != nil {
		return vh
	}
	return r.wild[wildKey{ap.Port(), !v6}]
}

// byName applies nginx's server_name precedence to a clean host: exact,
// longest leading wildcard, longest trailing wildcard. Regex names come
// after it, in Server.
func (vh *vhosts) byName(h []byte) *config.Server {
	if srv := vh.exact[string(h)]; srv != nil {
		return srv
	}
	if len(vh.head) > 0 || len(vh.dotSelf) > 0 {
		if srv := vh.dotSelf[string(h)]; srv != nil {
			return srv
		}
		for i := 0; i < len(h); i++ {
			if h[i] == '.' {
				if srv := vh.head[string(h[i:])]; srv != nil {
					return srv
				}
			}
		}
	}
	if len(vh.tail) > 0 {
		for i := len(h) - 1; i >= 0; i-- {
			if h[i] == '.' {
				if srv := vh.tail[string(h[:i+1])]; srv != nil {
					return srv
				}
			}
		}
	}
	return nil
}

// CleanHost appends the normalized form of a Host header value to dst:
// port removed, lowercased, trailing dot removed. ok is false for a value
// nginx would answer with 400: empty, "..", a leading dot, "/", "\",
// controls or spaces, or a malformed IPv6 literal.
func CleanHost(dst, host []byte) (h []byte, ok bool) {
	c, _, ok := cleanHost(host)
	if !ok {
		return dst, false
	}
	return lowerInto(dst, c), true
}

func lowerInto(dst, s []byte) []byte {
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// cleanHost strips the port and a trailing dot and validates host. It
// returns a subslice of host; upper reports uppercase letters in it.
func cleanHost(host []byte) (h []byte, upper, ok bool) {
	h = host
	if len(h) > 0 && h[0] == '[' {
		i := bytes.IndexByte(h, ']')
		if i < 0 {
			return nil, false, false
		}
		if rest := h[i+1:]; len(rest) > 0 && rest[0] != ':' {
			return nil, false, false
		}
		h = h[:i+1]
	} else if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	if len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	if len(h) == 0 || h[0] == '.' {
		return nil, false, false
	}
	for i, c := range h {
		switch {
		case c <= ' ' || c == 0x7f || c == '/' || c == '\\':
			return nil, false, false
		case c == '.' && i > 0 && h[i-1] == '.':
			return nil, false, false
		case 'A' <= c && c <= 'Z':
			upper = true
		}
	}
	return h, upper, true
}
