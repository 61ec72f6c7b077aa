package nethttp

import (
	"errors"
	"net/http"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/coreio"
)

// cgi runs a cgi_pass plan with the shared CGI runner, on this
// connection's goroutine as the thread core runs it on its worker: the
// body is read whole (net/http de-chunks it), then the child runs until
// it answers, the request's context ending it if the client goes. p is
// then an ordinary plan for the caller to send, unless done.
func (h *handler) cgi(w http.ResponseWriter, r *http.Request, req *http1.Request, p *engine.Plan, cs *connState) (done bool) {
	cs.body = cs.body[:0]
	var body []byte
	if p.ReadBody && req.HasBody() {
		b, err := readBody(cs.body, r.Body, p)
		cs.body = b
		switch {
		case errors.Is(err, coreio.ErrTooLarge):
			h.reject(w, r, p, cs, 413)
			return true
		case err != nil:
			h.s.log.logf("info", "%v while reading client request body, client: %s", err, r.RemoteAddr)
			h.reject(w, r, p, cs, 400)
			return true
		}
		body = b
	}
	if err := h.s.cgi.Serve(r.Context(), p, body); err != nil {
		closeConn(w)
		return true
	}
	return false
}
