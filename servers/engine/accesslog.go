package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
)

// Access logs.
//
// Every access_log path of a config is one logFile, opened by New
// (O_WRONLY|O_APPEND|O_CREATE) and shared by every loop, thread and
// request of the Engine; the access_log lines naming it share its
// buffer, whose size and flush interval are the first such line's.
//
// A request's line is formatted into the Plan's own scratch buffer,
// without any lock. Then:
//
//   - unbuffered (no buffer=, nginx's default): one write(2) of the line
//     on the O_APPEND descriptor, without a lock (O_APPEND writes of a
//     regular file do not interleave);
//   - buffered: under the file's mutex the line is appended to the
//     buffer; when it would not fit, the buffer is written first — one
//     write(2) held under the mutex, never more. A flusher goroutine
//     owned by the Engine writes buffers older than their flush= time,
//     and Close writes what is left.
//
// A reload builds a new Engine, which opens the files again (so a
// rotated file is reopened, as nginx's reopen), and the core Closes the
// old one: its buffers are written and its descriptors closed. A
// request still running on the old Engine logs its line afterwards by
// opening the file for that one line.

// logFile is one open access log file.
type logFile struct {
	path  string
	f     *os.File
	size  int           // buffer size; 0 writes each line at once
	flush time.Duration // flush=; 0 none

	mu     sync.Mutex
	buf    []byte
	first  time.Time // when the oldest buffered line was added
	closed bool
}

// accessLog is one access_log line of a location.
type accessLog struct {
	file   *logFile
	format *config.LogFormat
}

// openLogs opens the files of every access_log of h's locations
// (prepare has filled e.locs) and starts the flusher when one needs it.
// The implicit default (no access_log anywhere: logs/access.log under the
// prefix) is opened only when its directory exists; an access_log the
// config writes must open, or New fails, as nginx refuses to start.
func (e *Engine) openLogs() error {
	e.logs = make(map[string]*logFile)
	var minFlush time.Duration
	for l, info := range e.locs {
		for _, a := range l.AccessLogs {
			if a == nil || a.Format == nil {
				continue
			}
			path := e.cfg.Path(a.Path)
			lf, ok := e.logs[path]
			if !ok {
				if a.Pos.Line == 0 {
					if _, err := os.Stat(filepath.Dir(path)); err != nil {
						e.logs[path] = nil
						continue
					}
				}
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
				if err != nil {
					e.closeLogs()
					return fmt.Errorf("engine: access_log at %s: %w", a.Pos, err)
				}
				lf = &logFile{path: path, f: f, size: int(a.Buffer), flush: a.Flush}
				if lf.size > 0 {
					lf.buf = make([]byte, 0, lf.size)
				}
				if lf.flush > 0 && (minFlush == 0 || lf.flush < minFlush) {
					minFlush = lf.flush
				}
				e.logs[path] = lf
			}
			if lf != nil {
				info.logs = append(info.logs, accessLog{file: lf, format: a.Format})
			}
		}
	}
	if minFlush > 0 {
		e.flushStop = make(chan struct{})
		e.flushDone = make(chan struct{})
		go e.flusher(minFlush)
	}
	return nil
}

// flusher writes buffers whose oldest line is older than their flush=
// interval, every tick (the shortest interval); Close stops it.
func (e *Engine) flusher(tick time.Duration) {
	defer close(e.flushDone)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-e.flushStop:
			return
		case <-t.C:
			now := time.Now()
			for _, lf := range e.logs {
				if lf != nil && lf.flush > 0 {
					lf.flushOlder(now)
				}
			}
		}
	}
}

// closeLogs stops the flusher, writes every buffer and closes the files.
func (e *Engine) closeLogs() {
	if e.flushStop != nil {
		close(e.flushStop)
		<-e.flushDone
		e.flushStop = nil
	}
	for _, lf := range e.logs {
		if lf != nil {
			lf.close()
		}
	}
}

func (lf *logFile) flushOlder(now time.Time) {
	lf.mu.Lock()
	if len(lf.buf) > 0 && now.Sub(lf.first) >= lf.flush {
		lf.writeBuf()
	}
	lf.mu.Unlock()
}

