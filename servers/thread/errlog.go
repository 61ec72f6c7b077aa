package thread

import (
	"io"

	"github.com/c10k/c10k/servers/errlog"
)

// errorLog is the core's nginx-style error log (servers/errlog).
type errorLog = errlog.Log

func newErrorLog(w io.Writer) *errorLog { return errlog.New(w) }

// ErrorLogFunc adapts w to engine.Options.ErrorLog, so the engine's lines
// share the core's nginx-style format (timestamp, level, pid#tid). It is
// errlog.Func, kept for callers of this package.
func ErrorLogFunc(w io.Writer) func(level, msg string) { return errlog.Func(w) }

// errnoText renders a syscall error as nginx does: "(111: Connection refused)".
func errnoText(err error) string { return errlog.ErrnoText(err) }
