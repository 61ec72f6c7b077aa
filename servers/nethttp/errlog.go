package nethttp

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// errorLog writes nginx-style lines ("2026/11/23 02:00:00 [error] 1234#0:
// message"). Only failures log: it is off the fast path.
type errorLog struct {
	mu  sync.Mutex
	w   io.Writer
	pid int
	buf []byte
}

func newErrorLog(w io.Writer) *errorLog { return &errorLog{w: w, pid: os.Getpid()} }

func (l *errorLog) logf(level, format string, args ...any) {
	if l == nil || l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := time.Now().AppendFormat(l.buf[:0], "2006/01/02 15:04:05")
	b = fmt.Appendf(b, " [%s] %d#0: ", level, l.pid)
	b = fmt.Appendf(b, format, args...)
	b = append(b, '\n')
	l.w.Write(b)
	l.buf = b
}

// ErrorLogFunc adapts w to engine.Options.ErrorLog, so the engine's lines
// share the core's nginx-style format.
func ErrorLogFunc(w io.Writer) func(level, msg string) {
	if w == nil {
		return nil
	}
	l := newErrorLog(w)
	return func(level, msg string) { l.logf(level, "%s", msg) }
}

// logAdapter turns net/http's own log lines into "[info]" lines.
type logAdapter struct{ l *errorLog }

func (a logAdapter) Write(p []byte) (int, error) {
	a.l.logf("info", "net/http: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
