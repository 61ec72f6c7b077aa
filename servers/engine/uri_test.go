package engine

import "testing"

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"/", "/", false},
		{"/a/b", "/a/b", false},
		{"/a//b///c", "/a/b/c", false},
		{"/a/./b/.", "/a/b/", false},
		{"/a/b/..", "/a/", false},
		{"/a/b/../c", "/a/c", false},
		{"/a/..", "/", false},
		{"/%41%62", "/Ab", false},
		{"/a%2Fb", "/a/b", false},        // decoded slash is a slash
		{"/a%2F..%2F..%2Fetc", "", true}, // ...and can never escape root
		{"/..", "", true},
		{"/../etc/passwd", "", true},
		{"/a/../../etc", "", true},
		{"/%2e%2e/etc", "", true},
		{"/%2E%2E/etc", "", true},
		{"/%2e./etc", "", true},
		{"/.%2e/etc", "", true},
		{"/a/%2e%2e/%2e%2e/etc", "", true},
		{"/%252e%252e/etc", "/%2e%2e/etc", false}, // double encoding stays literal
		{"/..\\..\\etc", "/..\\..\\etc", false},   // backslash is a plain byte
		{"/a\\..\\b", "/a\\..\\b", false},
		{"/a%00b", "", true},
		{"/a%0", "", true},
		{"/a%zz", "", true},
		{"/a%", "", true},
		{"a/b", "", true},
		{"", "", true},
		{"/...", "/...", false},
		{"/a/.../b", "/a/.../b", false},
		{"/a/.b/..c", "/a/.b/..c", false},
		{"/%2e", "/", false},
		{"/a/%2e%2e", "/", false},
	}
	for _, tt := range tests {
		got, err := normalize([]byte("x"), []byte(tt.in))
		if (err != nil) != tt.err {
			t.Errorf("normalize(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && string(got[1:]) != tt.want {
			t.Errorf("normalize(%q) = %q, want %q", tt.in, got[1:], tt.want)
		}
		if string(got[:1]) != "x" {
			t.Errorf("normalize(%q) clobbered dst", tt.in)
		}
	}
}

func TestEscapeURI(t *testing.T) {
	got := string(escapeURI(nil, []byte("/a b/%?#\"\r\n\xff/ok")))
	if want := "/a%20b/%25%3F%23%22%0D%0A%FF/ok"; got != want {
		t.Errorf("escapeURI = %q, want %q", got, want)
	}
}
