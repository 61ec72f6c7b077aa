package coreio

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestRespSpool checks that a RespSpool keeps what is written, in order,
// in a temp file that has no name left, and that Close empties it for
// the next body and is safe to repeat.
func TestRespSpool(t *testing.T) {
	var s RespSpool
	if s.File() != nil || s.Len() != 0 {
		t.Fatalf("zero RespSpool: file %v, Len %d", s.File(), s.Len())
	}
	for round := range 2 { // reused after Close
		var want []byte
		for i := range 5 {
			piece := bytes.Repeat([]byte{byte('a' + i + round)}, 70000+i)
			want = append(want, piece...)
			if n, err := s.Write(piece); err != nil || n != len(piece) {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if s.Len() != int64(len(want)) {
			t.Fatalf("Len = %d, want %d", s.Len(), len(want))
		}
		f := s.File()
		got, err := io.ReadAll(io.NewSectionReader(f, 0, s.Len()))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("file holds %d bytes (%v), want the %d written", len(got), err, len(want))
		}
		if target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); err == nil && !strings.HasSuffix(target, "(deleted)") {
			t.Errorf("temp file %q still has a name", target)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s.File() != nil || s.Len() != 0 {
			t.Fatalf("after Close: file %v, Len %d", s.File(), s.Len())
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close = %v", err)
		}
	}
}

func TestRespSpoolError(t *testing.T) {
	t.Setenv("TMPDIR", "/nonexistent/c10k")
	var s RespSpool
	defer s.Close()
	if n, err := s.Write([]byte("x")); err == nil || n != 0 || s.Len() != 0 {
		t.Fatalf("Write with no temp dir = %d, %v (Len %d), want an error", n, err, s.Len())
	}
}
