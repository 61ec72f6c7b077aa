package engine

import "github.com/c10k/c10k/servers/http1"

// Client timeouts. The cores own the timers (client_header_timeout,
// client_body_timeout and send_timeout come with the Listener and the
// Plan); the engine owns what the access log says when one fires, as
// nginx's ngx_http_close_request(r, NGX_HTTP_REQUEST_TIME_OUT) does:
// the connection closes without a response, and the request's line
// shows 408 unless part of a response was already sent, whose status
// then stands.

// TimedOut records that p's request ended because its client timed out:
// client_body_timeout while reading its body, or send_timeout while
// sending the response. A core calls it before End; End then logs 408
// when nothing was sent, the plan's status otherwise. No response is
// sent for a timeout: the core closes the connection.
func (p *Plan) TimedOut() { p.st.timedOut = true }

// HeadTimedOut ends a request whose head began to arrive on c but was
// not complete within client_header_timeout: p is reset and ended with
// an access-log line of status 408 in the log of the listener's default
// server, and no response is planned (nginx closes the connection
// silently). req is what the parser made of the head so far: its
// request line, once complete, shows in the line ($request_method,
// $request_uri), as in nginx's. A connection that sent nothing before
// its timeout logs nothing, as nginx's does; the core just closes it.
func (e *Engine) HeadTimedOut(req *http1.Request, c Conn, p *Plan) {
	p.Reset()
	p.st = state{e: e, c: c, now: e.now()}
	if req != nil && len(req.Method) > 0 {
		p.st.req, p.st.method = req, req.Method
	}
	p.Status = 408
	p.st.timedOut = true
	p.End(0)
}
