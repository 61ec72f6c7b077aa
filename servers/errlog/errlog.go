package errlog

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Log writes nginx-style lines:
//
//	2026/11/23 02:00:00 [error] 1234#7: *5 connect() failed (111: Connection refused) while connecting to upstream, client: ...
//
// where 1234 is the process id, 7 the calling thread's id and *5 the
// connection number. It is meant for failures, off the fast path. A nil
// *Log, or one with a nil writer, discards everything. Safe for
// concurrent use.
type Log struct {
	mu  sync.Mutex
	w   io.Writer
	pid int
	buf []byte
	min atomic.Int32 // the least severe level written (Rank); 0 writes all
}

// levels are nginx's error-log levels, least severe first.
var levels = [...]string{"debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"}

// Rank returns the severity of level, 0 for "debug" up to 7 for
// "emerg"; -1 when level is not one of nginx's.
func Rank(level string) int {
	for i, l := range levels {
		if l == level {
			return i
		}
	}
	return -1
}

// SetLevel makes l write only lines at level or more severe, as
// "error_log PATH LEVEL" does ("warn" drops info and notice lines). An
// unknown level, or "debug", writes everything.
func (l *Log) SetLevel(level string) {
	if l != nil {
		l.min.Store(int32(max(Rank(level), 0)))
	}
}

// Wants reports whether a line at level would be written.
func (l *Log) Wants(level string) bool {
	if !l.Enabled() {
		return false
	}
	r := Rank(level)
	return r < 0 || r >= int(l.min.Load())
}

// New returns a Log writing to w; nil w discards.
func New(w io.Writer) *Log {
	return &Log{w: w, pid: os.Getpid()}
}

// Enabled reports whether lines are written anywhere.
func (l *Log) Enabled() bool { return l != nil && l.w != nil }

// Logf writes one line at level for connection conn (0: none).
func (l *Log) Logf(level string, conn uint64, format string, args ...any) {
	if !l.Wants(level) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := time.Now().AppendFormat(l.buf[:0], "2006/01/02 15:04:05")
	b = fmt.Appendf(b, " [%s] %d#%d: ", level, l.pid, unix.Gettid())
	if conn != 0 {
		b = fmt.Appendf(b, "*%d ", conn)
	}
	b = fmt.Appendf(b, format, args...)
	b = append(b, '\n')
	l.w.Write(b)
	l.buf = b
}

// Func adapts w to engine.Options.ErrorLog, so the engine's lines share
// the cores' format (timestamp, level, pid#tid). nil w gives nil.
func Func(w io.Writer) func(level, msg string) {
	return FuncLevel(w, "")
}

// FuncLevel is Func writing only lines at level or more severe (see
// SetLevel): error_log's LEVEL.
func FuncLevel(w io.Writer, level string) func(level, msg string) {
	if w == nil {
		return nil
	}
	l := New(w)
	l.SetLevel(level)
	return func(level, msg string) { l.Logf(level, 0, "%s", msg) }
}

// ErrnoText renders a syscall error as nginx does: "(111: Connection refused)".
func ErrnoText(err error) string {
	if e, ok := err.(unix.Errno); ok {
		return fmt.Sprintf("(%d: %s)", int(e), capitalize(e.Error()))
	}
	return "(" + err.Error() + ")"
}

func capitalize(s string) string {
	if s != "" && 'a' <= s[0] && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
