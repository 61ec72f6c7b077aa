package servertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mtime is the modification time of every docroot file, so that
// Last-Modified is known exactly.
var mtime = time.Date(2024, time.January, 2, 3, 4, 5, 0, time.UTC)

// Docroot contents.
const (
	indexHTML    = "<!doctype html><title>c10k index</title>\n"
	dirIndexHTML = "<!doctype html><title>c10k dir</title>\n"
	custom404    = "<!doctype html><title>custom 404 page of the suite</title>\n"
	sentinel     = "OUTSIDE-THE-DOCROOT-c10k-sentinel\n"
	// defaultType is the config's default_type, deliberately unusual so
	// that a hard-coded fallback is told apart.
	defaultType = "application/x-c10k-unknown"
)

// site is the docroot the suite serves and what it knows about its files.
type site struct {
	root     string            // the docroot
	outside  string            // a file next to (outside) the docroot
	files    map[string][]byte // URI path → content
	small    []byte            // /small.txt, 1 KiB
	big      []byte            // /big.bin, 1 MiB
	bigSum   string            // hex sha256 of big
	readable bool              // whether /secret.txt (mode 000) is readable anyway (root)
}

// mimeTypes is written into the config's types block: extension → type.
var mimeTypes = []struct{ ext, typ string }{
	{"html", "text/html"},
	{"css", "text/css"},
	{"js", "application/javascript"},
	{"png", "image/png"},
	{"json", "application/json"},
	{"txt", "text/plain"},
}

func newSite(t *testing.T, dir string) *site {
	t.Helper()
	s := &site{
		root:    filepath.Join(dir, "www"),
		outside: filepath.Join(dir, "outside.txt"),
		files:   map[string][]byte{},
	}
	rng := rand.New(rand.NewChaCha8([32]byte{'c', '1', '0', 'k'}))
	s.small = make([]byte, 1024)
	for i := range s.small {
		s.small[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[i%37]
	}
	s.big = make([]byte, 1<<20)
	for i := 0; i < len(s.big); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			s.big[i+j] = byte(v >> (8 * j))
		}
	}
	sum := sha256.Sum256(s.big)
	s.bigSum = hex.EncodeToString(sum[:])

	for p, b := range map[string][]byte{
		"/index.html":        []byte(indexHTML),
		"/page.html":         []byte("<p>page</p>\n"),
		"/style.css":         []byte("body { color: black; }\n"),
		"/app.js":            []byte("console.log('c10k');\n"),
		"/img.png":           []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
		"/data.json":         []byte(`{"c10k":true}` + "\n"),
		"/file.xyz":          []byte("unknown extension\n"),
		"/small.txt":         s.small,
		"/big.bin":           s.big,
		"/dir/index.html":    []byte(dirIndexHTML),
		"/noindex/file.txt":  []byte("no index here\n"),
		"/custom404.html":    []byte(custom404),
		"/secret.txt":        []byte("unreadable\n"),
		"/a/placeholder.txt": []byte("a\n"),
	} {
		s.files[p] = b
		s.write(t, filepath.Join(s.root, filepath.FromSlash(p)), b, 0o644)
	}
	s.write(t, s.outside, []byte(sentinel), 0o644)
	for _, d := range []string{"/", "/dir", "/noindex", "/a"} {
		if err := os.Chtimes(filepath.Join(s.root, d), mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(s.root, "secret.txt")
	if err := os.Chmod(secret, 0); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(secret); err == nil {
		f.Close()
		s.readable = true // root, or CAP_DAC_OVERRIDE: mode 000 cannot deny
	}
	return s
}

func (s *site) write(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// lastModified is the expected Last-Modified of every file.
func lastModified() string { return mtime.Format(http.TimeFormat) }

// contentType returns the type the config maps path's extension to.
func contentType(path string) string {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	for _, m := range mimeTypes {
		if m.ext == ext {
			return m.typ
		}
	}
	return defaultType
}

// typesBlock renders mimeTypes as an nginx types block.
func typesBlock() string {
	var b strings.Builder
	b.WriteString("    types {\n")
	for _, m := range mimeTypes {
		fmt.Fprintf(&b, "        %s %s;\n", m.typ, m.ext)
	}
	b.WriteString("    }\n")
	return b.String()
}
