package thread

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// errorLog writes nginx-style lines:
//
//	2026/11/23 02:00:00 [error] 1234#7: *5 connect() failed (111: Connection refused) while connecting to upstream, client: ...
//
// where 1234 is the process id, 7 the worker's thread id and *5 the
// connection number. It is off the fast path: only failures log.
type errorLog struct {
	mu  sync.Mutex
	w   io.Writer
	pid int
	buf []byte
}

func newErrorLog(w io.Writer) *errorLog {
	return &errorLog{w: w, pid: os.Getpid()}
}

func (l *errorLog) logf(level string, conn uint64, format string, args ...any) {
	if l == nil || l.w == nil {
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

// ErrorLogFunc adapts w to engine.Options.ErrorLog, so the engine's lines
// share the core's nginx-style format (timestamp, level, pid#tid).
func ErrorLogFunc(w io.Writer) func(level, msg string) {
	if w == nil {
		return nil
	}
	l := newErrorLog(w)
	return func(level, msg string) { l.logf(level, 0, "%s", msg) }
}

// errnoText renders a syscall error as nginx does: "(111: Connection refused)".
func errnoText(err error) string {
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
