package coreio

import (
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/upstream"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"*:80", "0.0.0.0:80"},
		{":8080", "0.0.0.0:8080"},
		{"127.0.0.1:81", "127.0.0.1:81"},
		{"[::1]:82", "[::1]:82"},
	} {
		got, err := Resolve(tc.in)
		if err != nil || got != netip.MustParseAddrPort(tc.want) {
			t.Errorf("Resolve(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestListenAddr(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		wantErr bool
	}{
		{"127.0.0.1:0", false},
		{"[::1]:0", false},
		{"127.0.0.1", true},
		{"256.0.0.1:80", true},
	} {
		fd, ap, err := ListenAddr(tc.addr, 16, true)
		if (err != nil) != tc.wantErr {
			if tc.addr == "[::1]:0" && err != nil {
				t.Logf("no IPv6 loopback: %v", err)
				continue
			}
			t.Errorf("ListenAddr(%q) error = %v, want error %v", tc.addr, err, tc.wantErr)
		}
		if err == nil {
			if ap.Port() == 0 {
				t.Errorf("ListenAddr(%q) bound port 0", tc.addr)
			}
			unix.Close(fd)
		}
	}
}

func TestListenInUse(t *testing.T) {
	fd, ap, err := ListenAddr("127.0.0.1:0", 16, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	_, _, err = Listen(ap, 16, false)
	if !errors.Is(err, unix.EADDRINUSE) || !strings.Contains(err.Error(), ap.String()) {
		t.Fatalf("second bind = %v, want EADDRINUSE naming %s", err, ap)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want upstream.Failure
	}{
		{ErrTimeout, upstream.FailTimeout},
		{unix.ETIMEDOUT, upstream.FailTimeout},
		{unix.ECONNREFUSED, upstream.FailError},
		{unix.ECONNRESET, upstream.FailError},
		{ErrClosed, upstream.FailError},
		{ErrInvalidHead, upstream.FailInvalidHeader},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestUpstreamError(t *testing.T) {
	for _, tc := range []struct {
		err   error
		stage engine.Stage
		want  string // "" for nil
	}{
		{ErrTimeout, engine.StageConnect, ""},
		{ErrClosed, engine.StageRead, ""},
		{ErrInvalidHead, engine.StageReadHeader, ""},
		{unix.ECONNREFUSED, engine.StageConnect, "connect() failed (111: "},
		{unix.EPIPE, engine.StageSend, "writev() failed (32: "},
		{unix.ECONNRESET, engine.StageRead, "recv() failed (104: "},
		{io.ErrUnexpectedEOF, engine.StageRead, "unexpected EOF"},
	} {
		got := UpstreamError(tc.err, tc.stage)
		if tc.want == "" && got != nil || tc.want != "" && (got == nil || !strings.HasPrefix(got.Error(), tc.want)) {
			t.Errorf("UpstreamError(%v, %v) = %v, want %q", tc.err, tc.stage, got, tc.want)
		}
	}
}

func TestStale(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{ErrClosed, true},
		{unix.ECONNRESET, true},
		{unix.EPIPE, true},
		{ErrTimeout, false},
		{ErrInvalidHead, false},
	} {
		if got := Stale(tc.err); got != tc.want {
			t.Errorf("Stale(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestAppendHead checks that the framing of an unknown length and the
// plan's keep-alive follow http1.ResponseHead.
func TestAppendHead(t *testing.T) {
	for _, tc := range []struct {
		name      string
		minor     int
		status    int
		headOnly  bool
		cl        int64
		chunked   bool
		keepAlive bool
	}{
		{"length", 1, 200, false, 5, false, true},
		{"unknown 1.1", 1, 200, false, -1, true, true},
		{"unknown 1.0", 0, 200, false, -1, false, false},
		{"unknown 1.0 HEAD", 0, 200, true, -1, false, true},
		{"unknown 1.1 204", 1, 204, false, -1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &engine.Plan{Status: tc.status, KeepAlive: true, HeadOnly: tc.headOnly}
			req := &http1.Request{Major: 1, Minor: tc.minor}
			head, chunked := AppendHead(nil, p, req, tc.cl, nil, "c10k")
			if chunked != tc.chunked || p.KeepAlive != tc.keepAlive {
				t.Errorf("chunked %v, KeepAlive %v; want %v, %v\n%s", chunked, p.KeepAlive, tc.chunked, tc.keepAlive, head)
			}
			if got := strings.Contains(string(head), "Transfer-Encoding: chunked"); got != tc.chunked {
				t.Errorf("head announces chunked %v, want %v\n%s", got, tc.chunked, head)
			}
		})
	}
}

func TestHeadLimits(t *testing.T) {
	_, max := HeadLimits(engine.Listener{})
	if want := 1<<10 + 4*8<<10; max != want {
		t.Errorf("HeadLimits of defaults: max %d, want %d", max, want)
	}
	if got := HeaderTimeout(engine.Listener{}); got != DefaultHeaderTimeout {
		t.Errorf("HeaderTimeout of defaults = %v, want %v", got, DefaultHeaderTimeout)
	}
}
