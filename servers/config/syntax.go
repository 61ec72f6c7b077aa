package config

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

//go:embed mime.types
var builtinMimeTypes []byte

// builtinMimeName is the file name errors give for the built-in mime.types.
const builtinMimeName = "mime.types (built-in)"

// maxDepth bounds block nesting, so that hostile input cannot exhaust the
// stack (nginx has no limit; real configs nest a few levels).
const maxDepth = 100

// directive is one statement of the syntax tree, with includes expanded.
type directive struct {
	name     string
	args     []string
	quoted   []bool // per argument: it was a quoted string
	pos      Pos
	block    []*directive
	hasBlock bool
}

// source reads config files: from disk or from an fs.FS.
type source interface {
	// resolve turns an include argument into a path for readFile or glob.
	resolve(p string) string
	readFile(name string) ([]byte, error)
	glob(pattern string) ([]string, error)
}

type diskSource struct{ prefix string }

func (s diskSource) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(s.prefix, p)
}
func (s diskSource) readFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (s diskSource) glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

type fsSource struct {
	fsys   fs.FS
	prefix string
}

// resolve treats an absolute path as rooted at the top of the fs.FS.
func (s fsSource) resolve(p string) string {
	if strings.HasPrefix(p, "/") {
		p = strings.TrimLeft(p, "/")
		if p == "" {
			return "."
		}
		return path.Clean(p)
	}
	return path.Join(s.prefix, p)
}
func (s fsSource) readFile(name string) ([]byte, error)  { return fs.ReadFile(s.fsys, name) }
func (s fsSource) glob(pattern string) ([]string, error) { return fs.Glob(s.fsys, pattern) }

// reader builds the syntax tree of a config, expanding includes.
type reader struct {
	src    source
	active map[string]bool // files being read, for include cycles
}

// readFile parses a whole file.
func (r *reader) readFile(name string, src []byte) ([]*directive, error) {
	r.active[name] = true
	defer delete(r.active, name)
	l := newLexer(name, src)
	return r.readBlock(l, 0)
}

// readBlock reads statements up to the "}" closing the block (depth > 0)
// or the end of the file (depth 0).
func (r *reader) readBlock(l *lexer, depth int) ([]*directive, error) {
	var list []*directive
	for {
		words, end, err := l.next()
		if err != nil {
			return nil, err
		}
		switch end {
		case endEOF:
			if depth > 0 {
				return nil, l.errorf(`unexpected end of file, expecting "}"`)
			}
			return list, nil
		case endClose:
			if depth == 0 {
				return nil, l.errorf(`unexpected "}"`)
			}
			return list, nil
		}
		d := &directive{
			name: words[0].text,
			pos:  Pos{l.file, words[0].line},
		}
		if n := len(words) - 1; n > 0 {
			d.args = make([]string, n)
			d.quoted = make([]bool, n)
			for i, w := range words[1:] {
				d.args[i] = w.text
				d.quoted[i] = w.quoted
			}
		}
		if d.name == "include" {
			if end == endOpen {
				return nil, d.errorf(`directive "include" is not terminated by ";"`)
			}
			if len(d.args) != 1 {
				return nil, d.errorf(`invalid number of arguments in "include" directive`)
			}
			inc, err := r.include(d)
			if err != nil {
				return nil, err
			}
			list = append(list, inc...)
			continue
		}
		if end == endOpen {
			if depth+1 > maxDepth {
				return nil, d.errorf("blocks nested too deeply in %q directive", d.name)
			}
			d.hasBlock = true
			d.block, err = r.readBlock(l, depth+1)
			if err != nil {
				return nil, err
			}
		}
		list = append(list, d)
	}
}

// include reads the files an include directive names.
func (r *reader) include(d *directive) ([]*directive, error) {
	arg := d.args[0]
	name := r.src.resolve(arg)
	if !strings.ContainsAny(arg, "*?[") {
		return r.includeFile(d, name, true)
	}
	names, err := r.src.glob(name)
	if err != nil {
		return nil, &Error{Pos: d.pos, Directive: d.name, Err: err,
			Msg: fmt.Sprintf("invalid pattern %q in \"include\" directive: %v", arg, err)}
	}
	var list []*directive
	for _, n := range names { // sorted, as nginx does
		inc, err := r.includeFile(d, n, false)
		if err != nil {
			return nil, err
		}
		list = append(list, inc...)
	}
	return list, nil
}

func (r *reader) includeFile(d *directive, name string, builtin bool) ([]*directive, error) {
	if r.active[name] {
		return nil, d.errorf("include cycle: %q includes itself in \"include\" directive", name)
	}
	src, err := r.src.readFile(name)
	if err != nil {
		if builtin && errors.Is(err, fs.ErrNotExist) && path.Base(filepath.ToSlash(name)) == "mime.types" {
			return r.readFile(builtinMimeName, builtinMimeTypes)
		}
		return nil, &Error{Pos: d.pos, Directive: d.name, Err: err,
			Msg: fmt.Sprintf("cannot open %q in \"include\" directive: %v", name, unwrapPath(err))}
	}
	return r.readFile(name, src)
}

// unwrapPath drops the *fs.PathError wrapping, whose path the message
// already names.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

func (d *directive) errorf(format string, args ...any) *Error {
	return &Error{Pos: d.pos, Directive: d.name, Msg: fmt.Sprintf(format, args...)}
}
