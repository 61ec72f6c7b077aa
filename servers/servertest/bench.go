package servertest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// StartTB is Start for code shared by tests and benchmarks.
type StartTB func(tb testing.TB, confPath string) (addr string)

// BenchConnections is how many keep-alive connections BenchmarkStatic
// drives at once, as wrk -c100 does.
const BenchConnections = 100

// BenchOptions change what BenchmarkStatic serves.
type BenchOptions struct {
	// HTTP holds extra lines for the http block, such as
	// "open_file_cache max=1000 inactive=20s;".
	HTTP string
	// TLS serves the file over TLS ("listen ... ssl", a certificate
	// from Certs): every connection makes its handshake (TLS 1.3,
	// ECDSA P-256) before the timer starts.
	TLS bool
}

// OpenFileCache is the open_file_cache setting of scripts/bench-servers'
// "+ofc" rows, for BenchOptions.HTTP.
const OpenFileCache = "open_file_cache max=1000 inactive=20s; open_file_cache_valid 60s;"

// BenchmarkStatic measures a core serving a 1 KB static file over
// BenchConnections keep-alive connections from the same process, and
// reports requests per second. Client and server share the CPUs, so the
// figure compares cores run the same way, not a core against wrk's.
// At most one BenchOptions applies.
func BenchmarkStatic(b *testing.B, start StartTB, opts ...BenchOptions) {
	var o BenchOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	dir := b.TempDir()
	root := filepath.Join(dir, "html")
	if err := os.Mkdir(root, 0o755); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KB
	if err := os.WriteFile(filepath.Join(root, "1k.txt"), body, 0o644); err != nil {
		b.Fatal(err)
	}
	listen := "listen 127.0.0.1:0 default_server;"
	var tlsCfg *tls.Config
	if o.TLS {
		certs, err := NewCerts(dir)
		if err != nil {
			b.Fatal(err)
		}
		cert, key, err := certs.Issue("bench", "bench")
		if err != nil {
			b.Fatal(err)
		}
		listen = fmt.Sprintf("listen 127.0.0.1:0 ssl default_server; ssl_certificate %s; ssl_certificate_key %s;", cert, key)
		tlsCfg = certs.ClientConfig("bench")
	}
	conf := filepath.Join(dir, "nginx.conf")
	text := fmt.Sprintf(`worker_processes 1;
events { worker_connections 4096; }
http {
    sendfile on;
    access_log off;
    keepalive_requests 1000000000; # the client does not reconnect
    %s
    server {
        %s
        root %s;
    }
}
`, o.HTTP, listen, root)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	addr := start(b, conf)

	req := []byte("GET /1k.txt HTTP/1.1\r\nHost: bench\r\n\r\n")
	var failed atomic.Value
	par := (BenchConnections + 1) / 2
	b.SetParallelism(par) // × GOMAXPROCS (2 here) goroutines
	// The connections (and their TLS handshakes) are made before the
	// timer: the figure is the requests'.
	pool := make(chan *benchConn, par*runtime.GOMAXPROCS(0))
	for range cap(pool) {
		c, err := newBenchConn(addr, req, tlsCfg)
		if err != nil {
			b.Fatal(err)
		}
		pool <- c
	}
	b.ReportAllocs()
	b.ResetTimer()
	begin := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var c *benchConn
		select {
		case c = <-pool:
		default:
			var err error
			if c, err = newBenchConn(addr, req, tlsCfg); err != nil {
				failed.Store(err)
				for pb.Next() { // RunParallel wants the loop drained; the error is reported below
				}
				return
			}
		}
		defer c.nc.Close()
		for pb.Next() {
			if err := c.roundTrip(); err != nil {
				failed.Store(err)
				for pb.Next() {
				}
				return
			}
		}
	})
	elapsed := time.Since(begin)
	b.StopTimer()
	close(pool)
	for c := range pool { // those RunParallel did not take
		c.nc.Close()
	}
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

// benchConn is a lean keep-alive client for one fixed request whose
// response has a Content-Length.
type benchConn struct {
	nc  net.Conn
	br  *bufio.Reader
	req []byte
}

// newBenchConn connects to addr, over TLS with cfg unless it is nil.
func newBenchConn(addr string, req []byte, cfg *tls.Config) (*benchConn, error) {
	var nc net.Conn
	var err error
	if cfg != nil {
		nc, err = tlsDial(addr, cfg)
	} else {
		nc, err = net.DialTimeout("tcp", addr, IOTimeout)
	}
	if err != nil {
		return nil, err
	}
	return &benchConn{nc: nc, br: bufio.NewReaderSize(nc, 8192), req: req}, nil
}

var contentLength = []byte("content-length:")

// roundTrip sends the request and reads one 200 response with its body.
func (c *benchConn) roundTrip() error {
	if err := c.nc.SetDeadline(time.Now().Add(IOTimeout)); err != nil {
		return err
	}
	if _, err := c.nc.Write(c.req); err != nil {
		return err
	}
	n := int64(-1)
	status := true
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read response head: %w", err)
		}
		if status {
			if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
				return fmt.Errorf("unexpected status line %q", line)
			}
			status = false
			continue
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			n, err = strconv.ParseInt(string(bytes.TrimSpace(line[len(contentLength):])), 10, 64)
			if err != nil {
				return fmt.Errorf("bad Content-Length %q", line)
			}
		}
	}
	if n < 0 {
		return fmt.Errorf("response without Content-Length")
	}
	_, err := c.br.Discard(int(n))
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
