package event

import (
	"context"
	"io"

	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/cgirun"
	"github.com/c10k/c10k/servers/internal/coreio"
)

// bodyCGI is the bodyThen of a body kept for a cgi_pass child.
const bodyCGI uint8 = 100

// cgiStart runs a cgi_pass plan: the body is read on the loop as for a
// proxy, then the exchange goes to a goroutine of its own that blocks
// on the child (the runner bounds them, MaxChildren) and posts the
// connection back to the loop like a disk job; the loop then sends the
// plan the child's output became. The loop never waits for a child: its
// pipes are not on epoll, which would need the runner's timeout, kill
// and reap logic twice. The goroutines are the Server's (cgiWG): Serve
// waits for them before it closes the runner.
func (l *loop) cgiStart(c *conn) bool {
	x := c.x
	p := &x.plan
	x.body.Reset()
	if !p.ReadBody || !x.req.HasBody() {
		return l.cgiSubmit(c, nil)
	}
	l.startBody(c, 0, bodyCGI)
	if p.SendContinue(&x.req) && !x.buffered() {
		x.wa, x.wb = http1.Continue100, nil
		x.after, x.sendTO = afterContinue, p.SendTimeout
		c.st = stWrite
	}
	return true
}

// cgiBodyDone continues a cgi_pass plan once its body is read.
func (l *loop) cgiBodyDone(c *conn, err error) bool {
	x := c.x
	switch err {
	case nil:
	case coreio.ErrTooLarge:
		return l.reject(c, 413)
	default:
		return l.bodyFailed(c, err)
	}
	body := x.body.Bytes()
	if f := x.body.File(); f != nil {
		b, err := io.ReadAll(io.NewSectionReader(f, 0, x.body.Len()))
		if err != nil {
			return l.bodyFailed(c, err)
		}
		body = b
	} else {
		body = append([]byte(nil), body...)
	}
	// The body is consumed: what the exchange turns into must not read
	// or discard it again.
	x.req.ContentLength, x.req.Chunked = -1, false
	return l.cgiSubmit(c, body)
}

func (l *loop) cgiSubmit(c *conn, body []byte) bool {
	x := c.x
	c.st = stFile
	l.jobs++
	fd := int(c.fd)
	r := l.s.cgi
	x.cgiGone = false
	l.s.cgiWG.Go(func() {
		ctx, stop := cgirun.WatchHangup(context.Background(), fd)
		err := r.Serve(ctx, &x.plan, body)
		stop()
		x.cgiGone = err != nil // read by the loop after post
		l.post(c)
	})
	return false
}
