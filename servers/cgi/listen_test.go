package cgi

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
)

// TestListenOptions: listen's reuseport reaches the socket, as on the
// other cores (coreio.Listen).
func TestListenOptions(t *testing.T) {
	for _, tc := range []struct {
		listen    string
		reusePort int
	}{
		{"127.0.0.1:0", 0},
		{"127.0.0.1:0 reuseport backlog=16", 1},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "nginx.conf")
			conf := "events {}\nhttp { server { listen " + tc.listen + "; return 204; } }\n"
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			e, err := engine.New(cfg, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(e, Options{ChildPath: "/bin/false"})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Listen(); err != nil {
				t.Fatal(err)
			}
			defer s.lns[0].Close()
			rc, err := s.lns[0].(*net.TCPListener).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			got := -1
			rc.Control(func(fd uintptr) { got, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT) })
			if err != nil || got != tc.reusePort {
				t.Errorf("SO_REUSEPORT = %d (%v), want %d", got, err, tc.reusePort)
			}
		})
	}
}
