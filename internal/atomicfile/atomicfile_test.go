package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name  string
		write func(io.Writer) error
		want  string // content of the file afterwards
		err   error
	}{
		{"replaces", func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }, "new", nil},
		{"failure keeps the old file", func(w io.Writer) error { io.WriteString(w, "half"); return boom }, "old", boom},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "summary.json")
			if err := WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			err := Write(path, 0o600, tc.write)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Write: %v, want %v", err, tc.err)
			}
			b, err := os.ReadFile(path)
			if err != nil || string(b) != tc.want {
				t.Fatalf("file holds %q (%v), want %q", b, err, tc.want)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("%d files in the directory, want 1 (no temporary left)", len(ents))
			}
			fi, _ := os.Stat(path)
			if tc.err == nil && fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}
