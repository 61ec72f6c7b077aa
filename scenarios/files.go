package scenarios

import (
	"bufio"
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// embedded holds the scenario files of this directory.
//
//go:embed *.json
var embedded embed.FS

// programs holds the CGI programs a Site can name, copies of
// examples/cgi.
//
//go:embed programs/hello.sh programs/hello.c
var programs embed.FS

// order is the embedded set in the order All returns it: the quick set
// of `make bench` first, cheapest first, then the rest of `make
// bench-full`.
var order = []string{
	// quick
	"static-1k",
	"c10k-idle",
	"keepalive-off",
	"proxy-balance",
	"cgi-vs-app",
	// full
	"static-1m",
	"slow-clients",
	"backend-failure",
	"blue-green",
	"tls-cost",
}

// Names returns the names of the embedded scenarios in All's order.
func Names() []string { return append([]string(nil), order...) }

// All parses the embedded scenarios and returns them in a fixed order:
// static-1k, c10k-idle, keepalive-off, proxy-balance, cgi-vs-app (the
// quick set), then static-1m, slow-clients, backend-failure,
// blue-green, tls-cost. Every call returns new values the caller may change.
func All() ([]*Scenario, error) {
	all := make([]*Scenario, 0, len(order))
	for _, name := range order {
		s, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		all = append(all, s)
	}
	return all, nil
}

// Lookup parses the embedded scenario called name; an unknown name is
// an error wrapping ErrUnknownScenario that lists the known ones.
func Lookup(name string) (*Scenario, error) {
	file := name + ".json"
	if !validName(name) {
		return nil, fmt.Errorf("scenario %q: %w (known: %s)", name, ErrUnknownScenario, strings.Join(order, ", "))
	}
	data, err := embedded.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("scenario %q: %w (known: %s)", name, ErrUnknownScenario, strings.Join(order, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("scenario %q: %w", name, err)
	}
	return Parse(file, data)
}

// compileTimeout bounds the compilation of a CGI program.
const compileTimeout = 2 * time.Minute

// Prepare makes what a site serves from disk: every File under root
// (directories created as needed; content deterministic, non-zero
// bytes, fully written) and, when the site has a CGI location, its
// program under dir, executable. hello.c is compiled with cc or gcc;
// when neither is in PATH the error wraps ErrNoCompiler. It returns the
// program's absolute path, "" without CGI. A file path that would leave
// root is an error wrapping ErrUnsafePath.
func Prepare(s *Site, root, dir string) (cgiProgram string, err error) {
	if s == nil {
		return "", errors.New("prepare: no site")
	}
	if len(s.Files) > 0 {
		if root == "" {
			return "", errors.New("prepare: no document root")
		}
		if err := os.MkdirAll(root, 0o755); err != nil {
			return "", fmt.Errorf("prepare: %w", err)
		}
		r, err := os.OpenRoot(root)
		if err != nil {
			return "", fmt.Errorf("prepare: %w", err)
		}
		defer r.Close()
		for _, f := range s.Files {
			if err := writeFile(r, f); err != nil {
				return "", fmt.Errorf("prepare %q under %s: %w", f.Path, root, err)
			}
		}
	}
	if s.CGI == nil {
		return "", nil
	}
	if dir == "" {
		return "", errors.New("prepare: no directory for the CGI program")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("prepare: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("prepare: %w", err)
	}
	switch s.CGI.Program {
	case "hello.sh":
		return installScript(abs, "hello.sh")
	case "hello.c":
		return compileProgram(abs, "hello.c")
	}
	return "", fmt.Errorf("prepare: CGI program %q: want hello.sh or hello.c", s.CGI.Program)
}

// writeFile writes f under r: Size bytes of a repeating line of text.
func writeFile(r *os.Root, f File) error {
	if !validFilePath(f.Path) {
		return fmt.Errorf("%w: %q is not a clean path inside the document root", ErrUnsafePath, f.Path)
	}
	if f.Size < 0 {
		return fmt.Errorf("negative size %d", f.Size)
	}
	name := filepath.FromSlash(f.Path)
	if d := filepath.Dir(name); d != "." {
		if err := r.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	out, err := r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 64<<10)
	if err := fill(w, f.Size); err != nil {
		out.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// line is the content of every static file, repeated and cut at the
// file's size: printable, never zero, the same on every run.
const line = "c10k static file: 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"

// fill writes n bytes of line, repeated, to w.
func fill(w *bufio.Writer, n int64) error {
	for n > 0 {
		chunk := line
		if int64(len(chunk)) > n {
			chunk = chunk[:n]
		}
		if _, err := w.WriteString(chunk); err != nil {
			return err
		}
		n -= int64(len(chunk))
	}
	return nil
}

// installScript writes the embedded program name into dir, mode 0755,
// through a temporary file and a rename so that a running copy is never
// seen half-written.
func installScript(dir, name string) (string, error) {
	data, err := programs.ReadFile("programs/" + name)
	if err != nil {
		return "", fmt.Errorf("prepare: %w", err)
	}
	dst := filepath.Join(dir, name)
	if err := writeExecutable(dst, data); err != nil {
		return "", fmt.Errorf("prepare %s: %w", dst, err)
	}
	return dst, nil
}

func writeExecutable(dst string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o755)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// compiler returns the path of cc or gcc, or an error wrapping
// ErrNoCompiler.
func compiler() (string, error) {
	for _, name := range []string{"cc", "gcc"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoCompiler
}

// compileProgram writes the embedded C source name into dir and
// compiles it to the same name without ".c".
func compileProgram(dir, name string) (string, error) {
	cc, err := compiler()
	if err != nil {
		return "", fmt.Errorf("prepare: compile CGI program %s: %w", name, err)
	}
	src, err := programs.ReadFile("programs/" + name)
	if err != nil {
		return "", fmt.Errorf("prepare: %w", err)
	}
	srcPath := filepath.Join(dir, name)
	if err := os.WriteFile(srcPath, src, 0o644); err != nil {
		return "", fmt.Errorf("prepare: %w", err)
	}
	dst := filepath.Join(dir, strings.TrimSuffix(name, ".c"))
	// Compile to a temporary name and rename: a binary being run
	// cannot be written over (ETXTBSY), but it can be replaced.
	tmp := dst + ".tmp"
	ctx, cancel := context.WithTimeout(context.Background(), compileTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cc, "-O2", "-o", tmp, srcPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("prepare: %s %s: %w: %s", cc, srcPath, err, strings.TrimSpace(string(out)))
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("prepare: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("prepare: %w", err)
	}
	return dst, nil
}
