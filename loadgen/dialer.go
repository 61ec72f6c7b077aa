package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Dialer opens TCP connections spread round-robin over source addresses,
// and TLS ones over them when TLS is set.
// Each socket is bound to its source address before connect with
// SO_REUSEADDR and IP_BIND_ADDRESS_NO_PORT, so the kernel picks the port
// at connect time from the whole ephemeral range per (source,
// destination) pair: N source addresses give N times the ports of one.
type Dialer struct {
	// Sources are the local addresses to spread over; empty lets the
	// kernel choose (one address, one ephemeral range).
	Sources []netip.Addr
	// Timeout bounds each connect; zero means the context's deadline only.
	Timeout time.Duration
	// TLS, when set, makes every connection a TLS client of this
	// configuration: DialContext returns it past the handshake. Each
	// handshake is counted in stats (Run sets them).
	TLS   *tls.Config
	stats *tlsStats

	next atomic.Uint64
}

// DialContext connects to addr ("host:port") from the next source
// address and, with TLS set, shakes hands within ctx.
func (d *Dialer) DialContext(ctx context.Context, addr string) (net.Conn, error) {
	c, err := d.dialTCP(ctx, addr)
	if err != nil || d.TLS == nil {
		return c, err
	}
	t0 := time.Now()
	tc := tls.Client(c, d.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		if !errors.Is(ctx.Err(), context.Canceled) {
			d.stats.fail() // a run that ends cuts handshakes short: not a failure
		}
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	d.stats.record(time.Since(t0), tc.ConnectionState())
	return tc, nil
}

// dialTCP connects to addr from the next source address.
func (d *Dialer) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.Timeout, Control: control}
	var src netip.Addr
	if len(d.Sources) > 0 {
		src = d.Sources[(d.next.Add(1)-1)%uint64(len(d.Sources))]
		nd.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
	}
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		if src.IsValid() {
			return nil, fmt.Errorf("dial %s from %s: %w", addr, src, err)
		}
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}

// control sets the socket options before bind and connect.
func control(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
			return
		}
		// Linux 4.2+: defer the port choice to connect(2). Older kernels
		// refuse the option; binding then still works, with fewer ports.
		unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// nextSource returns the next source address, or the zero Addr when d
// has none.
func (d *Dialer) nextSource() netip.Addr {
	if d == nil || len(d.Sources) == 0 {
		return netip.Addr{}
	}
	return d.Sources[(d.next.Add(1)-1)%uint64(len(d.Sources))]
}
