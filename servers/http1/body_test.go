package http1

import (
	"strings"
	"testing"
)

// decodeAll decodes src in pieces of at most step bytes (0: all at once)
// and returns the data, the bytes consumed and the first error.
func decodeAll(b *Body, src string, step int) (string, int, error) {
	var out strings.Builder
	in := []byte(src)
	used := 0
	for !b.Done() && used < len(in) {
		end := len(in)
		if step > 0 {
			end = min(used+step, len(in))
		}
		piece := in[used:end]
		for len(piece) > 0 && !b.Done() {
			data, n, err := b.Decode(piece)
			if err != nil {
				return out.String(), used, err
			}
			if n == 0 {
				break
			}
			out.Write(data)
			piece = piece[n:]
			used += n
		}
	}
	return out.String(), used, nil
}

func TestChunked(t *testing.T) {
	tests := []struct {
		name string
		in   string
		data string
		n    int // bytes of in the body takes; -2: all but "NEXT"; -1: not done
		err  error
	}{
		{"simple", "5\r\nhello\r\n0\r\n\r\n", "hello", -2, nil},
		{"two chunks", "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\nNEXT", "abc0123456789", -2, nil},
		{"upper hex", "a\r\n0123456789\r\n0\r\n\r\n", "0123456789", -2, nil},
		{"extensions", "5;name=value;x=\"q d\"\r\nhello\r\n0;last\r\n\r\n", "hello", -2, nil},
		{"ws before ext", "5 \t;x\r\nhello\r\n0\r\n\r\n", "hello", -2, nil},
		{"ws before CRLF", "5 \r\nhello\r\n0\r\n\r\n", "hello", -2, nil},
		{"trailers", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:\r\n\r\n", "hello", -2, nil},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", -2, nil},
		{"16 digits", "0000000000000005\r\nhello\r\n0\r\n\r\n", "hello", -2, nil},
		{"incomplete", "5\r\nhel", "hel", -1, nil},
		{"incomplete trailer", "0\r\nX: y\r\n", "", -1, nil},

		{"empty size", "\r\nhello\r\n", "", 0, ErrChunkSize},
		{"17 digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", "", 0, ErrChunkSize},
		{"overflow", "8000000000000000\r\n", "", 0, ErrChunkSize},
		{"non-hex", "5g\r\nhello\r\n", "", 0, ErrChunkSize},
		{"negative", "-5\r\nhello\r\n", "", 0, ErrChunkSize},
		{"ws then garbage", "5 x\r\nhello\r\n", "", 0, ErrChunkSize},
		{"bare LF size", "5\nhello\r\n0\r\n\r\n", "", 0, ErrChunkSize},
		{"bare CR size", "5\rhello\r\n0\r\n\r\n", "", 0, ErrChunk},
		{"data too long", "5\r\nhelloX\r\n0\r\n\r\n", "hello", 0, ErrChunk},
		{"data LF only", "5\r\nhello\n0\r\n\r\n", "hello", 0, ErrChunk},
		{"data CR only", "5\r\nhello\r0\r\n\r\n", "hello", 0, ErrChunk},
		{"ext control", "5;a\x00\r\nhello\r\n0\r\n\r\n", "", 0, ErrChunk},
		{"ext too long", "5;" + strings.Repeat("x", maxChunkLine) + "\r\nhello\r\n0\r\n\r\n", "", 0, ErrChunk},
		{"trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", "", 0, ErrTrailer},
		{"trailer no name", "0\r\n: a\r\n\r\n", "", 0, ErrTrailer},
		{"trailer space in name", "0\r\nX : a\r\n\r\n", "", 0, ErrTrailer},
		{"trailer bare LF", "0\r\nX: a\n\r\n", "", 0, ErrTrailer},
		{"trailer control", "0\r\nX: a\x01\r\n\r\n", "", 0, ErrTrailer},
		{"final bare LF", "0\r\n\n", "", 0, ErrTrailer},
		{"trailer too big", "0\r\nX: " + strings.Repeat("v", maxTrailer) + "\r\n\r\n", "", 0, ErrTrailer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.n
			if want == -2 { // all of in but what follows the body
				want = len(strings.TrimSuffix(tt.in, "NEXT"))
			}
			// Whole, then split at every boundary, then byte by byte.
			for _, step := range append([]int{0, 1, 2, 3, 7}, len(tt.in)/2+1) {
				var b Body
				b.Init(-1, true, false)
				data, n, err := decodeAll(&b, tt.in, step)
				if err != tt.err {
					t.Fatalf("step %d: err %v, want %v", step, err, tt.err)
				}
				if err != nil {
					continue
				}
				if data != tt.data {
					t.Fatalf("step %d: data %q, want %q", step, data, tt.data)
				}
				if want == -1 {
					if b.Done() {
						t.Fatalf("step %d: done on incomplete body", step)
					}
					if b.EOF() != ErrBodyTruncated {
						t.Fatalf("step %d: EOF accepted a truncated body", step)
					}
					continue
				}
				if !b.Done() || n != want || b.Read() != int64(len(tt.data)) {
					t.Fatalf("step %d: done=%v n=%d (want %d) read=%d", step, b.Done(), n, want, b.Read())
				}
			}
		})
	}
}

