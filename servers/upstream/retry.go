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
	}
	return "Failure(" + strconv.Itoa(int(f)) + ")"
}

// Retry reports whether proxy_next_upstream allows another attempt after
// an attempt ended with failure f (0 when the peer answered) and, when it
// answered, HTTP status. It follows nginx: never once a byte reached the
// client (sent), never for a non-idempotent method (POST, LOCK, PATCH)
// unless cond has NextNonIdempotent, and not past maxTries attempts or
// maxTime since the first (0 = no limit).
//
// tries counts the attempts made so far, the first included (see
// Try.Attempts). Unlike nginx, which lets a non-idempotent request go to
// the next server when it was never sent to the failed one (a refused
// connect), Retry has no such exception: the caller cannot yet tell it.
func Retry(cond config.NextUpstream, f Failure, status int, method []byte, sent bool, tries, maxTries int, elapsed, maxTime time.Duration) bool {
	if sent {
		return false
	}
	need := condition(f, status)
	if need == 0 || cond&need == 0 {
		return false
	}
	if !idempotent(method) && cond&config.NextNonIdempotent == 0 {
		return false
	}
	if maxTries > 0 && tries >= maxTries {
		return false
	}
	if maxTime > 0 && elapsed >= maxTime {
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
