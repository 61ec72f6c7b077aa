package scenarios

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
	"path/filepath"
	"time"
)

// Key types of a generated certificate (SiteTLS.Key).
const (
	// KeyECDSAP256 is an ECDSA P-256 key: what certbot and most CDNs
	// issue now; cheap to sign with.
	KeyECDSAP256 = "ecdsa-p256"
	// KeyRSA2048 is a 2048-bit RSA key: the classic, whose private-key
	// operation makes the server's share of a full handshake many times
	// an ECDSA one's.
	KeyRSA2048 = "rsa-2048"
)

// TLSFiles are the PEM files WriteTLS writes: the CA certificate that
// a client must trust, the server's certificate and its private key.
type TLSFiles struct {
	CA, Cert, Key string
}

// certLifetime is how long a generated certificate is valid: longer
// than any run, short enough that a stray copy soon expires.
const certLifetime = 30 * 24 * time.Hour

// WriteTLS generates a CA and a server certificate it signs, both with
// keys of type key ("": KeyECDSAP256), for 127.0.0.1, ::1 and
// localhost, and writes them into dir (created) as ca.pem, cert.pem and
// key.pem (mode 0600). Every call makes new keys: nothing secret is
// shared between runs.
func WriteTLS(dir, key string) (TLSFiles, error) {
	if key == "" {
		key = KeyECDSAP256
	}
	newKey := func() (crypto.Signer, error) {
		switch key {
		case KeyECDSAP256:
			return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		case KeyRSA2048:
			return rsa.GenerateKey(rand.Reader, 2048)
		}
		return nil, fmt.Errorf("tls: key type %q: want %s or %s", key, KeyECDSAP256, KeyRSA2048)
	}
	caKey, err := newKey()
	if err != nil {
		return TLSFiles{}, err
	}
	leafKey, err := newKey()
	if err != nil {
		return TLSFiles{}, err
	}
	now := time.Now()
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
		return n
	}
	ca := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "c10k bench CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("tls: CA certificate: %w", err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return TLSFiles{}, fmt.Errorf("tls: CA certificate: %w", err)
	}
	usage := x509.KeyUsageDigitalSignature
	if key == KeyRSA2048 {
		usage |= x509.KeyUsageKeyEncipherment
	}
	leaf := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
		KeyUsage:     usage,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, leafKey.Public(), caKey)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("tls: server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("tls: server key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return TLSFiles{}, fmt.Errorf("tls: %w", err)
	}
	f := TLSFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	for _, w := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{
		{f.CA, "CERTIFICATE", caDER, 0o644},
		{f.Cert, "CERTIFICATE", leafDER, 0o644},
		{f.Key, "PRIVATE KEY", keyDER, 0o600},
	} {
		if err := os.WriteFile(w.path, pem.EncodeToMemory(&pem.Block{Type: w.typ, Bytes: w.der}), w.mode); err != nil {
			return TLSFiles{}, fmt.Errorf("tls: %w", err)
		}
	}
	return f, nil
}
