package http1

import (
	"bytes"
	"fmt"
	"sort"
	"testing"
)

var requestSeeds = []string{
	getRequest,
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"\r\nGET /a?b HTTP/1.0\nConnection: keep-alive\n\n",
	"POST http://h:1/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: b\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	"GET / HTTP/2.0\r\n\r\n",
	"GET /\x00 HTTP/1.1\r\n\r\n",
	"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
}

// outcome parses buf in the pieces given by cuts, reusing one parser.
// A prefix that already decides (the head ends, or is wrong) decides.
func outcome(buf []byte, cuts ...int) string {
	var p Parser
	var r Request
	for _, c := range cuts {
		if n, err := p.Parse(buf[:c], &r); err != ErrIncomplete {
			return describe(n, err, &r)
		}
	}
	n, err := p.Parse(buf, &r)
	return describe(n, err, &r)
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		var p Parser
		var r Request
		n, err := p.Parse(buf, &r)
		if err == nil && (n <= 0 || n > len(buf)) {
			t.Fatalf("n = %d, len %d", n, len(buf))
		}
		if err != nil && err != ErrIncomplete && StatusOf(err) < 400 {
			t.Fatalf("error %v has status %d", err, StatusOf(err))
		}
		whole := describe(n, err, &r)
		// Earlier calls with prefixes of the same buffer change nothing.
		for _, cuts := range [][]int{{len(buf) / 2}, {len(buf) / 3, 2 * len(buf) / 3}} {
			if got := outcome(buf, cuts...); got != whole {
				t.Fatalf("cuts %v:\n got %s\nwant %s", cuts, got, whole)
			}
		}
		if len(buf) <= 1024 {
			var cuts []int
			for i := range len(buf) {
				cuts = append(cuts, i)
			}
			if got := outcome(buf, cuts...); got != whole {
				t.Fatalf("bytewise:\n got %s\nwant %s", got, whole)
			}
		}
		if err != nil {
			return
		}
		// What we parsed, serialized again, parses the same.
		again := AppendRequestHead(nil, r.Method, r.Target, r.Minor, r.Header)
		q := Parser{Limits: Limits{LineMax: 1 << 20, FieldMax: 1 << 20, HeaderMax: 1 << 20}}
		var r2 Request
		m, err := q.Parse(again, &r2)
		if err != nil || m != len(again) || describe(0, nil, &r2) != describe(0, nil, &r) {
			t.Fatalf("round trip of %q: %v\n got %s\nwant %s", again, err, describe(0, err, &r2), describe(0, nil, &r))
		}
	})
}

var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 304 Not Modified\nETag: \"x\"\n\n",
	"HTTP/1.1 200\r\n\r\n",
	"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
}

func describeResp(n int, err error, r *Response) string {
	if err != nil {
		return fmt.Sprintf("err %v", err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "n=%d %d.%d %d %q cl=%d ch=%v ka=%v nb=%v uc=%v", n, r.Major, r.Minor, r.Status, r.Reason,
		r.ContentLength, r.Chunked, r.KeepAlive, r.NoBody, r.UntilClose)
	for _, f := range r.Header {
		fmt.Fprintf(&b, " [%s=%q]", f.Name, f.Value)
	}
	return b.String()
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(responseSeeds[0]), true)
	f.Fuzz(func(t *testing.T, buf []byte, head bool) {
		var p Parser
		var r Response
		n, err := p.ParseResponse(buf, &r, head)
		if err == nil && (n <= 0 || n > len(buf)) {
			t.Fatalf("n = %d, len %d", n, len(buf))
		}
		if err != nil && err != ErrIncomplete && StatusOf(err) != 502 {
			t.Fatalf("error %v has status %d", err, StatusOf(err))
		}
		if err == nil {
			if r.NoBody && (r.Chunked || r.UntilClose) || r.UntilClose && r.KeepAlive || r.Chunked && r.ContentLength >= 0 {
				t.Fatalf("framing: %s", describeResp(n, err, &r))
			}
		}
		whole := describeResp(n, err, &r)
		var q Parser
		var r2 Response
		got := ""
		for i := range min(len(buf), 1024) {
			if n, err := q.ParseResponse(buf[:i], &r2, head); err != ErrIncomplete {
				got = describeResp(n, err, &r2)
				break
			}
		}
		if got == "" {
			n, err = q.ParseResponse(buf, &r2, head)
			got = describeResp(n, err, &r2)
		}
		if got != whole {
			t.Fatalf("bytewise:\n got %s\nwant %s", got, whole)
		}
	})
}

var chunkedSeeds = []string{
	"5\r\nhello\r\n0\r\n\r\n",
	"4;a=b\r\nWiki\r\n5 ;c\r\npedia\r\n0\r\nX: y\r\n\r\n",
	"ffffffffffffffff\r\n",
	"0\r\n\r\nGET / HTTP/1.1\r\n",
	"1\r\nx\n",
}

// decodePieces decodes src cut at the given offsets, returning the data,
// bytes consumed, whether the body is done, and the error.
func decodePieces(src []byte, cuts ...int) string {
	var b Body
	b.Init(-1, true, false)
	var out []byte
	used, prev := 0, 0
	var announced int64
	for _, c := range append(cuts, len(src)) {
		p := src[prev:c]
		prev = c
		for len(p) > 0 && !b.Done() {
			data, n, err := b.Decode(p)
			if err != nil {
				return fmt.Sprintf("err %v after %q", err, out)
			}
			if n > len(p) || len(data) > n {
				return fmt.Sprintf("n=%d data=%d len=%d", n, len(data), len(p))
			}
			out = append(out, data...)
			p = p[n:]
			used += n
			// What the framing announced never shrinks.
			ann := b.Read() + b.Pending()
			if b.Pending() < 0 || ann < announced {
				return fmt.Sprintf("Read()+Pending() went from %d to %d", announced, ann)
			}
			announced = ann
		}
		if b.Done() {
			break
		}
	}
	if b.Read() != int64(len(out)) {
		return fmt.Sprintf("read %d, decoded %d", b.Read(), len(out))
	}
	return fmt.Sprintf("%q used=%d done=%v", out, used, b.Done())
}

func FuzzChunked(f *testing.F) {
	for _, s := range chunkedSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		whole := decodePieces(src)
		for _, cuts := range [][]int{{len(src) / 2}, {min(1, len(src)), len(src) / 3, 2 * len(src) / 3}} {
			if !sort.IntsAreSorted(cuts) {
				continue
			}
			if got := decodePieces(src, cuts...); got != whole {
				t.Fatalf("cuts %v:\n got %s\nwant %s", cuts, got, whole)
			}
		}
		if len(src) <= 512 {
			var cuts []int
			for i := 1; i < len(src); i++ {
				cuts = append(cuts, i)
			}
			if got := decodePieces(src, cuts...); got != whole {
				t.Fatalf("bytewise:\n got %s\nwant %s", got, whole)
			}
		}
	})
}