func TestChunkedEverySplit(t *testing.T) {
	in := "4;a=b\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n"
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j++ {
			var b Body
			b.Init(0, true, false)
			var out []byte
			used := 0
			for _, piece := range []string{in[:i], in[i:j], in[j:]} {
				p := []byte(piece)
				for len(p) > 0 && !b.Done() {
					data, n, err := b.Decode(p)
					if err != nil {
						t.Fatalf("split %d,%d: %v", i, j, err)
					}
					out = append(out, data...)
					p = p[n:]
					used += n
				}
			}
			if string(out) != "Wikipedia in\r\n\r\nchunks." || !b.Done() || used != len(in) {
				t.Fatalf("split %d,%d: %q done=%v used=%d", i, j, out, b.Done(), used)
			}
		}
	}
}

func TestBodyLength(t *testing.T) {
	var b Body
	b.Init(5, false, false)
	if b.Remaining() != 5 {
		t.Fatalf("remaining %d", b.Remaining())
	}
	data, n, err := b.Decode([]byte("hel"))
	if string(data) != "hel" || n != 3 || err != nil || b.Done() {
		t.Fatalf("%q %d %v", data, n, err)
	}
	data, n, _ = b.Decode([]byte("loGET"))
	if string(data) != "lo" || n != 2 || !b.Done() || b.Read() != 5 {
		t.Fatalf("%q %d done=%v", data, n, b.Done())
	}
	if data, n, _ := b.Decode([]byte("more")); data != nil || n != 0 {
		t.Fatalf("decoded past the end: %q %d", data, n)
	}

	b.Init(0, false, false)
	if !b.Done() {
		t.Fatal("empty body not done")
	}
	b.Init(-1, false, false)
	if !b.Done() || b.EOF() != nil {
		t.Fatal("no body not done")
	}
	b.Init(3, false, false)
	if b.EOF() != ErrBodyTruncated {
		t.Fatal("truncated body accepted")
	}
}

func TestBodyUntilClose(t *testing.T) {
	var b Body
	b.Init(-1, false, true)
	data, n, err := b.Decode([]byte("abc"))
	if string(data) != "abc" || n != 3 || err != nil || b.Done() || b.Remaining() != -1 {
		t.Fatalf("%q %d %v", data, n, err)
	}
	if err := b.EOF(); err != nil || !b.Done() || b.Read() != 3 {
		t.Fatalf("EOF: %v done=%v", err, b.Done())
	}
}

func TestChunkedAllocs(t *testing.T) {
	src := []byte("5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX: y\r\n\r\n")
	var b Body
	allocs := testing.AllocsPerRun(100, func() {
		b.Init(-1, true, false)
		for p := src; len(p) > 0 && !b.Done(); {
			_, n, err := b.Decode(p)
			if err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations, want 0", allocs)
	}
}

func TestInitBody(t *testing.T) {
	in := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"
	var p Parser
	var r Request
	n, err := p.Parse([]byte(in), &r)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Header.Has("content-LENGTH") || r.Header.Has("te") || r.Header.Get("x") != nil {
		t.Fatal("Header.Has/Get")
	}
	var b Body
	r.InitBody(&b)
	if data, _, _ := b.Decode([]byte(in[n:])); string(data) != "hi" || !b.Done() {
		t.Fatalf("body %q", data)
	}
	var resp Response
	resp.Reset()
	resp.NoBody, resp.ContentLength = true, 5
	resp.InitBody(&b)
	if !b.Done() {
		t.Fatal("NoBody response has a body")
	}
}

// TestBodyPending checks what Pending announces: a chunk's size from its
// size line on, so that a core can refuse it before its data comes.
func TestBodyPending(t *testing.T) {
	tests := []struct {
		name    string
		chunked bool
		length  int64
		in      string
		want    int64 // Read() + Pending() after decoding in
	}{
		{"length, nothing read", false, 10, "", 10},
		{"length, part read", false, 10, "abc", 10},
		{"size digits only", true, 0, "fffff", 0},
		{"size line read", true, 0, "fffffffff\r\n", 0xfffffffff},
		{"size line with data", true, 0, "10\r\nabc", 16},
		{"second chunk", true, 0, "3\r\nabc\r\n20;x\r\n", 3 + 32},
		{"last chunk", true, 0, "3\r\nabc\r\n0\r\n", 3},
		{"done", true, 0, "3\r\nabc\r\n0\r\n\r\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Body
			b.Init(tt.length, tt.chunked, false)
			if _, _, err := decodeAll(&b, tt.in, 0); err != nil {
				t.Fatal(err)
			}
			if got := b.Read() + b.Pending(); got != tt.want {
				t.Errorf("Read()+Pending() = %d, want %d", got, tt.want)
			}
		})
	}
}