// writeBuf writes the buffer; lf.mu is held.
func (lf *logFile) writeBuf() {
	if len(lf.buf) > 0 {
		lf.f.Write(lf.buf)
		lf.buf = lf.buf[:0]
	}
}

func (lf *logFile) close() {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.closed {
		return
	}
	lf.writeBuf()
	lf.closed = true
	lf.f.Close()
}

// write logs one line (newline included).
func (lf *logFile) write(line []byte, now time.Time) {
	if lf.size == 0 {
		if _, err := lf.f.Write(line); errors.Is(err, os.ErrClosed) {
			lf.late(line)
		}
		return
	}
	lf.mu.Lock()
	if lf.closed {
		lf.mu.Unlock()
		lf.late(line)
		return
	}
	if len(lf.buf)+len(line) > lf.size {
		lf.writeBuf()
	}
	if len(line) > lf.size {
		lf.f.Write(line)
	} else {
		if len(lf.buf) == 0 {
			lf.first = now
		}
		lf.buf = append(lf.buf, line...)
	}
	lf.mu.Unlock()
}

// late writes the line of a request that ended after its Engine was
// closed (a reload replaced it while the request ran).
func (lf *logFile) late(line []byte) {
	f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	f.Write(line)
	f.Close()
}

// End ends the request p planned, whichever way it ended: completed,
// rejected (Reject), abandoned because the client went away or failed.
// Cores call it exactly once per request that got a plan (Serve or
// Reject), after the last byte was written or the attempt given up, and
// before the Plan is reset for the next request; sent is the number of
// bytes actually written to the client for it, response head included
// (SetHeadSize tells which part of it was the head).
//
// End writes the request's access-log lines, with the final status:
// 499 when nothing at all was sent and the plan was not a "return 444"
// (nginx's "client closed request"). It is the request's one
// end-of-life hook: per-request resources the engine hands out and
// takes back at the end (limit_conn's slot, for one) are released here,
// so a core needs no other call. End is idempotent until the next
// Serve or Reject.
func (p *Plan) End(sent int64) {
	p.px.cacheAbandon()
	p.lim.release()
	p.lim.resume, p.lim.carried = false, false // the next Serve is a new request
	st := &p.st
	if st.e == nil || st.ended {
		return
	}
	st.ended = true
	st.sent = sent
	st.e.accessLog(p)
}

// SetHeadSize records the size of the response head the core wrote (or
// began to write) for p, so that End tells $body_bytes_sent from
// $bytes_sent. A core calls it when it serializes the head; without it
// every sent byte counts as body.
func (p *Plan) SetHeadSize(n int) { p.st.headSize = int64(n) }

// logs returns the access logs that apply to p: those of the location
// the request ended in, else of its server, else of the default server
// of the address (a rejected request head).
func (e *Engine) logsOf(p *Plan) []accessLog {
	st := &p.st
	l := st.loc
	if l == nil {
		srv := st.srv
		if srv == nil {
			srv, _ = e.router.ServerRegex(e.routeAddr(st.c), nil)
		}
		if srv != nil {
			l = srv.Loc
		}
	}
	if l == nil {
		return nil
	}
	if info := e.locs[l]; info != nil {
		return info.logs
	}
	return nil
}

func (e *Engine) accessLog(p *Plan) {
	logs := e.logsOf(p)
	if len(logs) == 0 {
		return
	}
	end := e.now()
	for _, a := range logs {
		line := p.formatLog(p.logLine[:0], a.format, end)
		line = append(line, '\n')
		a.file.write(line, end)
		p.logLine = line[:0]
	}
}

// LogStatus is the status the access log shows for p: 408 when the
// client timed out before it got anything (TimedOut), 499 when the
// client got nothing (it closed the connection first), 444 for a silent
// close, the plan's status otherwise.
func (p *Plan) logStatus() int {
	if p.st.timedOut && p.st.sent == 0 {
		return 408 // nginx: ngx_http_close_request(r, NGX_HTTP_REQUEST_TIME_OUT)
	}
	if p.st.sent == 0 && !p.Close && p.st.ended {
		return 499
	}
	if p.Close {
		return 444
	}
	return p.Status
}

