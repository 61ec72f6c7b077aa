package errlog

import (
	"fmt"
	"io"
	"os"
)

// File is a program's error log: a Filter in front of the file that
// error_log names ("stderr" for the standard error), which a reload
// changes in two steps, as nginx reopens its logs on a reload: Prepare
// opens the new config's file, and Commit switches to it and to the new
// level once the reload succeeded (Abandon closes it when the reload
// was refused). Lines written during the switch go to one file or the
// other, never nowhere.
type File struct {
	Filter
	path     string   // the file written now: "stderr", or a path
	f        *os.File // its descriptor; nil for stderr
	next     *os.File // prepared by Prepare
	nextPath string
}

// Open opens the error log at path ("stderr", or a file appended to and
// created 0644 when missing) writing lines at level or more severe.
func Open(path, level string) (*File, error) {
	l := &File{}
	f, err := openLog(path)
	if err != nil {
		return nil, err
	}
	l.path, l.f = path, f
	l.SetLevel(level)
	l.SetOutput(logWriter(f))
	return l, nil
}

// Prepare opens path for a Commit to switch to; it keeps the current
// file when path is the same.
func (l *File) Prepare(path string) error {
	l.Abandon()
	if path == l.path {
		return nil
	}
	f, err := openLog(path)
	if err != nil {
		return err
	}
	l.next, l.nextPath = f, path
	return nil
}

// Commit switches to the file Prepare opened, if any, closing the one
// it replaces, and to level. A nil *File does nothing.
func (l *File) Commit(level string) {
	if l == nil {
		return
	}
	if l.nextPath != "" {
		old := l.f
		l.SetOutput(logWriter(l.next))
		l.path, l.f = l.nextPath, l.next
		l.next, l.nextPath = nil, ""
		if old != nil {
			old.Close()
		}
	}
	l.SetLevel(level)
}

// Abandon closes a file Prepare opened and Commit did not take. A nil
// *File does nothing.
func (l *File) Abandon() {
	if l == nil {
		return
	}
	if l.next != nil {
		l.next.Close()
	}
	l.next, l.nextPath = nil, ""
}

// Close closes the file (not stderr); later lines are dropped.
func (l *File) Close() error {
	l.Abandon()
	l.SetOutput(nil)
	if l.f != nil {
		return l.f.Close()
	}
	return nil
}

func openLog(path string) (*os.File, error) {
	if path == "stderr" || path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open() %q failed %s", path, ErrnoText(unwrapErrno(err)))
	}
	return f, nil
}

// logWriter is f, or stderr for nil.
func logWriter(f *os.File) io.Writer {
	if f == nil {
		return os.Stderr
	}
	return f
}

// unwrapErrno returns the errno inside a *PathError, for ErrnoText.
func unwrapErrno(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
