package router

import (
	"errors"
	"net"
	"testing"
)

func fakeLookup(host string) ([]net.IP, error) {
	if host == "fuzz.test" {
		return []net.IP{net.IPv4(10, 0, 0, 1), net.IPv6loopback}, nil
	}
	return nil, errors.New("no such host")
}

// FuzzParseListen checks ParseListen on any input: no panic, and a
// success gives a valid address whose wildcard flag matches it. Host
// names go to a resolver that knows only "fuzz.test", so the fuzzer never
// queries DNS.
func FuzzParseListen(f *testing.F) {
	for _, s := range []string{"80", "*:80", ":80", "0", "1.2.3.4:80", "[::1]:80", "[::]:8080", "1.2.3.4", "localhost:80", "[::1]", "65536", "-1", "[::1", "[::1]x", "*:", "0.0.0.0:0", "::ffff:1.2.3.4", "fuzz.test:81", "[fuzz.test]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		ap, wild, err := parseListen(addr, fakeLookup)
		if err != nil {
			return
		}
		if !ap.IsValid() {
			t.Fatalf("ParseListen(%q) = invalid %v", addr, ap)
		}
		if wild != ap.Addr().IsUnspecified() {
			t.Fatalf("ParseListen(%q) = %v wildcard %v", addr, ap, wild)
		}
		if ap.Addr().Is4In6() {
			t.Fatalf("ParseListen(%q) = %v: mapped address not unmapped", addr, ap)
		}
	})
}
