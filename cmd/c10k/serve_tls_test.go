package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c10k/c10k/servers/servertest"
)

// TestServeTestTLS checks that "c10k serve -t" loads the certificates
// as serving would, and names the file at fault, like nginx -t.
func TestServeTestTLS(t *testing.T) {
	certs := servertest.TestCerts(t)
	certA, keyA, err := certs.Issue("a", "a.test")
	if err != nil {
		t.Fatal(err)
	}
	_, keyB, err := certs.Issue("b", "b.test")
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(certs.Dir, "missing.pem")
	tests := []struct {
		name, cert, key, extra string
		code                   int
		want                   string // in stderr
	}{
		{"ok", certA, keyA, "", 0, "test is successful"},
		{"missing certificate", missing, keyA, "", 1, `cannot load certificate "` + missing + `"`},
		{"key of another certificate", certA, keyB, "", 1, `cannot load certificate key "` + keyB + `"`},
		{"no certificate", "", "", "", 1, `no "ssl_certificate" is defined for the "listen ... ssl" directive`},
		{"warning", certA, keyA, "ssl_ciphers EECDH+AESGCM;", 0, "[warn]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := "listen 127.0.0.1:0 ssl;\n" + tt.extra + "\n"
			if tt.cert != "" {
				lines += "ssl_certificate " + tt.cert + ";\nssl_certificate_key " + tt.key + ";\n"
			}
			conf := filepath.Join(t.TempDir(), "site.conf")
			if err := os.WriteFile(conf, []byte("http {\naccess_log off;\nserver {\n"+lines+"}\n}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stderr := captureStderr(t, func() int { return runServe(context.Background(), []string{"-t", "-c", conf}) })
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("serve -t: exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}

// captureStderr runs f with os.Stderr going to a pipe and returns what
// f wrote there.
func captureStderr(t *testing.T, f func() int) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	code := f()
	os.Stderr = old
	w.Close()
	out := <-done
	r.Close()
	return code, out
}
