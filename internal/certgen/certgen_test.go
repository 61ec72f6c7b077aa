package certgen

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIssue(t *testing.T) {
	tests := []struct {
		key       string
		wantUsage x509.KeyUsage
	}{
		{"", x509.KeyUsageDigitalSignature},
		{ECDSAP256, x509.KeyUsageDigitalSignature},
		{RSA2048, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
	}
	hosts := []string{"localhost", "127.0.0.1", "::1", "a.test"}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			ca, err := NewCA("test CA", tt.key, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "test CA" {
				t.Errorf("CA: IsCA %v, CN %q", ca.Cert.IsCA, ca.Cert.Subject.CommonName)
			}
			leaf, err := ca.Issue(tt.key, time.Hour, hosts...)
			if err != nil {
				t.Fatal(err)
			}
			switch leaf.Key.(type) {
			case *ecdsa.PrivateKey:
				if tt.key == RSA2048 {
					t.Errorf("key %q: got an ECDSA key", tt.key)
				}
			case *rsa.PrivateKey:
				if tt.key != RSA2048 {
					t.Errorf("key %q: got an RSA key", tt.key)
				}
			}
			if got := leaf.Cert.KeyUsage; got != tt.wantUsage {
				t.Errorf("key usage %v, want %v", got, tt.wantUsage)
			}
			if got := leaf.Cert.Subject.CommonName; got != hosts[0] {
				t.Errorf("common name %q, want %q", got, hosts[0])
			}
			if d := leaf.Cert.NotAfter.Sub(leaf.Cert.NotBefore); d < time.Hour || d > 2*time.Hour+time.Minute {
				t.Errorf("validity %v, want an hour back and an hour on", d)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca.Cert)
			for _, h := range hosts {
				if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: h}); err != nil {
					t.Errorf("verify for %s: %v", h, err)
				}
			}
			if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "b.test"}); err == nil {
				t.Error("verify for b.test, a name not issued: no error")
			}

			dir := t.TempDir()
			cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			if err := leaf.WriteCert(cert); err != nil {
				t.Fatal(err)
			}
			if err := leaf.WriteKey(key); err != nil {
				t.Fatal(err)
			}
			for path, want := range map[string]os.FileMode{cert: 0o644, key: 0o600} {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got&^want != 0 {
					t.Errorf("%s: mode %v, want at most %v", path, got, want)
				}
			}
			if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
				t.Errorf("LoadX509KeyPair: %v", err)
			}
		})
	}
}

func TestNewKeyUnknown(t *testing.T) {
	tests := []string{"rsa-1024", "ed25519", "ECDSA-P256"}
	for _, typ := range tests {
		if _, err := NewKey(typ); err == nil || !strings.Contains(err.Error(), typ) {
			t.Errorf("NewKey(%q): error %v, want one naming the type", typ, err)
		}
		if _, err := NewCA("x", typ, time.Hour); err == nil {
			t.Errorf("NewCA(key %q): no error", typ)
		}
	}
}
