package cgi_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/internal/proctest"
	"github.com/c10k/c10k/servers/servertest"
)

// TestClientHangupEndsChild: a client that hangs up while its c10k
// child waits for a silent upstream ends that child (SIGTERM, reaped),
// and the upstream connection closes, as a cgi_pass program is ended;
// over TLS too, where the child writes to a relay's socketpair and the
// hang-up is seen on the client's own socket.
func TestClientHangupEndsChild(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"plain", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) { testClientHangup(t, tc.tls) })
	}
}

func testClientHangup(t *testing.T, overTLS bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	listen := "listen 127.0.0.1:0;"
	var certs *servertest.Certs
	if overTLS {
		certs = servertest.TestCerts(t)
		cert, key, err := certs.Issue("x", "x.test")
		if err != nil {
			t.Fatal(err)
		}
		listen = fmt.Sprintf("listen 127.0.0.1:0 ssl; ssl_certificate %s; ssl_certificate_key %s;", cert, key)
	}
	conf := fmt.Sprintf(`events {}
http {
    access_log off;
    server {
        %s
        location / { proxy_pass http://%s; proxy_read_timeout 60s; }
    }
}
`, listen, ln.Addr())
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := startCGI(t, confPath)

	var c *servertest.Conn
	if overTLS {
		d := &net.Dialer{Timeout: servertest.IOTimeout}
		tc, err := tls.DialWithDialer(d, "tcp", addr, certs.ClientConfig("x.test"))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c = servertest.NewConn(tc)
	} else if c, err = servertest.Dial(addr); err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if err := c.Write([]byte("GET /silent HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	up, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	defer up.Close()
	// The request arriving upstream means the child is running: the
	// parent connects, the child sends.
	up.SetReadDeadline(time.Now().Add(10 * time.Second))
	var head []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(head, []byte("\r\n\r\n")) {
		n, err := up.Read(buf)
		if err != nil {
			t.Fatalf("upstream read of the request: %v (got %q)", err, head)
		}
		head = append(head, buf[:n]...)
	}
	kids := children(t)
	if len(kids) == 0 {
		t.Fatal("no child process while the proxy exchange runs")
	}
	c.Close()

	// Both copies of the upstream socket close: the child's as it
	// ends, the parent's as it gives up on the exchange.
	if n, err := up.Read(buf); err != io.EOF {
		t.Fatalf("upstream read after the client left: %d bytes, %v; want EOF", n, err)
	}
	end := time.Now().Add(10 * time.Second)
	for _, pid := range kids {
		for exists(pid) {
			if time.Now().After(end) {
				t.Fatalf("child %d still exists after the client left", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// children returns the PIDs of this process's children.
func children(t *testing.T) []int {
	t.Helper()
	kids, err := proctest.Children()
	if err != nil {
		t.Skip("no /proc:", err)
	}
	pids := make([]int, len(kids))
	for i, k := range kids {
		pids[i] = k.PID
	}
	return pids
}

// exists reports whether pid is still a process (running or not yet
// reaped).
func exists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
