package config

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Options are the knobs of loading a config.
type Options struct {
	// LookupHost returns the addresses of a host name in an upstream
	// "server" or a proxy_pass, resolved once at load as nginx does
	// (nil: the system resolver, /etc/hosts included). Tests inject
	// one so that nothing depends on DNS. IP literals and "localhost"
	// (always 127.0.0.1, as in listen) are not looked up.
	LookupHost func(host string) ([]netip.Addr, error)
}

// Load is the package's Load with o's options.
func (o Options) Load(name string) (*Config, error) {
	src, err := readFile(name)
	if err != nil {
		return nil, err
	}
	return o.Parse(name, src)
}

// LoadFS is the package's LoadFS with o's options.
func (o Options) LoadFS(fsys fs.FS, name string) (*Config, error) {
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	prefix := path.Dir(name)
	return parse(name, src, fsSource{fsys, prefix}, prefix, path.Join, o)
}

// Parse is the package's Parse with o's options.
func (o Options) Parse(name string, src []byte) (*Config, error) {
	dir := filepath.Dir(name)
	prefix := dir
	if abs, err := filepath.Abs(dir); err == nil {
		prefix = abs
	}
	return parse(name, src, diskSource{dir}, prefix, filepath.Join, o)
}

// lookupTimeout bounds one system lookup at load.
const lookupTimeout = 30 * time.Second

// defaultLookup is the LookupHost of a nil Options.LookupHost; the
// package's tests replace it so that they never query DNS.
var defaultLookup = systemLookup

func systemLookup(host string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// resolve returns host:port as "ip:port" addresses, one per distinct
// address of host, in the resolver's order. ok is false when host has
// none.
func (p *parser) resolve(host, port string) (addrs []string, ok bool) {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		return []string{joinHostPort(a, port)}, true
	}
	if strings.EqualFold(host, "localhost") {
		return []string{"127.0.0.1:" + port}, true
	}
	lookup := p.opts.LookupHost
	if lookup == nil {
		lookup = defaultLookup
	}
	ips, err := lookup(host)
	if err != nil || len(ips) == 0 {
		return nil, false
	}
	seen := make(map[netip.Addr]bool, len(ips))
	for _, a := range ips {
		a = a.Unmap().WithZone("")
		if !seen[a] {
			seen[a] = true
			addrs = append(addrs, joinHostPort(a, port))
		}
	}
	return addrs, true
}

func joinHostPort(a netip.Addr, port string) string {
	return net.JoinHostPort(a.Unmap().String(), port)
}
