package http1

import (
	"fmt"
	"testing"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		head bool
		// want is "err <status>" or the framing: status nobody/chunked/cl=N/close ka
		want string
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, "200 OK cl=5 ka"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, "200 OK chunked ka"},
		{"until close", "HTTP/1.1 200 OK\r\n\r\n", false, "200 OK close"},
		{"1.1 close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, "200 OK cl=0"},
		{"1.0 length", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, "200 OK cl=1"},
		{"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", false, "200 OK cl=1 ka"},
		{"1.0 chunked not reused", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", false, "200 OK chunked"},
		{"head", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, "200 OK nobody cl=5 ka"},
		{"head chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, "200 OK nobody ka"},
		{"head no length", "HTTP/1.1 200 OK\r\n\r\n", true, "200 OK nobody ka"},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", false, "204 No Content nobody ka"},
		{"304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, "304 Not Modified nobody cl=9 ka"},
		{"100", "HTTP/1.1 100 Continue\r\n\r\n", false, "100 Continue nobody ka interim"},
		{"103", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", false, "103 Early Hints nobody ka interim"},
		{"101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", false, "101 Switching Protocols nobody ka"},
		{"no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false, "200  cl=0 ka"},
		{"empty reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", false, "404  cl=0 ka"},
		{"599", "HTTP/1.1 599 Whatever it is\r\n\r\n", false, "599 Whatever it is close"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", false, "200 OK cl=0 ka"},

		{"http/2", "HTTP/2.0 200 OK\r\n\r\n", false, "err 502"},
		{"bad version", "HTTP/1.x 200 OK\r\n\r\n", false, "err 502"},
		{"short status", "HTTP/1.1 20 OK\r\n\r\n", false, "err 502"},
		{"status 099", "HTTP/1.1 099 OK\r\n\r\n", false, "err 502"},
		{"status letters", "HTTP/1.1 2OO OK\r\n\r\n", false, "err 502"},
		{"status no space", "HTTP/1.1 200OK\r\n\r\n", false, "err 502"},
		{"reason control", "HTTP/1.1 200 O\x01K\r\n\r\n", false, "err 502"},
		{"garbage", "<html>\r\n\r\n", false, "err 502"},
		{"cl and te", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", false, "err 502"},
		{"te gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, "err 502"},
		{"duplicate cl", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", false, "err 502"},
		{"bad cl", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, "err 502"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", false, "err 502"},
		{"bare CR", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", false, "err 502"},
		{"space before colon", "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", false, "err 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parser
			var r Response
			n, err := p.ParseResponse([]byte(tt.in), &r, tt.head)
			if got := describeResponse(n, err, &r); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if err == nil && n != len(tt.in) {
				t.Fatalf("n = %d, want %d", n, len(tt.in))
			}
			// Byte by byte.
			var q Parser
			buf := make([]byte, 0, len(tt.in))
			for i := 0; i < len(tt.in); i++ {
				buf = append(buf, tt.in[i])
				n, err = q.ParseResponse(buf, &r, tt.head)
				if err != ErrIncomplete {
					break
				}
			}
			if got := describeResponse(n, err, &r); got != tt.want {
				t.Fatalf("bytewise: got %q, want %q", got, tt.want)
			}
		})
	}
}

func describeResponse(n int, err error, r *Response) string {
	if err != nil {
		return fmt.Sprintf("err %d", StatusOf(err))
	}
	s := fmt.Sprintf("%d %s", r.Status, r.Reason)
	if r.NoBody {
		s += " nobody"
	}
	if r.Chunked {
		s += " chunked"
	}
	if r.ContentLength >= 0 {
		s += fmt.Sprintf(" cl=%d", r.ContentLength)
	}
	if r.UntilClose {
		s += " close"
	}
	if r.KeepAlive {
		s += " ka"
	}
	if r.Interim() {
		s += " interim"
	}
	return s
}

func TestParseResponseInterim(t *testing.T) {
	in := []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
	var p Parser
	var r Response
	var b Body
	for {
		n, err := p.ParseResponse(in, &r, false)
		if err != nil {
			t.Fatal(err)
		}
		in = in[n:]
		if !r.Interim() {
			break
		}
	}
	r.InitBody(&b)
	data, n, err := b.Decode(in)
	if err != nil || string(data) != "hi" || n != 2 || !b.Done() || r.Status != 200 {
		t.Fatalf("data=%q n=%d err=%v done=%v status=%d", data, n, err, b.Done(), r.Status)
	}
}
