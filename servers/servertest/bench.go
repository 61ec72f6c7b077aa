package servertest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
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
	conf := filepath.Join(dir, "nginx.conf")
	text := fmt.Sprintf(`worker_processes 1;
events { worker_connections 4096; }
http {
    sendfile on;
    access_log off;
    keepalive_requests 1000000000; # the client does not reconnect
    %s
    server {
        listen 127.0.0.1:0 default_server;
        root %s;
    }
}
`, o.HTTP, root)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	addr := start(b, conf)

	req := []byte("GET /1k.txt HTTP/1.1\r\nHost: bench\r\n\r\n")
	var failed atomic.Value
	b.SetParallelism((BenchConnections + 1) / 2) // × GOMAXPROCS (2 here) goroutines
	b.ReportAllocs()
	b.ResetTimer()
	begin := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c, err := newBenchConn(addr, req)
		if err != nil {
			failed.Store(err)
			for pb.Next() { // RunParallel wants the loop drained; the error is reported below
			}
			return
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

func newBenchConn(addr string, req []byte) (*benchConn, error) {
	nc, err := net.DialTimeout("tcp", addr, IOTimeout)
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
