package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/c10k/c10k/loadgen/result"
	"golang.org/x/sync/errgroup"
)

// DefaultSlowRate is a slow reader's rate when Options.SlowRate is 0, in
// bytes per second.
const DefaultSlowRate = 1024

// slowTick is how often a slow reader reads at rates of 10 bytes per
// second and more: each read takes at most a tenth of a second's bytes.
const slowTick = 100 * time.Millisecond

// slowRetry is how long a slow reader waits after an error before it
// tries again, so a refusing server does not make it spin.
const slowRetry = 100 * time.Millisecond

// slowOptions configure the slow readers.
type slowOptions struct {
	Target  Target // Path is the slow path
	Wire    []byte // the GET request, keep-alive
	Readers int
	Rate    int64         // bytes per second per reader
	Timeout time.Duration // connect, request and response head
	Dialer  *Dialer
}

// slowReaders are clients that fetch one path and read the answers at a
// fixed, low rate — the slow networks a buffering proxy protects a
// server from. Each reader keeps one keep-alive connection (a new one
// when it closes) and sends the next request when it has read the
// previous answer. Every read from the socket takes at most chunk bytes
// and comes at least interval after the previous one, so a reader never
// receives more than chunk + Rate × elapsed bytes. Over TLS the pacing
// holds for the decrypted bytes; the socket is read a record (at most
// 16 KiB) at a time, so it may be one record ahead.
type slowReaders struct {
	o         slowOptions
	chunk     int
	interval  time.Duration
	responses atomic.Int64
	errs      atomic.Int64
	bytes     atomic.Int64
	reads     atomic.Int64 // socket reads
}

func newSlow(o slowOptions) *slowReaders {
	if o.Rate <= 0 {
		o.Rate = DefaultSlowRate
	}
	if o.Dialer == nil {
		o.Dialer = &Dialer{}
	}
	chunk := max(1, o.Rate*int64(slowTick)/int64(time.Second))
	chunk = min(chunk, 1<<16)
	// Rounded up, so chunk bytes per interval never exceed the rate.
	interval := time.Duration((chunk*int64(time.Second) + o.Rate - 1) / o.Rate)
	return &slowReaders{o: o, chunk: int(chunk), interval: interval}
}

// run runs the readers until ctx ends and returns when every one has
// stopped and closed its connection.
func (s *slowReaders) run(ctx context.Context) {
	var g errgroup.Group
	for range s.o.Readers {
		g.Go(func() error {
			s.reader(ctx)
			return nil
		})
	}
	g.Wait()
}

// stats returns the counts now.
func (s *slowReaders) stats() *result.SlowStats {
	return &result.SlowStats{Readers: s.o.Readers, Responses: s.responses.Load(), Errors: s.errs.Load(), Bytes: s.bytes.Load()}
}

// reader is one slow reader: connection after connection, request after
// request, until ctx ends. Errors are counted and followed by a pause;
// what ctx's end interrupts is not an error.
func (s *slowReaders) reader(ctx context.Context) {
	p := &pacedConn{s: s, ctx: ctx}
	for ctx.Err() == nil {
		err := s.connection(ctx, p)
		if err == nil || ctx.Err() != nil {
			continue
		}
		s.errs.Add(1)
		sleep(ctx, slowRetry)
	}
}

// connection opens a connection and sends requests on it, one at a time,
// until the server or ctx closes it or a request fails. It returns nil
// when the connection ended cleanly (the server asked to close).
func (s *slowReaders) connection(ctx context.Context, p *pacedConn) error {
	dctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	c, err := s.o.Dialer.DialContext(dctx, s.o.Target.Addr)
	cancel()
	if err != nil {
		return timeoutErr(err)
	}
	// Closing the connection ends any read or write under way.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer func() {
		stop()
		c.Close()
	}()
	p.c = c
	// Small buffers, big enough for a chunk: a read never takes more.
	size := max(512, s.chunk)
	br := bufio.NewReaderSize(p, size)
	buf := make([]byte, size)
	for ctx.Err() == nil {
		again, err := s.exchange(c, p, br, buf)
		if err != nil {
			return err
		}
		if !again {
			return nil
		}
	}
	return nil
}

// exchange sends one request on c and reads its answer through p. The
// timeout bounds the write and the wait for the head, not counting the
// reader's own pauses; the body takes as long as the rate makes it.
func (s *slowReaders) exchange(c net.Conn, p *pacedConn, br *bufio.Reader, buf []byte) (again bool, err error) {
	p.headBy = time.Now().Add(s.o.Timeout)
	c.SetWriteDeadline(p.headBy)
	if _, err := c.Write(s.o.Wire); err != nil {
		return false, fmt.Errorf("slow reader: write request to %s: %w", s.o.Target.Addr, timeoutErr(err))
	}
	c.SetWriteDeadline(time.Time{})
	var resp *http.Response
	for resp == nil || resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
		// An interim (1xx) answer has no body: the real one follows.
		if resp, err = http.ReadResponse(br, nil); err != nil {
			return false, fmt.Errorf("slow reader: read response head from %s: %w", s.o.Target.Addr, timeoutErr(err))
		}
	}
	p.headBy = time.Time{}
	c.SetReadDeadline(time.Time{})
	for {
		_, rerr := resp.Body.Read(buf)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			resp.Body.Close()
			return false, fmt.Errorf("slow reader: read response body from %s: %w", s.o.Target.Addr, rerr)
		}
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		s.errs.Add(1)
	} else {
		s.responses.Add(1)
	}
	return !resp.Close, nil
}

// pacedConn reads from a reader's connection at its rate: at most chunk
// bytes a read, interval apart. The pacing spans the reader's connections.
type pacedConn struct {
	s      *slowReaders
	ctx    context.Context
	c      net.Conn
	next   time.Time // the earliest moment of the next read
	headBy time.Time // while a head is awaited: its deadline, moved on by the pauses
}

func (p *pacedConn) Read(b []byte) (int, error) {
	if now := time.Now(); now.Before(p.next) {
		for t := now; t.Before(p.next); t = time.Now() {
			sleep(p.ctx, p.next.Sub(t))
			if err := p.ctx.Err(); err != nil {
				return 0, err
			}
		}
		if !p.headBy.IsZero() {
			p.headBy = p.headBy.Add(time.Since(now))
		}
	}
	if !p.headBy.IsZero() {
		p.c.SetReadDeadline(p.headBy)
	}
	p.next = time.Now().Add(p.s.interval)
	n, err := p.c.Read(b[:min(len(b), p.s.chunk)])
	p.s.bytes.Add(int64(n))
	p.s.reads.Add(1)
	if err != nil && !errors.Is(err, io.EOF) {
		err = timeoutErr(err)
	}
	return n, err
}
