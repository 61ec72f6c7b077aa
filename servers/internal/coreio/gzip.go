package coreio

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/c10k/c10k/servers/http1"
)

// gzipWriters pools one compress/gzip writer per level (1-9), shared by
// every connection of the process.
var gzipWriters [10]sync.Pool

// Gzip is the streaming compressor every core uses for a plan with
// engine.Plan.Gzip set: a file region, a proxied body streamed or
// buffered. Body bytes go in with Write (or WriteFile, ReadFile); the
// compressed bytes come out framed for the client — as HTTP/1.1
// chunks, or raw for a close-delimited body or a caller that frames
// them itself (net/http) — in Pending, which the core sends and then
// marks sent with Consume. Close ends the gzip stream (and the chunked
// body, with its last chunk). A Gzip is reused: Start begins a response,
// and Close or Release gives the compressor state back to the pool, so
// an idle connection holds none.
type Gzip struct {
	zw      *gzip.Writer
	level   int
	chunked bool
	raw     []byte // compressed bytes of the current Write, before framing
	out     []byte // framed bytes not yet sent: out[off:]
	off     int
	sink    gzipSink
}

// gzipSink receives the gzip writer's output into Gzip.raw.
type gzipSink struct{ g *Gzip }

func (s gzipSink) Write(b []byte) (int, error) {
	s.g.raw = append(s.g.raw, b...)
	return len(b), nil
}

// Start readies g for a new body compressed at level (engine.Plan.Gzip,
// 1-9; others are taken as 1), its output framed as chunks when chunked
// (the head announced chunked: AppendHead's report) or raw otherwise.
func (g *Gzip) Start(level int, chunked bool) {
	g.Release()
	if level < 1 || level > 9 {
		level = 1
	}
	g.level, g.chunked = level, chunked
	g.sink.g = g
	if zw, ok := gzipWriters[level].Get().(*gzip.Writer); ok {
		zw.Reset(g.sink)
		g.zw = zw
	} else {
		g.zw, _ = gzip.NewWriterLevel(g.sink, level)
	}
	g.out, g.off = g.out[:0], 0
}

// Active reports whether g has a body in progress (Start without Close
// or Release).
func (g *Gzip) Active() bool { return g.zw != nil }

// Write compresses b; the framed output, if the compressor produced
// any, is added to Pending.
func (g *Gzip) Write(b []byte) (int, error) {
	if g.zw == nil {
		return 0, errGzipDone
	}
	if len(b) == 0 {
		return 0, nil
	}
	g.raw = g.raw[:0]
	n, err := g.zw.Write(b)
	g.frame()
	return n, err
}

// Flush pushes what the compressor holds out to Pending (a gzip sync
// flush), for a streamed body whose client should see each piece as it
// arrives.
func (g *Gzip) Flush() error {
	if g.zw == nil {
		return errGzipDone
	}
	g.raw = g.raw[:0]
	err := g.zw.Flush()
	g.frame()
	return err
}

// Close ends the gzip stream: its last bytes, and the last chunk of a
// chunked body, are added to Pending. The compressor goes back to the
// pool; Pending stays valid until the next Start.
func (g *Gzip) Close() error {
	if g.zw == nil {
		return errGzipDone
	}
	g.raw = g.raw[:0]
	err := g.zw.Close()
	g.frame()
	if g.chunked {
		g.out = http1.AppendLastChunk(g.out)
	}
	g.Release()
	return err
}

// Release abandons the body in progress, if any, and gives the
// compressor back to the pool. Pending is left as it is.
func (g *Gzip) Release() {
	if g.zw == nil {
		return
	}
	g.zw.Reset(io.Discard)
	gzipWriters[g.level].Put(g.zw)
	g.zw = nil
	if cap(g.raw) > 64<<10 {
		g.raw = nil
	}
}

// Pending returns the framed output not yet sent.
func (g *Gzip) Pending() []byte { return g.out[g.off:] }

// Consume marks n bytes of Pending sent.
func (g *Gzip) Consume(n int) {
	g.off += n
	if g.off >= len(g.out) {
		g.out, g.off = g.out[:0], 0
		if cap(g.out) > 256<<10 {
			g.out = nil
		}
	}
}

// frame moves raw into out, as one chunk when chunked.
func (g *Gzip) frame() {
	if len(g.raw) == 0 {
		return
	}
	if g.chunked {
		g.out = AppendChunkSize(g.out, len(g.raw))
		g.out = append(g.out, g.raw...)
		g.out = append(g.out, "\r\n"...)
	} else {
		g.out = append(g.out, g.raw...)
	}
	g.raw = g.raw[:0]
}

// ReadFile reads the next piece of the file region [*off, *off+*left)
// of f into buf with pread (the descriptor may be shared: its offset is
// not moved) and compresses it, advancing *off and *left; a file that
// ends early is io.ErrUnexpectedEOF. With nothing left it does
// nothing: the caller then goes on with the body, or ends it (Close). A
// non-blocking core calls it when Pending is empty.
func (g *Gzip) ReadFile(f *os.File, off, left *int64, buf []byte) error {
	if *left <= 0 {
		return nil
	}
	b := buf
	if int64(len(b)) > *left {
		b = b[:*left]
	}
	r, err := f.ReadAt(b, *off)
	if r == 0 && err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read %s: %w", f.Name(), err)
	}
	*off += int64(r)
	*left -= int64(r)
	_, err = g.Write(b[:r])
	return err
}

// WriteTo sends all of Pending with write, for a blocking core.
func (g *Gzip) WriteTo(write func([]byte) error) error {
	for p := g.Pending(); len(p) > 0; p = g.Pending() {
		if err := write(p); err != nil {
			return err
		}
		g.Consume(len(p))
	}
	return nil
}

// SendFile compresses the file region [off, off+n) of f and sends the
// framed output with write, then ends the body (Close), reading
// through buf: the blocking cores' path for a File plan with Gzip.
func (g *Gzip) SendFile(f *os.File, off, n int64, buf []byte, write func([]byte) error) error {
	if err := g.CopyFile(f, off, n, buf, write); err != nil {
		return err
	}
	g.Close()
	return g.WriteTo(write)
}

// CopyFile compresses the file region [off, off+n) of f and sends the
// framed output with write, reading through buf, without ending the
// body: a blocking core's path for a proxied body buffered in a temp
// file, which more bytes may follow. On an error the body is
// abandoned (Release).
func (g *Gzip) CopyFile(f *os.File, off, n int64, buf []byte, write func([]byte) error) error {
	for n > 0 {
		if err := g.ReadFile(f, &off, &n, buf); err != nil {
			g.Release()
			return err
		}
		if err := g.WriteTo(write); err != nil {
			g.Release()
			return err
		}
	}
	return nil
}

// SendBytes compresses b, ends the body and sends the framed output
// with write: a blocking core's path for an in-memory body with Gzip
// (a buffered proxied answer).
func (g *Gzip) SendBytes(b []byte, write func([]byte) error) error {
	g.Write(b)
	g.Close()
	return g.WriteTo(write)
}
