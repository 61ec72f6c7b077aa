package coreio

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func gunzipAll(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// dechunk decodes a chunked body, failing t unless it is well framed
// and ends with the last chunk and nothing after it.
func dechunk(t *testing.T, b []byte) []byte {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("0\r\n\r\n")) {
		t.Fatalf("chunked body does not end with the last chunk: %q", b[max(0, len(b)-16):])
	}
	out, err := io.ReadAll(httputil.NewChunkedReader(bufio.NewReader(bytes.NewReader(b))))
	if err != nil {
		t.Fatalf("chunk framing: %v", err)
	}
	return out
}

func TestGzipRoundTrip(t *testing.T) {
	text := []byte(strings.Repeat("the same line again and again\n", 5000))
	tests := []struct {
		name    string
		level   int
		chunked bool
		pieces  int
		flush   bool
	}{
		{"raw one piece", 1, false, 1, false},
		{"raw many pieces", 6, false, 37, false},
		{"chunked one piece", 1, true, 1, false},
		{"chunked many pieces", 9, true, 37, false},
		{"chunked flushed", 1, true, 11, true},
		{"bad level taken as 1", 42, true, 3, false},
		{"empty body", 1, true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g Gzip
			g.Start(tt.level, tt.chunked)
			var wire bytes.Buffer
			var want []byte
			if tt.pieces > 0 {
				n := len(text) / tt.pieces
				for i := 0; i < tt.pieces; i++ {
					piece := text[i*n : (i+1)*n]
					want = append(want, piece...)
					if _, err := g.Write(piece); err != nil {
						t.Fatal(err)
					}
					if tt.flush {
						g.Flush()
						if len(g.Pending()) == 0 {
							t.Fatal("Flush left nothing to send")
						}
					}
					// Send part of what is pending now, the rest later.
					p := g.Pending()
					wire.Write(p[:len(p)/2])
					g.Consume(len(p) / 2)
				}
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if g.Active() {
				t.Error("active after Close")
			}
			if err := g.WriteTo(func(b []byte) error { wire.Write(b); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(g.Pending()) != 0 {
				t.Error("Pending not empty after WriteTo")
			}
			body := wire.Bytes()
			if tt.chunked {
				body = dechunk(t, body)
			}
			if got := gunzipAll(t, body); !bytes.Equal(got, want) {
				t.Errorf("round trip: %d bytes, want %d", len(got), len(want))
			}
			if _, err := g.Write([]byte("x")); err == nil {
				t.Error("Write after Close succeeded")
			}
		})
	}
}

func TestGzipChunkFraming(t *testing.T) {
	var g Gzip
	g.Start(1, true)
	g.Write([]byte("hello, hello, hello"))
	g.Flush()
	p := string(g.Pending())
	size, rest, ok := strings.Cut(p, "\r\n")
	if !ok || size == "" || strings.TrimLeft(size, "0123456789abcdef") != "" {
		t.Fatalf("pending %q does not start with a hex chunk-size line", p)
	}
	if !strings.HasSuffix(rest, "\r\n") {
		t.Fatalf("chunk %q does not end with CRLF", p)
	}
	g.Consume(len(p))
	g.Close()
	if !strings.HasSuffix(string(g.Pending()), "\r\n0\r\n\r\n") {
		t.Fatalf("end %q: want a data chunk then the last chunk", g.Pending())
	}
	// Start again on the same Gzip: a new stream, nothing of the old one.
	g.Start(1, false)
	if len(g.Pending()) != 0 {
		t.Fatal("Start kept the previous output")
	}
	g.Write([]byte("again"))
	g.Close()
	if got := gunzipAll(t, g.Pending()); string(got) != "again" {
		t.Fatalf("second body %q", got)
	}
	g.Release() // after Close: nothing to do
}

func TestGzipFile(t *testing.T) {
	text := []byte(strings.Repeat("0123456789 file content\n", 10000))
	name := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(name, text, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var g Gzip
	var wire bytes.Buffer
	write := func(b []byte) error { wire.Write(b); return nil }
	g.Start(5, true)
	if err := g.SendFile(f, 100, 50000, make([]byte, 4096), write); err != nil {
		t.Fatal(err)
	}
	if got := gunzipAll(t, dechunk(t, wire.Bytes())); !bytes.Equal(got, text[100:50100]) {
		t.Errorf("file region: %d bytes, want 50000", len(got))
	}
	if off, _ := f.Seek(0, io.SeekCurrent); off != 0 {
		t.Errorf("file offset moved to %d; the descriptor may be shared", off)
	}

	// A region past the end of the file.
	wire.Reset()
	g.Start(1, true)
	if err := g.SendFile(f, int64(len(text))-10, 100, make([]byte, 4096), write); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short file: %v, want io.ErrUnexpectedEOF", err)
	}
	if g.Active() {
		t.Error("active after a failed SendFile")
	}

	// A write failure abandons the body.
	boom := errors.New("boom")
	g.Start(1, true)
	if err := g.SendFile(f, 0, int64(len(text)), make([]byte, 4096), func([]byte) error { return boom }); err != boom {
		t.Errorf("write failure: %v, want boom", err)
	}
	if g.Active() {
		t.Error("active after a failed write")
	}
}
