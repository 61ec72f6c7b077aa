package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The closed model over TLS. crypto/tls needs a net.Conn that blocks: it
// cannot resume a handshake or a record cut short by EAGAIN, which is
// what the raw non-blocking loop would hand it. So each TLS connection
// of a loop is a goroutine doing blocking I/O on Go's netpoller (epoll
// too), and the loop's counters, histogram and timeline are shared under
// the loop's mutex — one lock per request, small beside the AES-GCM of
// its bytes, let alone a handshake. The request bytes, the response
// parser (econn.parse), the request budget, the timeout and the
// accounting are the plain loop's.

// runTLS runs l's connections as TLS goroutines until ctx ends or the
// budget is spent.
func (l *loop) runTLS(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range l.conns {
		wg.Go(func() { l.tlsConn(ctx, c) })
	}
	wg.Wait()
}

// tlsConn is one connection's life: connect and shake hands, send the
// request, read the response, again on the same connection while both
// sides keep it, else on a new one.
func (l *loop) tlsConn(ctx context.Context, c *econn) {
	var (
		tc   net.Conn
		stop func() bool
	)
	closeConn := func() {
		if tc != nil {
			stop()
			tc.Close()
			tc = nil
		}
	}
	defer closeConn()
	timeout := l.e.o.Timeout
	for ctx.Err() == nil {
		if !l.take() {
			return
		}
		t0 := time.Now()
		c.n, c.r, c.w, c.phase = 0, 0, 0, phHead
		if tc == nil {
			// The dial's deadline is its own timeout, never the run's
			// end: a dial the end cuts short is cancelled, not timed
			// out, and counts as nothing (a deadline shared with the
			// run would fire an instant before the run's context does).
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
			unhook := context.AfterFunc(ctx, cancel)
			conn, err := l.e.o.Dialer.DialContext(dctx, l.e.o.Target.Addr)
			unhook()
			cancel()
			if err != nil {
				l.giveBack()
				if ctx.Err() != nil {
					return // the run ended, not the server
				}
				l.e.failed.Add(1)
				l.mu.Lock()
				l.fail(err)
				l.mu.Unlock()
				sleep(ctx, time.Millisecond)
				continue
			}
			l.e.opened.Add(1)
			tc = conn
			// The run's end unblocks a read or write under way.
			stop = context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
		}
		err := l.tlsExchange(tc, c, t0.Add(timeout))
		if err != nil && ctx.Err() != nil {
			return // cut by the run's end: not a result
		}
		l.mu.Lock()
		l.record(c, time.Now(), t0, err)
		l.mu.Unlock()
		if err != nil || !c.keep || !l.e.o.KeepAlive || c.r != c.w {
			closeConn()
		}
	}
}

// tlsExchange writes the request on tc and reads the response into c
// through the plain loop's parser, by deadline.
func (l *loop) tlsExchange(tc net.Conn, c *econn, deadline time.Time) error {
	tc.SetDeadline(deadline)
	if _, err := tc.Write(l.e.o.Wire); err != nil {
		return fmt.Errorf("write request: %w", timeoutErr(err))
	}
	for {
		if c.w == len(c.buf) {
			c.compact()
		}
		n, err := tc.Read(c.buf[c.w:])
		if n > 0 {
			done, perr := c.got(n, l.e.o.Head)
			if perr != nil {
				return perr
			}
			if done {
				return nil
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return c.eof()
		default:
			return fmt.Errorf("read response: %w", timeoutErr(err))
		}
	}
}