// formatLog appends p's line in format f to dst; end is when the request
// ended, for $request_time.
func (p *Plan) formatLog(dst []byte, f *config.LogFormat, end time.Time) []byte {
	t := f.Template
	if len(t.Parts) == 0 {
		return append(dst, t.Raw...)
	}
	for _, part := range t.Parts {
		if part.Var == "" {
			dst = append(dst, part.Lit...)
			continue
		}
		v := p.logVariable(p.logVal[:0], part.Var, end)
		p.logVal = v[:0]
		switch f.Escape {
		case "json":
			dst = appendJSONEscaped(dst, v)
		case "none":
			if len(v) == 0 {
				dst = append(dst, '-')
			}
			dst = append(dst, v...)
		default:
			if len(v) == 0 {
				dst = append(dst, '-')
			}
			dst = appendLogEscaped(dst, v)
		}
	}
	return dst
}

// logVariable appends the value of an access-log variable: the ones only
// a finished request has, then every other variable of templates.
func (p *Plan) logVariable(dst []byte, name string, end time.Time) []byte {
	st := &p.st
	switch name {
	case "status":
		return strconv.AppendInt(dst, int64(p.logStatus()), 10)
	case "bytes_sent":
		return strconv.AppendInt(dst, st.sent, 10)
	case "body_bytes_sent":
		return strconv.AppendInt(dst, max(st.sent-st.headSize, 0), 10)
	case "request_time":
		return appendMillis(dst, end.Sub(st.now))
	case "request_length":
		return strconv.AppendInt(dst, requestLength(st.req, p.px.bodyLen), 10)
	case "remote_user":
		return dst // no auth_basic in c10k
	case "connection":
		return strconv.AppendUint(dst, st.c.ID, 10)
	case "connection_requests":
		return strconv.AppendInt(dst, int64(st.c.Requests+1), 10)
	case "pipe":
		if st.c.Pipelined {
			return append(dst, 'p')
		}
		return append(dst, '.')
	case "upstream_addr":
		return append(dst, p.px.upAddrs...)
	case "upstream_status":
		return append(dst, p.px.upStatus...)
	case "upstream_response_time":
		return append(dst, p.px.upTimes...)
	}
	if len(name) > 10 && name[:10] == "sent_http_" {
		return p.appendSentHeader(dst, name[10:])
	}
	return p.variable(dst, name)
}

// appendSentHeader appends the response field matching the variable
// suffix; Content-Length and Content-Type come from the plan when no
// field carries them.
func (p *Plan) appendSentHeader(dst []byte, name string) []byte {
	n := len(dst)
	dst = appendHeaderVar(dst, p.Header, name)
	if len(dst) > n {
		return dst
	}
	if name == "content_length" && p.ContentLength >= 0 && !p.Close {
		return strconv.AppendInt(dst, p.ContentLength, 10)
	}
	return dst
}

// requestLength is nginx's $request_length for req, whose head is
// counted as the parser normalizes it ("Name: value" lines) plus the
// body bytes read.
func requestLength(req *http1.Request, body int64) int64 {
	if req == nil || len(req.Method) == 0 {
		return 0
	}
	n := int64(len(req.Method) + 1 + len(req.Target) + 1 + len("HTTP/1.1") + 2)
	for _, f := range req.Header {
		n += int64(len(f.Name) + 2 + len(f.Value) + 2)
	}
	n += 2
	if body > 0 {
		n += body
	} else if req.ContentLength > 0 {
		n += req.ContentLength
	}
	return n
}

// appendMillis appends d as seconds with millisecond resolution
// ("0.004"), as nginx's $request_time.
func appendMillis(dst []byte, d time.Duration) []byte {
	ms := d.Milliseconds()
	if ms < 0 {
		ms = 0
	}
	dst = strconv.AppendInt(dst, ms/1000, 10)
	dst = append(dst, '.')
	return append(dst, byte('0'+ms%1000/100), byte('0'+ms%100/10), byte('0'+ms%10))
}

// appendLogEscaped is nginx's default access-log escaping: '"', '\\',
// control characters and bytes >= 0x7f become \xHH.
func appendLogEscaped(dst, v []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range v {
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// appendJSONEscaped is escape=json: '"' and '\\' are backslashed,
// control characters become \n, \r, \t, \b, \f or \u00XX; other bytes
// are kept.
func appendJSONEscaped(dst, v []byte) []byte {
	const hex = "0123456789abcdef"
	for _, c := range v {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
