package config

import (
	"errors"
	"net/netip"
	"os"
	"reflect"
	"testing"
	"testing/fstest"
)

// fakeHosts is the DNS of the package's tests: no test queries a real
// resolver.
var fakeHosts = map[string][]netip.Addr{
	"app.internal": {netip.MustParseAddr("10.0.0.5")},
	"multi.internal": {
		netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("::ffff:10.0.0.1"), // the same address, mapped: one peer
		netip.MustParseAddr("2001:db8::1"),
	},
}

var errNoHost = errors.New("no such host")

func fakeLookup(host string) ([]netip.Addr, error) {
	if a, ok := fakeHosts[host]; ok {
		return a, nil
	}
	return nil, errNoHost
}

func TestMain(m *testing.M) {
	defaultLookup = fakeLookup
	os.Exit(m.Run())
}

func TestResolve(t *testing.T) {
	src := `http {
    upstream u {
        server multi.internal:8080 weight=3;
        server app.internal backup;
        server localhost:81;
        server [::1]:82;
    }
    server {
        location /a/ { proxy_pass http://multi.internal; }
        location /b/ { proxy_pass http://app.internal:9000/x/; }
        location /c/ { proxy_pass http://u; }
    }
}`
	var asked []string
	opts := Options{LookupHost: func(host string) ([]netip.Addr, error) {
		asked = append(asked, host)
		return fakeLookup(host)
	}}
	cfg, err := opts.LoadFS(fstest.MapFS{"site.conf": {Data: []byte(src)}}, "site.conf")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, s := range cfg.HTTP.Upstreams["u"].Servers {
		got = append(got, s.Addrs)
	}
	want := [][]string{{"10.0.0.1:8080", "[2001:db8::1]:8080"}, {"10.0.0.5:80"}, {"127.0.0.1:81"}, {"[::1]:82"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("upstream addrs %q, want %q", got, want)
	}
	locs := cfg.HTTP.Servers[0].Locations
	if got, want := locs[0].ProxyPass.Addrs, []string{"10.0.0.1:80", "[2001:db8::1]:80"}; !reflect.DeepEqual(got, want) {
		t.Errorf("proxy_pass multi: %q, want %q", got, want)
	}
	if got, want := locs[1].ProxyPass.Addrs, []string{"10.0.0.5:9000"}; !reflect.DeepEqual(got, want) {
		t.Errorf("proxy_pass app: %q, want %q", got, want)
	}
	if locs[2].ProxyPass.Addrs != nil {
		t.Errorf("proxy_pass to an upstream: Addrs %q", locs[2].ProxyPass.Addrs)
	}
	if want := []string{"multi.internal", "app.internal", "multi.internal", "app.internal"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("looked up %q, want %q (no lookup for IPs and localhost)", asked, want)
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"upstream server", "http {\nupstream u {\nserver nosuch.internal:8080;\n}\n}",
			`site.conf:3: host not found in upstream "nosuch.internal:8080" in "server" directive`},
		{"upstream server no port", "http {\nupstream u {\nserver nosuch.internal;\n}\n}",
			`site.conf:3: host not found in upstream "nosuch.internal" in "server" directive`},
		{"proxy_pass with port", srv("location / {", "proxy_pass http://nosuch.internal:81;", "}"),
			`site.conf:4: host not found in upstream "nosuch.internal:81" in "proxy_pass" directive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantLoadError(t, siteFS(tt.src), tt.want)
		})
	}
}
