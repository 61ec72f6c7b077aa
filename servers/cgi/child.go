package cgi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/coreio"
)

// ChildEnv is the environment variable that makes a c10k process (or a
// test binary, through TestMain) a cgi core child: its environment
// holds ChildEnv=1 and nothing else.
const ChildEnv = "C10K_CGI_CHILD"

// IsChild reports whether this process was started as a cgi core
// child; its main must then return ChildMain's exit code at once.
func IsChild() bool { return os.Getenv(ChildEnv) == "1" }

// ChildMain serves the one job the parent wrote on stdin (see job) and
// returns the process exit code: 0 when a report was written, 1 when
// the job could not even be read.
func ChildMain() int {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	var j job
	payload, err := readFrame(in, &j, func(j *job) int { return j.Payload })
	if err != nil {
		fmt.Fprintf(os.Stderr, "cgi child: reading the job: %v\n", err)
		return 1
	}
	c := &child{in: in, out: out, j: &j}
	c.client, err = net.FileConn(os.NewFile(3, "client"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cgi child: client socket: %v\n", err)
		return 1
	}
	var r report
	switch j.Kind {
	case "bytes":
		r = c.write(payload)
	case "file":
		r = c.write(payload[:j.Head])
		switch {
		case r.Client == "" && j.Gzip != 0:
			r = c.sendGzip(os.NewFile(4, "file"), j.Offset, j.Length)
		case r.Client == "" && j.Length > 0:
			r = c.sendfile(os.NewFile(4, "file"), j.Offset, j.Length)
		}
	case "proxy":
		r = c.proxy(payload)
	default:
		fmt.Fprintf(os.Stderr, "cgi child: unknown job %q\n", j.Kind)
		return 1
	}
	if r.Event == "" {
		return 0 // a retried proxy attempt: the parent knows
	}
	c.report(&r, nil)
	return 0
}

// readFrame reads a JSON line into v and the payload of size(v) bytes
// after it.
func readFrame[T any](in *bufio.Reader, v *T, size func(*T) int) ([]byte, error) {
	line, err := in.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return nil, err
	}
	n := size(v)
	if n < 0 || n > 1<<30 {
		return nil, errors.New("bad payload size")
	}
	b := make([]byte, n)
	_, err = io.ReadFull(in, b)
	return b, err
}

type child struct {
	in     *bufio.Reader
	out    *bufio.Writer
	j      *job
	client net.Conn
	sent   bool
	bytes  int64 // written to the client so far (report.Bytes)
	whole  bool  // a cache fill's body was reported whole (stored)
}

func (c *child) report(r *report, extra []byte) {
	r.Bytes = c.bytes
	b, _ := json.Marshal(r)
	c.out.Write(b)
	c.out.WriteByte('\n')
	c.out.Write(extra)
	c.out.Flush()
}

// write sends b to the client within send_timeout.
func (c *child) write(b []byte) report {
	if len(b) == 0 {
		return report{Event: "done", Sent: c.sent}
	}
	if c.j.SendTimeout > 0 {
		c.client.SetWriteDeadline(time.Now().Add(c.j.SendTimeout))
	}
	n, err := c.client.Write(b)
	c.bytes += int64(n)
	if err != nil {
		return report{Event: "done", Sent: c.sent || n > 0, Client: err.Error()}
	}
	c.sent = true
	return report{Event: "done", Sent: true}
}

