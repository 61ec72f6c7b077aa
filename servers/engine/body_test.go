package engine

import (
	"testing"

	"github.com/c10k/c10k/servers/http1"
)

func TestSendContinue(t *testing.T) {
	tests := []struct {
		name     string
		expect   bool
		minor    int
		cl       int64
		chunked  bool
		readBody bool
		close    bool
		want     bool
	}{
		{"proxy body", true, 1, 10, false, true, false, true},
		{"chunked proxy body", true, 1, -1, true, true, false, true},
		{"no expect", false, 1, 10, false, true, false, false},
		{"HTTP/1.0", true, 0, 10, false, true, false, false},
		{"no body", true, 1, -1, false, true, false, false},
		{"empty body", true, 1, 0, false, true, false, false},
		{"body not read", true, 1, 10, false, false, false, false},
		{"444", true, 1, 10, false, true, true, false},
	}
	for _, tt := range tests {
		req := &http1.Request{Major: 1, Minor: tt.minor, ContentLength: tt.cl, Chunked: tt.chunked, Expect100: tt.expect}
		p := &Plan{ReadBody: tt.readBody, Close: tt.close}
		if got := p.SendContinue(req); got != tt.want {
			t.Errorf("%s: SendContinue = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	tests := []struct {
		max, n int64
		want   bool
	}{
		{0, 1 << 40, false}, // client_max_body_size 0: no limit
		{10, 10, false},
		{10, 11, true},
		{1 << 20, 1<<20 + 1, true},
	}
	for _, tt := range tests {
		p := &Plan{MaxBody: tt.max}
		if got := p.BodyTooLarge(tt.n); got != tt.want {
			t.Errorf("MaxBody %d: BodyTooLarge(%d) = %v, want %v", tt.max, tt.n, got, tt.want)
		}
	}
}

func TestDiscardBody(t *testing.T) {
	tests := []struct {
		name      string
		cl        int64
		chunked   bool
		expect    bool
		buffered  bool
		readBody  bool
		want      int64
		keepAlive bool
	}{
		{"no body", -1, false, false, false, false, 0, true},
		{"small body", 100, false, false, false, false, DiscardLimit, true},
		{"chunked body", -1, true, false, false, false, DiscardLimit, true},
		{"at the limit", DiscardLimit, false, false, false, false, DiscardLimit, true},
		{"over the limit", DiscardLimit + 1, false, false, false, false, 0, false},
		{"waits for 100", 100, false, true, false, false, 0, false},
		{"expect, body sent anyway", 100, false, true, true, false, DiscardLimit, true},
		{"read by the plan", 100, false, false, false, true, 0, true},
	}
	for _, tt := range tests {
		req := &http1.Request{Major: 1, Minor: 1, ContentLength: tt.cl, Chunked: tt.chunked, Expect100: tt.expect}
		p := &Plan{ReadBody: tt.readBody, KeepAlive: true}
		if got := p.DiscardBody(req, tt.buffered); got != tt.want || p.KeepAlive != tt.keepAlive {
			t.Errorf("%s: DiscardBody = %d keep-alive %v, want %d %v", tt.name, got, p.KeepAlive, tt.want, tt.keepAlive)
		}
	}
}

// TestChunkedOverLimitToReturn documents nginx 1.22: a chunked body over
// client_max_body_size sent to a location that does not read it is
// discarded, not refused (see BodyTooLarge).
func TestChunkedOverLimitToReturn(t *testing.T) {
	e := confEngine(t, nil, `http { server { client_max_body_size 10; location / { return 200 ok; } } }`, Options{})
	req := request("POST", "/", "Host", "x", "Transfer-Encoding", "chunked")
	req.Chunked = true
	var p Plan
	e.Serve(req, conn, &p)
	if p.Status != 200 || p.ReadBody || p.MaxBody != 10 {
		t.Fatalf("plan %s ReadBody %v MaxBody %d", result(&p), p.ReadBody, p.MaxBody)
	}
	if got := p.DiscardBody(req, false); got != DiscardLimit || !p.KeepAlive {
		t.Errorf("DiscardBody = %d keep-alive %v, want %d true", got, p.KeepAlive, DiscardLimit)
	}
	req = request("POST", "/", "Host", "x", "Content-Length", "11")
	req.ContentLength = 11
	e.Serve(req, conn, &p)
	if p.Status != 413 || p.KeepAlive {
		t.Errorf("Content-Length over the limit: %s keep-alive %v, want 413 closing", result(&p), p.KeepAlive)
	}
}
