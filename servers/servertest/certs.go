package servertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
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

	caKey *ecdsa.PrivateKey
}

// NewCerts makes a CA whose files (ca.pem) and certificates go into dir.
func NewCerts(dir string) (*Certs, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("servertest: CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "c10k test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("servertest: CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("servertest: CA certificate: %w", err)
	}
	if err := writePEM(filepath.Join(dir, "ca.pem"), "CERTIFICATE", der); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &Certs{Dir: dir, CA: ca, Pool: pool, caKey: key}, nil
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
// name) and writes it to Dir/name.pem and its key to Dir/name.key,
// whose paths it returns.
func (c *Certs) Issue(name string, hosts ...string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("servertest: key for %s: %w", name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(hosts) > 0 {
		tmpl.Subject.CommonName = hosts[0]
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.CA, &key.PublicKey, c.caKey)
	if err != nil {
		return "", "", fmt.Errorf("servertest: certificate for %s: %w", name, err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("servertest: key for %s: %w", name, err)
	}
	certFile, keyFile = filepath.Join(c.Dir, name+".pem"), filepath.Join(c.Dir, name+".key")
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return "", "", err
	}
	if err := writePEM(keyFile, "EC PRIVATE KEY", kder); err != nil {
		return "", "", err
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

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

func writePEM(name, typ string, der []byte) error {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(name, b, 0o600); err != nil {
		return fmt.Errorf("servertest: %w", err)
	}
	return nil
}
