package errlog

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
)

// Filter is the writer in front of an error log's file: it passes on the
// lines at its level or more severe and drops the others, as
// "error_log PATH LEVEL" does, for every Log and engine function that
// writes to it. A program gives one Filter to all of them and changes
// its level and output when its config is reloaded, as nginx reopens its
// error log on a reload.
//
// Each Write must be whole lines as Log writes them ("2026/11/23
// 02:00:00 [warn] ..."); a line whose level it cannot read is passed on.
// The zero Filter discards everything until SetOutput. Safe for
// concurrent use.
type Filter struct {
	mu  sync.Mutex
	w   io.Writer
	min atomic.Int32 // the least severe Rank passed on
}

// NewFilter returns a Filter writing lines at level or more severe to w
// (see Log.SetLevel for the levels).
func NewFilter(w io.Writer, level string) *Filter {
	f := &Filter{w: w}
	f.SetLevel(level)
	return f
}

// SetLevel changes the least severe level passed on; an unknown level,
// or "debug", passes everything.
func (f *Filter) SetLevel(level string) { f.min.Store(int32(max(Rank(level), 0))) }

// SetOutput makes f write to w from now on and returns the writer it
// wrote to before, for the caller to close once no line is on its way
// to it: SetOutput returns after any Write in progress.
func (f *Filter) SetOutput(w io.Writer) (old io.Writer) {
	f.mu.Lock()
	old, f.w = f.w, w
	f.mu.Unlock()
	return old
}

// Write writes b, one or more lines, when their level is wanted. It
// reports len(b) written when it drops them, so that callers see no
// error.
func (f *Filter) Write(b []byte) (int, error) {
	if r := lineRank(b); r >= 0 && r < int(f.min.Load()) {
		return len(b), nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		return len(b), nil
	}
	return f.w.Write(b)
}

// lineRank returns the Rank of the "[level]" near the start of an
// error-log line (after the date and time), or -1.
func lineRank(b []byte) int {
	const head = 32 // "2026/11/23 02:00:00 [emerg]" and some slack
	if len(b) > head {
		b = b[:head]
	}
	i := bytes.IndexByte(b, '[')
	if i < 0 {
		return -1
	}
	j := bytes.IndexByte(b[i:], ']')
	if j < 0 {
		return -1
	}
	return Rank(string(b[i+1 : i+j]))
}
