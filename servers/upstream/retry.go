package upstream

import (
	"strconv"
	"time"

	"github.com/c10k/c10k/servers/config"
)

// Failure classifies why an attempt on a peer failed.
type Failure int

const (
	FailError         Failure = iota + 1 // connect refused, reset, write error, early close
	FailTimeout                          // connect, send or read timeout
	FailInvalidHeader                    // unparsable response head
	// FailLocal is a failure of this server, not of the peer: no socket
	// could be created for the attempt (EMFILE, ENFILE). It is never
	// counted against the peer nor retried (nginx's NGX_ERROR from
	// ngx_event_connect_peer).
	FailLocal
)

// String returns the proxy_next_upstream name of f.
func (f Failure) String() string {
	switch f {
	case 0:
		return "none"
	case FailError:
		return "error"
	case FailTimeout:
		return "timeout"
	case FailInvalidHeader:
		return "invalid_header"
	case FailLocal:
		return "local"
	}
	return "Failure(" + strconv.Itoa(int(f)) + ")"
}

// Retry reports whether proxy_next_upstream allows another attempt after
// an attempt ended with failure f (0 when the peer answered) and, when it
// answered, HTTP status. It is Outcome.Retry for an attempt whose request
// reached the peer (RequestSent), the conservative case: a
// non-idempotent method is then never retried without non_idempotent.
//
// tries counts the attempts made so far, the first included (see
// Try.Attempts).
func Retry(cond config.NextUpstream, f Failure, status int, method []byte, sent bool, tries, maxTries int, elapsed, maxTime time.Duration) bool {
	o := Outcome{Cond: cond, Failure: f, Status: status, Method: method, Sent: sent, RequestSent: true,
		Tries: tries, MaxTries: maxTries, Elapsed: elapsed, MaxTime: maxTime}
	return o.Retry()
}

// Outcome is how an upstream attempt ended, with the limits that decide
// whether the request may go to another peer.
type Outcome struct {
	Cond    config.NextUpstream // proxy_next_upstream
	Failure Failure             // 0 when the peer answered
	Status  int                 // the peer's status when Failure is 0
	Method  []byte              // the request method
	// Sent says a response byte already reached the client.
	Sent bool
	// RequestSent says a request byte was written to the peer: the
	// connect succeeded (nginx's u->request_sent).
	RequestSent bool
	Tries       int           // attempts so far, the first included (Try.Attempts)
	MaxTries    int           // proxy_next_upstream_tries; 0 = no limit
	Elapsed     time.Duration // since the first attempt
	MaxTime     time.Duration // proxy_next_upstream_timeout; 0 = no limit
}

// Retry reports whether proxy_next_upstream allows another attempt. It
// follows nginx's ngx_http_upstream_next_upstream: never once a byte
// reached the client, never for a non-idempotent method (POST, LOCK,
// PATCH) whose request reached the peer unless Cond has
// NextNonIdempotent — one that was never sent (a refused connect or a
// connect timeout) is retried — and not past MaxTries attempts or MaxTime
// since the first.
func (o *Outcome) Retry() bool {
	if o.Sent {
		return false
	}
	need := condition(o.Failure, o.Status)
	if need == 0 || o.Cond&need == 0 {
		return false
	}
	if o.RequestSent && !idempotent(o.Method) && o.Cond&config.NextNonIdempotent == 0 {
		return false
	}
	if o.MaxTries > 0 && o.Tries >= o.MaxTries {
		return false
	}
	if o.MaxTime > 0 && o.Elapsed >= o.MaxTime {
		return false
	}
	return true
}

// CountsAsFailure reports whether an attempt that ended with failure f
// (0 when the peer answered with status) counts toward the peer's
// max_fails, that is whether Done should get failed = true. As in nginx:
// error, timeout and invalid_header always count; http_500, http_502,
// http_503, http_504 and http_429 only when cond lists them; http_403 and
// http_404 never.
func CountsAsFailure(cond config.NextUpstream, f Failure, status int) bool {
	if f != 0 {
		return f == FailError || f == FailTimeout || f == FailInvalidHeader
	}
	switch status {
	case 500, 502, 503, 504, 429:
		return cond&condition(0, status) != 0
	}
	return false
}

// condition maps an outcome to its proxy_next_upstream flag, 0 for none.
func condition(f Failure, status int) config.NextUpstream {
	switch f {
	case FailError:
		return config.NextError
	case FailTimeout:
		return config.NextTimeout
	case FailInvalidHeader:
		return config.NextInvalidHeader
	case 0:
		switch status {
		case 500:
			return config.NextHTTP500
		case 502:
			return config.NextHTTP502
		case 503:
			return config.NextHTTP503
		case 504:
			return config.NextHTTP504
		case 403:
			return config.NextHTTP403
		case 404:
			return config.NextHTTP404
		case 429:
			return config.NextHTTP429
		}
	}
	return 0
}

// idempotent reports whether nginx may resend method to another server
// without non_idempotent: anything but POST, LOCK and PATCH.
func idempotent(method []byte) bool {
	switch string(method) {
	case "POST", "LOCK", "PATCH":
		return false
	}
	return true
}
