package coreio

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestSpool checks that a body up to SpoolMemory stays in memory, a
// larger one moves whole to the temp file, and Reset keeps only the
// memory buffer.
func TestSpool(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		pieces  int
		spooled bool
	}{
		{"empty", 0, 1, false},
		{"small", 100, 3, false},
		{"exactly memory", SpoolMemory, 4, false},
		{"one past", SpoolMemory + 1, 2, true},
		{"large", 1 << 20, 7, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Spool
			defer s.Reset()
			body := make([]byte, tc.size)
			for i := range body {
				body[i] = byte(i * 31 >> 2)
			}
			step := max(1, (tc.size+tc.pieces-1)/tc.pieces)
			for rest := body; len(rest) > 0; {
				n := min(step, len(rest))
				if _, err := s.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			if s.Len() != int64(tc.size) {
				t.Fatalf("Len = %d, want %d", s.Len(), tc.size)
			}
			var got []byte
			if f := s.File(); f != nil {
				if !tc.spooled {
					t.Fatal("spooled to a file, want memory")
				}
				var err error
				if got, err = io.ReadAll(io.NewSectionReader(f, 0, s.Len())); err != nil {
					t.Fatal(err)
				}
			} else {
				if tc.spooled {
					t.Fatal("kept in memory, want a file")
				}
				got = s.Bytes()
			}
			if !bytes.Equal(got, body) {
				t.Fatalf("kept %d bytes, content differs", len(got))
			}
			s.Reset()
			if s.File() != nil || s.Len() != 0 || s.Retained() > SpoolMemory {
				t.Errorf("after Reset: file %v, Len %d, Retained %d", s.File(), s.Len(), s.Retained())
			}
		})
	}
}

func TestSpoolError(t *testing.T) {
	t.Setenv("TMPDIR", "/nonexistent/c10k")
	var s Spool
	defer s.Reset()
	_, err := s.Write(make([]byte, SpoolMemory+1))
	if !errors.Is(err, ErrSpool) {
		t.Fatalf("Write with no temp dir = %v, want ErrSpool", err)
	}
}
