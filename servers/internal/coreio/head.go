package coreio

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/errlog"
	"github.com/c10k/c10k/servers/http1"
)

const (
	// StatusNoResponse is nginx's 444: close without a response.
	StatusNoResponse = 444

	// LingerTimeout bounds the drain of a lingering close (nginx's
	// lingering_timeout is 5s; a benchmark core keeps it short).
	LingerTimeout = 2 * time.Second
)

var methodHead = []byte("HEAD")

// IsHead reports whether req is a HEAD request, whose upstream response
// has no body.
func IsHead(req *http1.Request) bool { return bytes.Equal(req.Method, methodHead) }

// Silent reports whether p closes the connection without a response
// (return 444).
func Silent(p *engine.Plan) bool { return p.Close || p.Status == StatusNoResponse }

// Framing returns the content length to announce for a local plan (an
// in-memory body of unknown length is sent with its length) and whether
// a body follows the head.
//
// A plan the core compresses (engine.Plan.Gzip) announces no length:
// cl is -1, and the body goes through a Gzip.
func Framing(p *engine.Plan) (cl int64, body bool) {
	cl = p.ContentLength
	if cl < 0 && p.File == nil {
		cl = int64(len(p.Body))
	}
	if p.Gzip != 0 {
		cl = -1
	}
	return cl, !(p.HeadOnly || p.Status < 200 || p.Status == 204 || p.Status == 304)
}

// HeadLength is the length a streamed (proxied) response's head
// announces: p.ContentLength, or -1 (unknown) when the core compresses
// the body (engine.Plan.Gzip).
func HeadLength(p *engine.Plan) int64 {
	if p.Gzip != 0 {
		return -1
	}
	return p.ContentLength
}

// AppendHead appends the response head of p, answering req, with content
// length cl (-1: unknown) to dst. The framing of an unknown length is
// http1.ResponseHead's: chunked to HTTP/1.1 clients, close-delimited
// otherwise; chunked reports the former, and p.KeepAlive is cleared when
// the head closes the connection. date and server are the Date and
// Server values.
func AppendHead(dst []byte, p *engine.Plan, req *http1.Request, cl int64, date []byte, server string) (head []byte, chunked bool) {
	rh := http1.ResponseHead{
		Minor:         req.Minor,
		Status:        p.Status,
		Header:        p.Header,
		ContentLength: cl,
		Chunked:       true,
		KeepAlive:     p.KeepAlive,
		Date:          date,
		Server:        server,
		HeadOnly:      p.HeadOnly,
	}
	p.KeepAlive = rh.KeepsAlive()
	return http1.AppendResponseHead(dst, &rh), rh.SendsChunked()
}

// LogClient logs a client-side failure on connection id, nginx style:
// "client prematurely closed connection while reading client request
// body, client: ..., server: ..., request: ...". while says what the
// core was doing.
func LogClient(log *errlog.Log, level string, id uint64, err error, while string, remote, server netip.AddrPort, req *http1.Request) {
	if !log.Enabled() {
		return
	}
	var what string
	var he *http1.Error
	var errno unix.Errno
	switch {
	case err == ErrTimeout:
		what = "client timed out (110: Connection timed out)"
	case err == ErrClosed:
		what = "client prematurely closed connection"
	case err == ErrTooLarge:
		what = "client intended to send too large body"
	case errors.As(err, &he):
		what = he.Reason
	case errors.As(err, &errno) && strings.HasPrefix(while, "while reading"):
		what = "recv() failed " + errlog.ErrnoText(errno)
	case errors.As(err, &errno):
		what = "writev() failed " + errlog.ErrnoText(errno)
	default:
		what = err.Error()
	}
	log.Logf(level, id, "%s %s, client: %s, server: %s, request: \"%s %s HTTP/1.%d\"",
		what, while, remote.Addr(), server, req.Method, req.Target, req.Minor)
}

// AppendChunkSize appends the size line of an n-byte chunk, for a core
// that writes the chunk's data from where it lies.
func AppendChunkSize(dst []byte, n int) []byte {
	dst = strconv.AppendUint(dst, uint64(n), 16)
	return append(dst, "\r\n"...)
}

// LogHeadTimeout logs, as nginx does at level info, a connection closed
// because its request head was not complete within
// client_header_timeout (the access log gets its 408 from
// engine.Engine.HeadTimedOut).
func LogHeadTimeout(log *errlog.Log, id uint64, remote, server netip.AddrPort) {
	if !log.Enabled() {
		return
	}
	log.Logf("info", id, "client timed out (110: Connection timed out) while reading client request headers, client: %s, server: %s",
		remote.Addr(), server)
}