// sendfile sends [off, off+n) of f with sendfile(2) at an explicit
// offset (the descriptor may be shared through open_file_cache).
func (c *child) sendfile(f *os.File, off, n int64) report {
	defer f.Close()
	rc, err := c.client.(syscall.Conn).SyscallConn()
	if err != nil {
		return report{Event: "done", Client: err.Error()}
	}
	var werr error
	for n > 0 {
		if c.j.SendTimeout > 0 {
			c.client.SetWriteDeadline(time.Now().Add(c.j.SendTimeout))
		}
		err := rc.Write(func(fd uintptr) bool {
			k, err := unix.Sendfile(int(fd), int(f.Fd()), &off, int(min(n, 1<<30)))
			if err == unix.EAGAIN {
				return false
			}
			if err != nil {
				werr = err
			} else if k == 0 {
				werr = io.ErrUnexpectedEOF // the file shrank
			}
			n -= int64(max(k, 0))
			c.bytes += int64(max(k, 0))
			return true
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			return report{Event: "done", Sent: true, Client: err.Error()}
		}
	}
	return report{Event: "done", Sent: true}
}

// proxy runs one upstream attempt on the connection the parent passed
// as fd 4.
func (c *child) proxy(reqBytes []byte) report {
	j := c.j
	got := false // a response byte arrived
	fail := func(stage engine.Stage, err error) report {
		r := report{Event: "fail", Stage: int(stage), Failure: "error", Sent: c.sent}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.Failure = "timeout"
		} else if errors.Is(err, errInvalidHeader) {
			r.Failure = "invalid_header"
		}
		if r.Failure != "timeout" {
			r.Err = osText(stage, err)
		}
		r.Stale = !got && stage <= engine.StageReadHeader && (errors.Is(err, errPrematureClose) ||
			errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
		return r
	}
	up, err := net.FileConn(os.NewFile(4, "upstream"))
	if err != nil {
		return fail(engine.StageSend, err)
	}
	defer up.Close()
	if j.Send > 0 {
		up.SetWriteDeadline(time.Now().Add(j.Send))
	}
	if _, err := up.Write(reqBytes); err != nil {
		return fail(engine.StageSend, err)
	}
	buf := make([]byte, 32<<10)
	n, hn := 0, 0
	var resp http1.Response
	var parser http1.Parser
	for {
		if j.Read > 0 {
			up.SetReadDeadline(time.Now().Add(j.Read))
		}
		if n == len(buf) {
			return fail(engine.StageReadHeader, errInvalidHeader)
		}
		k, err := up.Read(buf[n:])
		n += k
		if k > 0 {
			got = true
			h, perr := parser.ParseResponse(buf[:n], &resp, j.HeadRequest)
			if perr == nil && resp.Interim() {
				copy(buf, buf[h:n])
				n -= h
				parser.Reset()
				continue
			}
			if perr == nil {
				hn = h
				break
			}
			if !errors.Is(perr, http1.ErrIncomplete) {
				return fail(engine.StageReadHeader, errInvalidHeader)
			}
		}
		if err != nil {
			if err == io.EOF {
				err = errPrematureClose
			}
			return fail(engine.StageReadHeader, err)
		}
	}
	c.report(&report{Event: "head", Head: hn}, buf[:hn])
	var v verdict
	head, err := readFrame(c.in, &v, func(v *verdict) int { return v.Head })
	if err != nil || v.Retry {
		return report{}
	}
	var dec http1.Body
	resp.InitBody(&dec)
	rest := buf[hn:n]
	closed := false
	if v.NoBody {
		r := c.write(head)
		r.Reuse = r.Client == "" && resp.KeepAlive && dec.Done() && len(rest) == 0
		return r
	}
	// Buffering on, the body is read whole before anything goes out, so
	// that a failure is still the parent's to retry or answer.
	var held []byte
	emit := func(b []byte) report {
		if j.Buffering {
			held = append(held, b...)
			return report{}
		}
		return c.write(b)
	}
	if j.Buffering {
		held = append(held, head...)
	} else if r := c.write(head); r.Client != "" {
		return r
	}
	var frame []byte
	var gz coreio.Gzip
	if v.Gzip != 0 {
		gz.Start(v.Gzip, v.Chunked)
		defer gz.Release()
	}
	for !dec.Done() {
		for len(rest) > 0 && !dec.Done() {
			data, k, err := dec.Decode(rest)
			if err != nil {
				return fail(engine.StageRead, errInvalidHeader)
			}
			rest = rest[k:]
			if len(data) > 0 && v.Cache {
				c.report(&report{Event: "body", Body: len(data)}, data) // for the parent's cache entry
			}
			if v.Cache && dec.Done() {
				c.stored() // before the client can have the whole response
			}
			if len(data) > 0 && v.Gzip != 0 {
				gz.Write(data)
				if len(rest) == 0 && !j.Buffering {
					gz.Flush() // the client sees each upstream read
				}
				if r := emit(gz.Pending()); r.Client != "" {
					return r
				}
				gz.Consume(len(gz.Pending()))
			} else if len(data) > 0 {
				out := data
				if v.Chunked {
					frame = http1.AppendChunk(frame[:0], data)
					out = frame
				}
				if r := emit(out); r.Client != "" {
					return r
				}
			}
		}
		if dec.Done() {
			break
		}
		if j.Read > 0 {
			up.SetReadDeadline(time.Now().Add(j.Read))
		}
		k, err := up.Read(buf)
		rest = buf[:k]
		if err != nil && k == 0 {
			if err == io.EOF {
				if dec.EOF() == nil {
					closed = true
					break
				}
				err = errPrematureClose
			}
			return fail(engine.StageRead, err)
		}
	}
	if v.Cache {
		c.stored() // a chunked or close-delimited body: its end goes out next
	}
	// Whole, framed, nothing after it and keep-alive: the parent may
	// pool the connection.
	reuse := !closed && resp.KeepAlive && len(rest) == 0
	if v.Gzip != 0 {
		gz.Close() // the end of the stream, and the last chunk
		if r := emit(gz.Pending()); r.Client != "" {
			return r
		}
	} else if v.Chunked {
		if r := emit(http1.AppendLastChunk(nil)); r.Client != "" {
			return r
		}
	}
	if j.Buffering {
		r := c.write(held)
		r.Reuse = reuse && r.Client == ""
		return r
	}
	return report{Event: "done", Sent: true, Reuse: reuse}
}

// stored tells the parent, once, that the upstream body of a cache fill
// was read whole (a "whole" report) and waits for its answer: the
// parent has stored the entry then. The child writes the end of the
// response only afterwards, so that a client that asks again as soon
// as it has the response finds the entry (a hit) rather than a miss.
func (c *child) stored() {
	if c.whole {
		return
	}
	c.whole = true
	c.report(&report{Event: "whole"}, nil)
	var ack verdict
	readFrame(c.in, &ack, func(*verdict) int { return 0 }) // EOF: the parent is gone, carry on
}

var (
	errInvalidHeader  = errors.New("upstream sent invalid header")
	errPrematureClose = errors.New("upstream prematurely closed connection")
)

// osText words err as nginx's log does: "connect() failed (111:
// Connection refused)".
func osText(stage engine.Stage, err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		call := "recv()"
		switch stage {
		case engine.StageConnect:
			call = "connect()"
		case engine.StageSend:
			call = "send()"
		}
		return fmt.Sprintf("%s failed (%d: %s)", call, int(errno), errno.Error())
	}
	return err.Error()
}

// sendGzip sends [off, off+n) of f compressed (job.Gzip), read with
// pread at explicit offsets (the descriptor may be shared through
// open_file_cache), each write within send_timeout.
func (c *child) sendGzip(f *os.File, off, n int64) report {
	defer f.Close()
	var gz coreio.Gzip
	gz.Start(c.j.Gzip, c.j.Chunked)
	defer gz.Release()
	write := func(b []byte) error {
		if r := c.write(b); r.Client != "" {
			return errors.New(r.Client)
		}
		return nil
	}
	if err := gz.SendFile(f, off, n, make([]byte, 64<<10), write); err != nil {
		return report{Event: "done", Sent: c.sent, Client: err.Error()}
	}
	return report{Event: "done", Sent: true}
}
