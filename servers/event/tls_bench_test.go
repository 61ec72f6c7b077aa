package event_test

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/event"
)

// BenchmarkTLSIdleRSS is BenchmarkIdleRSS over TLS: 5,000 connections
// each make a full handshake (TLS 1.3, ECDSA P-256) and one request,
// then sit idle. Besides bytes/idle-conn it reports the server
// process's goroutines with them open (goroutines, goroutines-added:
// none per connection) and how fast they opened (conns/s, the client's
// handshakes included: both ends share the CPUs).
func BenchmarkTLSIdleRSS(b *testing.B) {
	const conns = 5000
	ssl, cfg := sslSite(b)
	st := newSite(b, siteOptions{workerConnections: conns + 100, ssl: ssl})
	req := []byte("GET /1k.txt HTTP/1.1\r\nHost: a\r\n\r\n")
	benchIdle(b, st.conf, conns, func(addr string) (net.Conn, error) {
		nc, err := net.DialTimeout("tcp", addr, waitBudget)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(nc, cfg)
		if err := getOnce(tc, req); err != nil {
			nc.Close()
			return nil, err
		}
		return tc, nil
	})
}

// BenchmarkTLSStatic1K is BenchmarkStatic1K over TLS: 100 keep-alive
// TLS connections (handshakes before the timer) get a 1 KiB file, read
// with pread(2) and encrypted on the loop.
func BenchmarkTLSStatic1K(b *testing.B) {
	ssl, cfg := sslSite(b)
	st := newSite(b, siteOptions{keepaliveRequests: 1 << 30, ssl: ssl})
	benchStatic(b, st.conf, func(addr string) *client { return dialTLS(b, addr, cfg) })
}

// BenchmarkTLSHandshake measures handshakes per second on one loop:
// 16 clients in this process connect, handshake and close, full
// handshakes (no session cache) or resumed ones (TLS 1.3 tickets). The
// clients' share of the CPU is included: on a small machine the figure
// is the pair's, not the server's alone; cpu-µs/handshake (the
// process's CPU time per handshake, both ends) is steadier than the
// rate on a shared machine. The "gotls" cases are the
// baseline: crypto/tls with a goroutine per connection (tls.Listen),
// same certificate, same clients.
func BenchmarkTLSHandshake(b *testing.B) {
	for _, tc := range []struct {
		name          string
		resume, gotls bool
	}{
		{"event/full", false, false},
		{"event/resumed", true, false},
		{"gotls/full", false, true},
	} {
		resume := tc.resume
		b.Run(tc.name, func(b *testing.B) {
			ssl, cfg := sslSite(b)
			st := newSite(b, siteOptions{ssl: ssl, workerConnections: 4096})
			s := newServerTB(b, st.conf, event.Options{Loops: 1})
			ctx, cancel := context.WithCancel(context.Background())
			var g errgroup.Group
			g.Go(func() error { return s.Serve(ctx) })
			defer func() { cancel(); g.Wait() }()
			addr := s.Addrs()[0].String()
			if tc.gotls {
				addr = goTLSServer(b, s)
			}
			req := []byte("GET /1k.txt HTTP/1.1\r\nHost: a\r\n\r\n")

			const clients = 16
			cfgs := make([]*tls.Config, clients)
			for i := range cfgs {
				cfgs[i] = cfg.Clone()
				if resume {
					cfgs[i].ClientSessionCache = tls.NewLRUClientSessionCache(1)
					// A ticket arrives with the first response.
					nc, err := net.DialTimeout("tcp", addr, waitBudget)
					if err != nil {
						b.Fatal(err)
					}
					if err := getOnce(tls.Client(nc, cfgs[i]), req); err != nil && !tc.gotls {
						b.Fatal(err)
					}
					nc.Close()
				}
			}
			var left atomic.Int64
			left.Store(int64(b.N))
			var failed atomic.Value
			var peak atomic.Int64
			b.ResetTimer()
			cpu0 := cpuTime()
			start := time.Now()
			var wg sync.WaitGroup
			for i := range clients {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						nc, err := net.DialTimeout("tcp", addr, waitBudget)
						if err != nil {
							failed.Store(err)
							return
						}
						tc := tls.Client(nc, cfgs[i])
						tc.SetDeadline(time.Now().Add(waitBudget))
						err = tc.Handshake()
						if h := int64(s.Stats().Handshaking); h > peak.Load() {
							peak.Store(h)
						}
						nc.Close()
						if err != nil {
							failed.Store(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			cpu := cpuTime() - cpu0
			b.StopTimer()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "handshakes/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/handshake")
			b.ReportMetric(float64(peak.Load()), "peak-handshaking")
		})
	}
}

// goTLSServer serves handshakes with crypto/tls, a goroutine per
// connection, with the TLS configuration the event server s's engine
// built, until b ends; it returns the address.
func goTLSServer(b *testing.B, s *event.Server) string {
	cfg := event.TLSConfigOf(s)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		b.Fatal(err)
	}
	var g errgroup.Group
	g.Go(func() error {
		for {
			c, err := ln.Accept()
			if err != nil {
				return nil
			}
			g.Go(func() error {
				c.SetDeadline(time.Now().Add(waitBudget))
				c.(*tls.Conn).Handshake()
				c.Close()
				return nil
			})
		}
	})
	b.Cleanup(func() { ln.Close(); g.Wait() })
	return ln.Addr().String()
}

// cpuTime is the CPU time (user and system) this process used so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
