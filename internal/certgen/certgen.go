package certgen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// Key types of a generated certificate.
const (
	// ECDSAP256 is an ECDSA P-256 key: what certbot and most CDNs
	// issue now; cheap to sign with.
	ECDSAP256 = "ecdsa-p256"
	// RSA2048 is a 2048-bit RSA key: the classic, whose private-key
	// operation makes the server's share of a full handshake many times
	// an ECDSA one's.
	RSA2048 = "rsa-2048"
)

// Cert is a certificate and its private key.
type Cert struct {
	DER  []byte            // the certificate, DER-encoded
	Cert *x509.Certificate // DER parsed
	Key  crypto.Signer     // the certificate's private key
}

// NewKey generates a private key of type typ ("": ECDSAP256).
func NewKey(typ string) (crypto.Signer, error) {
	switch typ {
	case "", ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("certgen: key type %q: want %s or %s", typ, ECDSAP256, RSA2048)
}

// NewCA makes a self-signed CA certificate named commonName, with a
// new key of type keyType, valid from an hour ago (clock skew) for
// lifetime. It signs end-entity certificates only.
func NewCA(commonName, keyType string, lifetime time.Duration) (*Cert, error) {
	key, err := NewKey(keyType)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(lifetime)
	if err != nil {
		return nil, err
	}
	tmpl.Subject = pkix.Name{CommonName: commonName}
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = true
	tmpl.MaxPathLenZero = true
	c, err := create(tmpl, tmpl, key, key)
	if err != nil {
		return nil, fmt.Errorf("certgen: CA certificate %q: %w", commonName, err)
	}
	return c, nil
}

// Issue makes a server certificate signed by the CA c for hosts (DNS
// names, or IP addresses such as "127.0.0.1" and "::1"; the first is
// its common name), with a new key of type keyType, valid from an hour
// ago for lifetime.
func (c *Cert) Issue(keyType string, lifetime time.Duration, hosts ...string) (*Cert, error) {
	key, err := NewKey(keyType)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(lifetime)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if _, ok := key.(*rsa.PrivateKey); ok {
		// RSA key exchange (TLS 1.2 without forward secrecy) encrypts
		// the premaster secret to the key.
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
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
	leaf, err := create(tmpl, c.Cert, key, c.Key)
	if err != nil {
		return nil, fmt.Errorf("certgen: certificate for %q: %w", hosts, err)
	}
	return leaf, nil
}

// WriteCert writes the certificate to path as a PEM "CERTIFICATE"
// block, mode 0644: a certificate is public.
func (c *Cert) WriteCert(path string) error {
	return writePEM(path, "CERTIFICATE", c.DER, 0o644)
}

// WriteKey writes the private key to path as a PKCS #8 PEM "PRIVATE
// KEY" block, mode 0600.
func (c *Cert) WriteKey(path string) error {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return fmt.Errorf("certgen: key for %s: %w", path, err)
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

// template returns a certificate template with a random serial number,
// valid from an hour ago for lifetime.
func template(lifetime time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, fmt.Errorf("certgen: serial number: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(lifetime),
	}, nil
}

// create signs tmpl for key's public half with parent and its key.
func create(tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) (*Cert, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Cert{DER: der, Cert: cert, Key: key}, nil
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, mode); err != nil {
		return fmt.Errorf("certgen: %w", err)
	}
	return nil
}
