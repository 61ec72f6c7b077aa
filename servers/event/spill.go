package event

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/errlog"
	"github.com/c10k/c10k/servers/internal/coreio"
)

// A buffered upstream response larger than Options.ProxyBuffer goes on,
// as it arrives, into an unlinked temp file (coreio.RespSpool: nginx's
// proxy_temp_path, up to proxy_max_temp_file_size), so that the
// upstream is released as soon as its response is complete however
// slowly the client reads. The client then gets the head, the memory part and the file part, the
// latter with sendfile(2) (or pread and write under "sendfile off") by
// the machinery that sends static files.

// startSpill starts writing the rest of a buffered body that does not
// fit in memory to the temp file (created by its first write). It
// reports false when no temp file is to be used
// (Options.ProxyMaxTempFile negative); the body is then streamed.
func (l *loop) startSpill(c *conn) bool {
	if l.s.opts.ProxyMaxTempFile <= 0 {
		return false
	}
	l.closeTemp(c.x) // none is open: every end of a response closes it
	l.stats.spilled.Add(1)
	return true
}

// upSpool reads the upstream body on into the temp file until it is
// complete, then releases the upstream and sends the response. Past
// Options.ProxyMaxTempFile the body is streamed: the head, the memory
// part and the file part go out first, the rest as it arrives.
func (l *loop) upSpool(c *conn) bool {
	x := c.x
	p := &x.plan
	u := &x.px
	for !u.dec.Done() {
		if u.tmp.Len() >= l.s.opts.ProxyMaxTempFile {
			// Checked before each write, as nginx does, so the file may
			// pass the limit by the last piece written.
			return l.startStream(c)
		}
		data, eof, ret, ok := l.upDecode(c)
		if !ok {
			return ret
		}
		if eof {
			break
		}
		if len(data) == 0 {
			continue
		}
		// A regular-file write on the loop, as nginx writes its temp
		// files: it may wait for the disk, never for the network.
		opened := u.tmp.File() != nil
		_, err := u.tmp.Write(data)
		if !opened && u.tmp.File() != nil {
			l.stats.tempFiles.Add(1)
		}
		if err != nil {
			return l.spillFailed(c, err)
		}
	}
	l.clearTimer(c)
	l.releaseUpstream(x)
	if p.ContentLength < 0 && !p.HeadOnly {
		p.ContentLength = int64(len(u.mem)) + u.tmp.Len()
	}
	p.Body = u.mem
	p.Proxy.Done()
	if !l.respond(c, false, afterResponse, p.Status >= 400) {
		return false
	}
	if _, body := coreio.Framing(p); body {
		l.queueSpill(x)
	} else {
		l.closeTemp(x)
	}
	return true
}

// queueSpill queues the temp file's bytes after what x.wa and x.wb
// hold; flush sends them and closes the file once they are sent.
func (l *loop) queueSpill(x *exchange) {
	u := &x.px
	if u.tmp.Len() == 0 {
		l.closeTemp(x)
		return
	}
	x.file, x.foff, x.fleft = u.tmp.File(), 0, u.tmp.Len()
	x.copyFile = !x.plan.Sendfile || x.conn.TLS // no sendfile under TLS
	x.fs, x.fe = 0, 0
	if !x.plan.Sendfile {
		l.stats.copies.Add(1)
	}
}

// spillFailed ends an exchange whose temp file could not be created or
// written (the disk is full, say): the upstream was not at fault and
// nothing went to the client yet, so the client gets a 500, as for a
// request body's temp file.
func (l *loop) spillFailed(c *conn, err error) bool {
	x := c.x
	l.s.log.Logf("crit", c.id, "%s while reading upstream", tempFileError(err))
	l.clearTimer(c)
	l.dropUpstream(x)
	l.closeTemp(x)
	x.px.mem = x.px.mem[:0]
	if px := x.plan.Proxy; px != nil {
		px.Done()
	}
	return l.reject(c, 500)
}

// isTemp reports whether f is the exchange's response temp file.
func (x *exchange) isTemp(f *os.File) bool {
	return f != nil && f == x.px.tmp.File()
}

// closeTemp closes the exchange's response temp file, which deletes it.
func (l *loop) closeTemp(x *exchange) {
	f := x.px.tmp.File()
	if f == nil {
		return
	}
	if x.file == f {
		x.file = nil
	}
	x.px.tmp.Close()
	l.stats.tempFiles.Add(-1)
}

// tempFileError is the error-log text of a temp file failure, nginx
// style: `write() "/tmp/..." failed (28: No space left on device)`.
func tempFileError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s() %q failed %s", pe.Op, pe.Path, errlog.ErrnoText(pe.Err))
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return "temp file failed " + errlog.ErrnoText(errno)
	}
	return err.Error()
}
