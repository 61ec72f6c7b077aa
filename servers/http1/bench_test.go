package http1

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkParseGET(b *testing.B) {
	buf := []byte(getRequest)
	var p Parser
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := p.Parse(buf, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHeavy(b *testing.B) {
	var s strings.Builder
	s.WriteString("POST /api/v1/orders?expand=items&limit=50 HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 512\r\n")
	for i := range 18 {
		fmt.Fprintf(&s, "X-Custom-Header-%02d: some-moderately-long-value-%d; q=0.%d\r\n", i, i*7919, i)
	}
	s.WriteString("\r\n")
	buf := []byte(s.String())
	var p Parser
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := p.Parse(buf, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunked(b *testing.B) {
	var src []byte
	chunk := []byte(strings.Repeat("x", 4096))
	for range 16 {
		src = AppendChunk(src, chunk)
	}
	src = AppendLastChunk(src)
	var body Body
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		body.Init(-1, true, false)
		for p := src; len(p) > 0 && !body.Done(); {
			_, n, err := body.Decode(p)
			if err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
	}
}

func BenchmarkAppendResponseHead(b *testing.B) {
	h := benchHead()
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendResponseHead(dst[:0], h)
	}
}
