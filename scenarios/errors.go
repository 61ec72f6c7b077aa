package scenarios

import (
	"errors"
	"strconv"
)

// Sentinel errors of the package; test for them with errors.Is.
var (
	// ErrSyntax is wrapped by Parse errors for a file that is not a
	// scenario's JSON: a syntax error, a value of the wrong type, an
	// unknown or repeated field.
	ErrSyntax = errors.New("malformed scenario")
	// ErrInvalid is wrapped by Parse errors for a well-formed scenario
	// whose values do not make sense together (a step with both
	// connections and rate, an event past its step, ...).
	ErrInvalid = errors.New("invalid scenario")
	// ErrUnknownScenario is wrapped by Lookup for a name that is not in
	// the embedded set.
	ErrUnknownScenario = errors.New("unknown scenario")
	// ErrEnv is wrapped by NginxConf errors for an Env that lacks what
	// the site needs: a listen address, a backend's address, the CGI
	// program.
	ErrEnv = errors.New("incomplete environment")
	// ErrUnsafePath is wrapped for a path that escapes its directory or
	// that a config file cannot hold safely.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrNoCompiler is wrapped by Prepare when a CGI program must be
	// compiled (hello.c) and neither cc nor gcc is in PATH.
	ErrNoCompiler = errors.New("no C compiler (cc or gcc) in PATH")
)

// Error is one problem of a scenario file. Syntax errors have a Line
// and Col; semantic ones name only the Field.
type Error struct {
	File  string // the name given to Parse, e.g. "static-1k.json"
	Line  int    // 1-based; 0 when unknown
	Col   int    // 1-based byte column; 0 when unknown
	Field string // path of the field: "steps[2].rate"; "" for the whole file
	Msg   string
	Err   error // ErrSyntax or ErrInvalid
}

// Error returns "FILE:LINE:COL: FIELD: MSG", leaving out what is unknown.
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Col)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// Unwrap returns ErrSyntax or ErrInvalid.
func (e *Error) Unwrap() error { return e.Err }
