package thread

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/internal/coreio"
	"github.com/c10k/c10k/servers/upstream"
)

// rawPair returns a blocking raw fd (server side, as accept4 gives the
// workers) connected to a net.Conn client over 127.0.0.1.
func rawPair(t *testing.T) (int, net.Conn) {
	t.Helper()
	fd, ap, err := coreio.ListenAddr("127.0.0.1:0", 8, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	c, err := net.Dial("tcp", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if _, err := unix.Poll(pfd, 5000); err != nil {
		t.Fatal(err)
	}
	nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(nfd) })
	return nfd, c
}

func TestSendfile(t *testing.T) {
	data := make([]byte, 1<<20+123)
	rand.Read(data)
	name := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		off, n   int64
		fallback bool
	}{
		{"whole", 0, int64(len(data)), false},
		{"region", 4096, 300000, false},
		{"fallback", 7, int64(len(data)) - 7, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fd, c := rawPair(t)
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s := sock{fd: fd}
			s.setWriteTimeout(5 * time.Second)
			errc := make(chan error, 1)
			go func() {
				if tc.fallback {
					errc <- s.copyFile(f, tc.off, tc.n, make([]byte, 8192))
				} else {
					errc <- s.sendfile(f, tc.off, tc.n, nil)
				}
				unix.Shutdown(fd, unix.SHUT_WR)
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got) != sha256.Sum256(data[tc.off:tc.off+tc.n]) {
				t.Fatalf("received %d bytes, content differs", len(got))
			}
		})
	}
}

func TestReadTimeout(t *testing.T) {
	fd, c := rawPair(t)
	s := sock{fd: fd}
	s.setReadTimeout(50 * time.Millisecond)
	if _, err := s.read(make([]byte, 10)); err != coreio.ErrTimeout {
		t.Fatalf("read with nothing sent = %v, want coreio.ErrTimeout", err)
	}
	c.Write([]byte("abc"))
	buf := make([]byte, 10)
	n, err := s.read(buf)
	if err != nil || string(buf[:n]) != "abc" {
		t.Fatalf("read = %q, %v", buf[:n], err)
	}
	c.Close()
	if _, err := s.read(buf); err != coreio.ErrClosed {
		t.Fatalf("read after close = %v, want coreio.ErrClosed", err)
	}
}

func TestWritev2(t *testing.T) {
	fd, c := rawPair(t)
	s := sock{fd: fd}
	a := bytes.Repeat([]byte("a"), 3<<20) // larger than the socket buffer: partial writes
	b := bytes.Repeat([]byte("b"), 1<<20)
	var iov [2]unix.Iovec
	errc := make(chan error, 1)
	go func() { errc <- s.writev2(&iov, a, b); unix.Shutdown(fd, unix.SHUT_WR) }()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(a, b...)) {
		t.Fatalf("writev2 delivered %d bytes, not a then b", len(got))
	}
}

func TestDialRefused(t *testing.T) {
	fd, ap, err := coreio.ListenAddr("127.0.0.1:0", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd) // nothing listens there now
	_, err = dial(ap, time.Second)
	if !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("dial closed port = %v, want ECONNREFUSED", err)
	}
	if coreio.Classify(err) != upstream.FailError {
		t.Fatalf("coreio.Classify(%v) = %v, want FailError", err, coreio.Classify(err))
	}
}

func TestLingeringClose(t *testing.T) {
	fd, c := rawPair(t)
	// The client sent more than the server read: a plain close would
	// answer with RST and could destroy the response in flight.
	c.Write(bytes.Repeat([]byte("x"), 100000))
	s := sock{fd: fd}
	s.write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	dup, _ := unix.Dup(fd)
	go lingeringClose(dup, make([]byte, 4096), time.Second)
	unix.Shutdown(fd, unix.SHUT_WR)
	got, err := io.ReadAll(c)
	if err != nil || !bytes.HasPrefix(got, []byte("HTTP/1.1 400")) {
		t.Fatalf("client read %q, %v", got, err)
	}
}
