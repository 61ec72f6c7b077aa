package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/c10k/c10k/internal/certgen"
)

// Key types of a generated certificate (SiteTLS.Key).
const (
	// KeyECDSAP256 is an ECDSA P-256 key: what certbot and most CDNs
	// issue now; cheap to sign with.
	KeyECDSAP256 = certgen.ECDSAP256
	// KeyRSA2048 is a 2048-bit RSA key: the classic, whose private-key
	// operation makes the server's share of a full handshake many times
	// an ECDSA one's.
	KeyRSA2048 = certgen.RSA2048
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
	ca, err := certgen.NewCA("c10k bench CA", key, certLifetime)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("tls: %w", err)
	}
	leaf, err := ca.Issue(key, certLifetime, "localhost", "127.0.0.1", "::1")
	if err != nil {
		return TLSFiles{}, fmt.Errorf("tls: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return TLSFiles{}, fmt.Errorf("tls: %w", err)
	}
	f := TLSFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	err = ca.WriteCert(f.CA)
	if err == nil {
		err = leaf.WriteCert(f.Cert)
	}
	if err == nil {
		err = leaf.WriteKey(f.Key)
	}
	if err != nil {
		return TLSFiles{}, fmt.Errorf("tls: %w", err)
	}
	return f, nil
}
