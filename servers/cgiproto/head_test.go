package cgiproto

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHead(t *testing.T) {
	tests := []struct {
		name, out string
		err       error
		kind      Kind
		status    int
		ctype     string
		location  string
		fields    int
		body      string
	}{
		{name: "document", out: "Content-Type: text/plain\n\nhi", kind: Document, status: 200, ctype: "text/plain", body: "hi"},
		{name: "crlf", out: "Content-Type: text/plain\r\nX-A: 1\r\n\r\nhi", kind: Document, status: 200, ctype: "text/plain", fields: 1, body: "hi"},
		{name: "status", out: "Status: 404 Not Found\nContent-Type: text/html\n\n", kind: Document, status: 404, ctype: "text/html"},
		{name: "status no reason", out: "Status: 201\n\n", kind: Document, status: 201},
		{name: "local redirect", out: "Location: /other?x=1\n\n", kind: LocalRedirect, status: 200, location: "/other?x=1"},
		{name: "client redirect", out: "Location: http://example.com/\n\n", kind: ClientRedirect, status: 302, location: "http://example.com/"},
		{name: "client redirect status", out: "Status: 301 Moved\nLocation: https://x/\nContent-Type: text/html\n\nmoved", kind: ClientRedirect, status: 301, location: "https://x/", ctype: "text/html", body: "moved"},
		{name: "path with status", out: "Status: 303 See Other\nLocation: /x\n\n", kind: ClientRedirect, status: 303, location: "/x"},
		{name: "no header", out: "\nbody", err: ErrNoHeader},
		{name: "incomplete", out: "Content-Type: text/plain\n", err: ErrIncomplete},
		{name: "empty", out: "", err: ErrIncomplete},
		{name: "no colon", out: "hello world\n\n", err: ErrField},
		{name: "space in name", out: "Bad Name: x\n\n", err: ErrField},
		{name: "control in value", out: "X-A: a\x01b\n\n", err: ErrField},
		{name: "bad status", out: "Status: abc\n\n", err: ErrStatus},
		{name: "status 99", out: "Status: 099\n\n", err: ErrStatus},
		{name: "status glued", out: "Status: 2000\n\n", err: ErrStatus},
		{name: "two statuses", out: "Status: 200\nStatus: 404\n\n", err: ErrStatus},
		{name: "relative location", out: "Location: other\n\n", err: ErrLocation},
		{name: "network path", out: "Location: //evil/\n\n", err: ErrLocation},
		{name: "empty location", out: "Location:\n\n", err: ErrLocation},
		{name: "too large", out: "X-A: " + strings.Repeat("b", MaxHead) + "\n\n", err: ErrTooLarge},
		{name: "too many", out: strings.Repeat("X-A: b\n", MaxFields+1) + "\n", err: ErrTooMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Head
			n, err := ParseHead([]byte(tt.out), &h)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseHead(%q) error %v, want %v", tt.out, err, tt.err)
			}
			if err != nil {
				return
			}
			if h.Kind != tt.kind || h.Status != tt.status || string(h.ContentType) != tt.ctype ||
				string(h.Location) != tt.location || len(h.Header) != tt.fields || tt.out[n:] != tt.body {
				t.Errorf("ParseHead(%q) = kind %v status %d type %q location %q fields %d body %q, want %v %d %q %q %d %q",
					tt.out, h.Kind, h.Status, h.ContentType, h.Location, len(h.Header), tt.out[n:],
					tt.kind, tt.status, tt.ctype, tt.location, tt.fields, tt.body)
			}
		})
	}
}

func TestAppendEnvName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"User-Agent", "HTTP_USER_AGENT", true},
		{"x-custom-1", "HTTP_X_CUSTOM_1", true},
		{"Proxy", "", false},
		{"proxy", "", false},
		{"Content-Length", "", false},
		{"Content-Type", "", false},
		{"Authorization", "", false},
		{"X_Under", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := AppendEnvName(nil, []byte(tt.in))
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("AppendEnvName(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
