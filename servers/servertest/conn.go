package servertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// testKeepalive checks persistent connections as nginx keeps them:
// HTTP/1.1 stays open, HTTP/1.0 closes unless it asked for keep-alive,
// "Connection: close" closes after the response, and keepalive_requests
// closes the connection with its last allowed response.
func testKeepalive(t *testing.T, s *suite) {
	t.Run("http11-five-requests", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		for i := range 5 {
			r := roundTrip(t, c, "GET", request("GET", "/small.txt", defaultHost))
			if !wantStatus(t, r, 200) {
				return
			}
			wantBody(t, r, s.site.small)
			if r.HasToken("Connection", "close") {
				t.Fatalf("request %d: Connection: close on a keep-alive connection", i+1)
			}
		}
	})
	t.Run("http10-closes", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		r := roundTrip(t, c, "GET", requestProto("GET", "/page.html", "HTTP/1.0", defaultHost))
		if !wantStatus(t, r, 200) {
			return
		}
		wantBody(t, r, s.site.files["/page.html"])
		if r.Framing == FramingChunked {
			t.Error("chunked response to an HTTP/1.0 client")
		}
		if r.HasToken("Connection", "keep-alive") {
			t.Error("Connection: keep-alive in a response to HTTP/1.0 without keep-alive")
		}
		if err := c.ExpectClosed(); err != nil {
			t.Error(err)
		}
	})
	t.Run("http10-keepalive", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		for i := range 2 {
			r := roundTrip(t, c, "GET", requestProto("GET", "/page.html", "HTTP/1.0", defaultHost, "Connection: keep-alive"))
			if !wantStatus(t, r, 200) {
				return
			}
			if !r.HasToken("Connection", "keep-alive") {
				t.Fatalf("request %d: response to HTTP/1.0 keep-alive lacks Connection: keep-alive:\n%s", i+1, r)
			}
		}
	})
	t.Run("connection-close", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		r := roundTrip(t, c, "GET", request("GET", "/page.html", defaultHost, "Connection: close"))
		if !wantStatus(t, r, 200) {
			return
		}
		if !r.HasToken("Connection", "close") {
			t.Error("response to Connection: close lacks Connection: close")
		}
		if err := c.ExpectClosed(); err != nil {
			t.Error(err)
		}
	})
	t.Run("keepalive_requests", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		for i := 1; i <= keepaliveRequests; i++ {
			r := roundTrip(t, c, "GET", request("GET", "/small.txt", kaHost))
			if !wantStatus(t, r, 200) {
				return
			}
			closing := r.HasToken("Connection", "close")
			if i < keepaliveRequests && closing {
				t.Fatalf("response %d of %d has Connection: close", i, keepaliveRequests)
			}
			if i == keepaliveRequests && !closing {
				t.Errorf("response %d (keepalive_requests %d) lacks Connection: close", i, keepaliveRequests)
			}
		}
		if err := c.ExpectClosed(); err != nil {
			t.Error(err)
		}
	})
}

