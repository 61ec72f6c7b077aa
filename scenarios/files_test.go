package scenarios

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestPrepareFiles(t *testing.T) {
	root := filepath.Join(t.TempDir(), "new", "root")
	site := &Site{Files: []File{{"1k.txt", 1024}, {"a/b/c.bin", 200_000}, {"empty", 0}, {"odd.txt", 7}}}
	prog, err := Prepare(site, root, "")
	if err != nil || prog != "" {
		t.Fatalf("Prepare = %q, %v", prog, err)
	}
	first := make(map[string][]byte)
	for _, f := range site.Files {
		p := filepath.Join(root, f.Path)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != f.Size {
			t.Errorf("%s: %d bytes, want %d", f.Path, len(data), f.Size)
		}
		if bytes.IndexByte(data, 0) >= 0 {
			t.Errorf("%s holds a zero byte", f.Path)
		}
		if !bytes.HasPrefix([]byte(strings.Repeat(line, int(f.Size)/len(line)+1)), data) {
			t.Errorf("%s: content is not the repeated line", f.Path)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Blocks*512 < f.Size {
			t.Errorf("%s is sparse: %d blocks for %d bytes", f.Path, st.Blocks, f.Size)
		}
		first[f.Path] = data
	}
	// Again, over the files of the first call (one made longer than
	// wanted): the same content.
	if err := os.WriteFile(filepath.Join(root, "odd.txt"), bytes.Repeat([]byte("z"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(site, root, ""); err != nil {
		t.Fatal(err)
	}
	for _, f := range site.Files {
		data, _ := os.ReadFile(filepath.Join(root, f.Path))
		if !bytes.Equal(data, first[f.Path]) {
			t.Errorf("%s differs on the second Prepare", f.Path)
		}
	}
}

func TestPrepareUnsafe(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	outside := filepath.Join(tmp, "outside")
	for _, dir := range []string{root, outside} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path   string
		target error
	}{
		{"../x", ErrUnsafePath},
		{"/etc/x", ErrUnsafePath},
		{"a/../../x", ErrUnsafePath},
		{"a b", ErrUnsafePath},
		{"link/x", nil}, // os.Root refuses to follow it out
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := Prepare(&Site{Files: []File{{tt.path, 10}}}, root, "")
			if err == nil {
				t.Fatal("no error")
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("error %v, want %v", err, tt.target)
			}
			if !strings.Contains(err.Error(), "prepare ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if entries, _ := os.ReadDir(outside); len(entries) > 0 {
		t.Errorf("Prepare wrote outside the root: %v", entries)
	}
}

func TestPrepareErrors(t *testing.T) {
	if _, err := Prepare(nil, "/x", "/y"); err == nil {
		t.Error("Prepare(nil) succeeded")
	}
	if _, err := Prepare(&Site{Files: []File{{"a", 1}}}, "", ""); err == nil || !strings.Contains(err.Error(), "no document root") {
		t.Errorf("Prepare without root: %v", err)
	}
	if _, err := Prepare(&Site{CGI: &CGI{"/cgi", "hello.sh"}}, "", ""); err == nil || !strings.Contains(err.Error(), "no directory") {
		t.Errorf("Prepare without dir: %v", err)
	}
	if _, err := Prepare(&Site{CGI: &CGI{"/cgi", "evil.sh"}}, "", t.TempDir()); err == nil || !strings.Contains(err.Error(), `"evil.sh"`) {
		t.Errorf("Prepare with an unknown program: %v", err)
	}
}

// runCGI runs a CGI program as a server would and returns its output.
func runCGI(t *testing.T, prog string) string {
	t.Helper()
	cmd := exec.Command(prog)
	cmd.Env = []string{"SCRIPT_NAME=/cgi-bin/hello", "PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", prog, err)
	}
	return string(out)
}

const helloOutput = "Content-Type: text/plain\r\n\r\nhello from /cgi-bin/hello\n"

func TestPrepareScript(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	for range 2 { // the second time over the first's program
		prog, err := Prepare(&Site{CGI: &CGI{"/cgi-bin/hello", "hello.sh"}}, "", dir)
		if err != nil {
			t.Fatal(err)
		}
		if prog != filepath.Join(dir, "hello.sh") || !filepath.IsAbs(prog) {
			t.Fatalf("program %q", prog)
		}
		fi, err := os.Stat(prog)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("mode %v, want 0755", fi.Mode().Perm())
		}
		if got := runCGI(t, prog); got != helloOutput {
			t.Errorf("output %q, want %q", got, helloOutput)
		}
	}
	// No temporary file stays behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %v", entries)
	}
}

func TestPrepareCompiled(t *testing.T) {
	if _, err := compiler(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	prog, err := Prepare(&Site{CGI: &CGI{"/cgi-bin/hello", "hello.c"}}, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if prog != filepath.Join(dir, "hello") {
		t.Fatalf("program %q", prog)
	}
	if got := runCGI(t, prog); got != helloOutput {
		t.Errorf("output %q, want %q", got, helloOutput)
	}
}

func TestPrepareNoCompiler(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Prepare(&Site{CGI: &CGI{"/cgi-bin/hello", "hello.c"}}, "", t.TempDir())
	if !errors.Is(err, ErrNoCompiler) || !strings.Contains(err.Error(), "hello.c") {
		t.Errorf("error %v, want ErrNoCompiler naming hello.c", err)
	}
}

// TestProgramsMatchExamples keeps the embedded CGI programs equal to
// examples/cgi, which make bench-cgi and the README use.
func TestProgramsMatchExamples(t *testing.T) {
	for _, name := range []string{"hello.sh", "hello.c"} {
		want, err := os.ReadFile(filepath.Join("..", "examples", "cgi", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := programs.ReadFile("programs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("programs/%s differs from examples/cgi/%s: copy it again", name, name)
		}
	}
}
