package servertest

import (
	"errors"
	"io"
	"testing"
)

// testBrokenBody checks an upstream that fails in the middle of its
// response body (the backend's partial=1: the head with Content-Length,
// half the body, then close), with proxy_buffering on and off.
//
// Buffering on, nothing has reached the client when the failure shows:
// the attempt fails like one before the head, so the client gets a
// complete response from another peer or the error response (502), never
// the failed response's head, and a request pipelined behind it is
// answered on its own. Buffering off, the head went out with the first
// bytes, so the response cannot be fixed: the core must cut the
// connection, leaving the client fewer than Content-Length bytes (or no
// last chunk), as nginx does.
func testBrokenBody(t *testing.T, s *suite) {
	const target = "?size=100000&partial=1"
	cases := []struct {
		name, path string
		buffered   bool
	}{
		{"buffered-single-peer", "/echo/x", true},
		{"buffered-two-peers", "/app/x", true},
		{"unbuffered", "/unbuffered/x", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := s.dial(t)
			req := request("GET", tc.path+target, defaultHost) + request("GET", "/whoami", defaultHost)
			if err := c.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			r, err := c.ReadResponse("GET")
			if !tc.buffered {
				if err == nil {
					t.Fatalf("read a complete response, want the connection cut after part of the body:\n%s", r)
				}
				if r == nil || r.Status != 200 {
					t.Fatalf("want the upstream's 200 head then a cut body, got %v (%v)", r, err)
				}
				if !errors.Is(err, io.ErrUnexpectedEOF) && !isClosed(err) {
					t.Errorf("body ended with %v, want the connection closed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("want a complete response (another peer's, or 502): %v", err)
			}
			switch r.Status {
			case 502:
			case 200:
				if len(r.Body) != 100000 {
					t.Fatalf("200 with %d body bytes, want 100000 or a 502", len(r.Body))
				}
			default:
				t.Fatalf("status %d, want 502 (or a complete 200 from another peer):\n%s", r.Status, r)
			}
			// The pipelined request: answered on its own, or the
			// connection closed after the error response.
			r2, err := c.ReadResponse("GET")
			if err != nil {
				if r.Has("Connection") && r.HasToken("Connection", "close") {
					return
				}
				t.Fatalf("the request pipelined after it: %v (the first response did not say Connection: close)", err)
			}
			if r2.Status != 200 || string(r2.Body) != "default" {
				t.Errorf("the request pipelined after it got:\n%s\nwant 200 \"default\"", r2)
			}
		})
	}
}
