package coreio

import (
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Resolve turns "host:port" into a socket address. An empty host, "*" or
// "0.0.0.0" means all IPv4 addresses, "[::]" all IPv6 addresses; other
// names are looked up.
func Resolve(addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if host == "" || host == "*" {
		host = "0.0.0.0"
	}
	if ap, err := netip.ParseAddrPort(net.JoinHostPort(host, port)); err == nil {
		return ap, nil
	}
	ta, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return netip.AddrPort{}, err
	}
	return ta.AddrPort(), nil
}

// Sockaddr returns the socket address of ap and its address family; an
// IPv4-mapped IPv6 address is IPv4.
func Sockaddr(ap netip.AddrPort) (unix.Sockaddr, int) {
	a := ap.Addr()
	if a.Is4() || a.Is4In6() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.Unmap().As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}, unix.AF_INET6
}

// AddrPort returns the address of an IPv4 or IPv6 socket address, the
// zero AddrPort for any other.
func AddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// NetAddrs converts bound addresses for a Server's Addrs method.
func NetAddrs(aps []netip.AddrPort) []net.Addr {
	addrs := make([]net.Addr, 0, len(aps))
	for _, ap := range aps {
		addrs = append(addrs, net.TCPAddrFromAddrPort(ap))
	}
	return addrs
}
