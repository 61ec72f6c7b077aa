package event_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/event"
)

// slowlorisConns is how many slowloris connections the event test
// holds: client and server ends are both in this process, two
// descriptors each, well under the 20,000 the test machines allow.
const slowlorisConns = 3000

// TestSlowlorisHeldWhileServing holds thousands of slowloris
// connections (a request line and part of a header, then nothing, well
// within the default client_header_timeout of 60s) on one loop, and
// checks that fresh requests keep being served meanwhile: a slow client
// costs the event core one small struct and its head buffer, not a
// thread.
func TestSlowlorisHeldWhileServing(t *testing.T) {
	n := slowlorisConns
	if testing.Short() {
		n = 300
	}
	st := newSite(t, siteOptions{workerConnections: n + 100})
	s := newServer(t, st.conf, event.Options{Loops: 1})
	serve(t, s)
	addr := s.Addrs()[0].String()

	deadline := time.Now().Add(waitBudget)
	held := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, waitBudget)
		if err != nil {
			t.Fatalf("slowloris connection %d: %v", i, err)
		}
		held = append(held, c)
		c.SetWriteDeadline(deadline)
		if _, err := io.WriteString(c, "GET /1k.txt HTTP/1.1\r\nHost: test\r\nX-Slow: a"); err != nil {
			t.Fatalf("slowloris connection %d: %v", i, err)
		}
		if i%500 == 499 {
			// Fresh requests are served while the slow ones pile up.
			dial(t, addr).mustGet(t, "/1k.txt", 200)
		}
	}
	eventually(t, "the server to hold every slowloris connection", func() bool {
		st := s.Stats()
		return st.Connections >= n && st.Borrowed >= n
	})
	// Each slowloris sends one more byte, then fresh clients: all served.
	for i, c := range held {
		if _, err := io.WriteString(c, "b"); err != nil {
			t.Fatalf("slowloris connection %d closed: %v", i, err)
		}
	}
	for range 20 {
		c := dial(t, addr)
		c.mustGet(t, "/1k.txt", 200)
		c.nc.Close()
	}
	if got := s.Stats().Connections; got < n {
		t.Errorf("%d connections open after the fresh requests, want the %d slowloris ones still held", got, n)
	}
}
