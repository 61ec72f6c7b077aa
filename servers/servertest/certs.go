package servertest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/c10k/c10k/internal/certgen"
)

// Certs is a throwaway PKI for TLS tests and benchmarks: a CA and the
// server certificates it signs, all ECDSA P-256, made at run time and
// written as PEM files (for ssl_certificate and ssl_certificate_key)
// into Dir. Clients trust the CA through Pool or ClientConfig. Nothing
// is ever committed to the repository.
type Certs struct {
	Dir  string            // where Issue writes NAME.pem and NAME.key
	CA   *x509.Certificate // the CA certificate
	Pool *x509.CertPool    // trusts CA only

	ca *certgen.Cert
}

// certsLifetime is how long a test certificate is valid.
const certsLifetime = 24 * time.Hour

// NewCerts makes a CA whose files (ca.pem) and certificates go into dir.
func NewCerts(dir string) (*Certs, error) {
	ca, err := certgen.NewCA("c10k test CA", certgen.ECDSAP256, certsLifetime)
	if err != nil {
		return nil, fmt.Errorf("servertest: %w", err)
	}
	if err := ca.WriteCert(filepath.Join(dir, "ca.pem")); err != nil {
		return nil, fmt.Errorf("servertest: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &Certs{Dir: dir, CA: ca.Cert, Pool: pool, ca: ca}, nil
}

// TestCerts is NewCerts in a temporary directory of tb, failing tb on
// error.
func TestCerts(tb testing.TB) *Certs {
	tb.Helper()
	c, err := NewCerts(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Issue makes a server certificate signed by the CA for hosts (DNS
// names, or IP addresses such as "127.0.0.1"; the first is its common
// name) and writes it to Dir/name.pem and its key to Dir/name.key
// (mode 0600), whose paths it returns.
func (c *Certs) Issue(name string, hosts ...string) (certFile, keyFile string, err error) {
	leaf, err := c.ca.Issue(certgen.ECDSAP256, certsLifetime, hosts...)
	if err != nil {
		return "", "", fmt.Errorf("servertest: %s: %w", name, err)
	}
	certFile, keyFile = filepath.Join(c.Dir, name+".pem"), filepath.Join(c.Dir, name+".key")
	if err := leaf.WriteCert(certFile); err != nil {
		return "", "", fmt.Errorf("servertest: %w", err)
	}
	if err := leaf.WriteKey(keyFile); err != nil {
		return "", "", fmt.Errorf("servertest: %w", err)
	}
	return certFile, keyFile, nil
}

// ClientConfig returns a client configuration that trusts the CA and
// sends serverName as SNI ("" sends none and verifies nothing against a
// name: the caller checks the certificate itself, see Leaf).
func (c *Certs) ClientConfig(serverName string) *tls.Config {
	cfg := &tls.Config{RootCAs: c.Pool, ServerName: serverName, NextProtos: []string{"http/1.1"}}
	if serverName == "" {
		// Verify the chain against the CA, whatever name the
		// certificate has: a client without SNI still checks who signed.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("servertest: no server certificate")
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: c.Pool})
			return err
		}
	}
	return cfg
}

// Leaf returns the common name of the certificate a TLS connection's
// server presented, "" when there is none.
func Leaf(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return cs.PeerCertificates[0].Subject.CommonName
}
