package thread

import (
	"context"
	"io"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/cgirun"
	"github.com/c10k/c10k/servers/internal/coreio"
)

// cgi runs a cgi_pass plan on this worker: the body is read as for a
// proxy, then the child runs while the worker waits for it, as Apache
// mod_cgi ties a worker to its child. p is then an ordinary plan for
// the caller to send, unless done: the request ended here, and keep
// says whether the connection stays open.
func (w *worker) cgi(p *engine.Plan) (keep, done bool) {
	h := &w.http
	h.body.Reset()
	var body []byte
	if p.ReadBody && h.req.HasBody() {
		if p.SendContinue(&h.req) && !h.buffered() {
			h.sock.setWriteTimeout(p.SendTimeout)
			if err := h.sock.write(http1.Continue100); err != nil {
				w.closeClient(h.c.fd, false)
				return false, true
			}
		}
		if err := w.readBody(p, 0); err != nil {
			if err == coreio.ErrTooLarge {
				return w.reject(p, 413), true
			}
			return w.bodyFailed(p, err), true
		}
		body = h.body.Bytes()
		if f := h.body.File(); f != nil {
			b, err := io.ReadAll(io.NewSectionReader(f, 0, h.body.Len()))
			if err != nil {
				return w.bodyFailed(p, err), true
			}
			body = b
		}
		// The body is consumed: what the exchange turns into (a local
		// redirect is a GET) must not wait for it again.
		h.req.ContentLength, h.req.Chunked = -1, false
	}
	ctx, stop := cgirun.WatchHangup(context.Background(), h.c.fd)
	err := w.s.cgi.Serve(ctx, p, body)
	stop()
	if err != nil {
		w.closeClient(h.c.fd, false)
		return false, true
	}
	return false, false
}