// testPipelining sends several requests in one write; the responses must
// come back complete and in order.
func testPipelining(t *testing.T, s *suite) {
	type step struct {
		method, path string
		body         string
	}
	page := string(s.site.files["/page.html"])
	cases := []struct {
		name  string
		steps []step
		close bool // the last request says Connection: close
	}{
		{"three-gets", []step{{"GET", "/small.txt", string(s.site.small)}, {"GET", "/", indexHTML}, {"GET", "/ret/text", "hello from return"}}, false},
		{"head-in-the-middle", []step{{"GET", "/page.html", page}, {"HEAD", "/big.bin", ""}, {"GET", "/page.html", page}}, false},
		{"last-closes", []step{{"GET", "/page.html", page}, {"GET", "/small.txt", string(s.site.small)}, {"GET", "/page.html", page}}, true},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			for i, st := range cs.steps {
				var fields []string
				if cs.close && i == len(cs.steps)-1 {
					fields = append(fields, "Connection: close")
				}
				b.WriteString(request(st.method, st.path, defaultHost, fields...))
			}
			c := s.dial(t)
			if err := c.Write([]byte(b.String())); err != nil {
				t.Fatal(err)
			}
			for i, st := range cs.steps {
				r, err := c.ReadResponse(st.method)
				if err != nil {
					t.Fatalf("response %d (%s %s): %v", i+1, st.method, st.path, err)
				}
				if !wantStatus(t, r, 200) {
					return
				}
				wantBody(t, r, []byte(st.body))
			}
			if cs.close {
				if err := c.ExpectClosed(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// testMalformed sends broken requests. Each is answered with its status
// and the connection is closed after it (nginx turns keep-alive off for
// 400, 413, 414, 501 and for errors before the request is processed),
// while a concurrent well-behaved connection keeps being served.
func testMalformed(t *testing.T, s *suite) {
	long := strings.Repeat("a", 9000)
	cases := []struct {
		name   string
		req    string
		status []int
	}{
		{"garbage-request-line", "this is not http\r\n\r\n", []int{400}},
		{"bad-method-chars", "G(T / HTTP/1.1\r\nHost: default.test\r\n\r\n", []int{400}},
		// nginx: a request line longer than a large_client_header_buffers
		// buffer (8k) is 414.
		{"request-line-over-8k", request("GET", "/"+long, defaultHost), []int{414}},
		// An over-long header line: 431 (see headerTooLarge).
		{"header-over-limit", request("GET", "/", defaultHost, "X-Big: "+long), headerTooLarge},
		{"content-length-and-chunked", request("POST", "/echo/", defaultHost, "Content-Length: 5", "Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\n\r\n", []int{400}},
		{"differing-content-lengths", request("POST", "/echo/", defaultHost, "Content-Length: 5", "Content-Length: 6") + "hello!", []int{400}},
		{"bad-content-length", request("POST", "/echo/", defaultHost, "Content-Length: 5x") + "hello", []int{400}},
		{"obs-fold", request("GET", "/", defaultHost, "X-A: a", "  folded"), []int{400}},
		{"bad-chunk-size", request("POST", "/echo/", defaultHost, "Transfer-Encoding: chunked") + "zz\r\nhello\r\n0\r\n\r\n", []int{400}},
		// nginx: an unknown transfer coding is 501.
		{"transfer-encoding-gzip", request("POST", "/echo/", defaultHost, "Transfer-Encoding: gzip") + "hello", []int{501}},
		// nginx: a major version above 1 is 505.
		{"http-2.0", requestProto("GET", "/", "HTTP/2.0", defaultHost), []int{505}},
		{"body-over-client_max_body_size", request("POST", "/", smallHost, "Content-Length: 2048") + string(payload(2048)), []int{413}},
		{"chunked-body-over-client_max_body_size", request("POST", "/", smallHost, "Transfer-Encoding: chunked") + chunk(payload(2048)) + "0\r\n\r\n", []int{413}},
		{"nul-in-header", request("GET", "/", defaultHost, "X-A: a\x00b"), []int{400}},
		{"space-before-colon", request("GET", "/", defaultHost, "X-A : b"), []int{400}},
		{"http11-without-host", request("GET", "/", ""), []int{400}},
		{"two-hosts", request("GET", "/", defaultHost, "Host: other.test"), []int{400}},
	}

	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			t.Parallel()
			// A well-behaved connection, open before and after the
			// malformed exchange, keeps being served.
			good := s.dial(t)
			served := func(when string) {
				t.Helper()
				r, err := good.RoundTrip("GET", []byte(request("GET", "/whoami", defaultHost)))
				if err != nil {
					t.Fatalf("the concurrent well-behaved connection, %s: %v", when, err)
				}
				if r.Status != 200 || string(r.Body) != "default" {
					t.Fatalf("the concurrent well-behaved connection, %s, got:\n%s", when, r)
				}
			}
			served("before")
			c := s.dial(t)
			if err := c.Write([]byte(cs.req)); err != nil {
				t.Fatal(err)
			}
			r, err := c.ReadResponse("GET")
			if err != nil {
				t.Fatalf("want a %v response: %v", cs.status, err)
			}
			wantStatus(t, r, cs.status...)
			if err := c.ExpectClosed(); err != nil {
				t.Errorf("after %d: %v", r.Status, err)
			}
			served("after")
		})
	}
}

// headerTooLarge is the status for a header line over the limit: servers/http1
// documents RFC 6585's 431 (ErrFieldTooLarge) where nginx sends 400 ("Request
// Header Or Cookie Too Large", internally 494).
var headerTooLarge = []int{431}

// testConcurrency runs 50 keep-alive connections of 20 requests each at
// once; every response must be a complete 200.
func testConcurrency(t *testing.T, s *suite) {
	const conns, requests = 50, 20
	ctx, cancel := context.WithTimeout(context.Background(), loopBudget)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	req := []byte(request("GET", "/small.txt", defaultHost))
	for i := range conns {
		g.Go(func() error {
			c, err := Dial(s.addr)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			defer c.Close()
			for j := range requests {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("connection %d request %d: %w", i, j, err)
				}
				r, err := c.RoundTrip("GET", req)
				if err != nil {
					return fmt.Errorf("connection %d request %d: %w", i, j, err)
				}
				if r.Status != 200 || string(r.Body) != string(s.site.small) {
					return fmt.Errorf("connection %d request %d:\n%s", i, j, r)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%d connections x %d requests not done within %v: %v", conns, requests, loopBudget, err)
		}
		t.Fatal(err)
	}
}

// deadline returns the end of a loop's time budget.
func deadline() time.Time { return time.Now().Add(loopBudget) }
