// Package certs makes the certificates of a small site or the demo: a
// local certificate authority and a server certificate it signs
// (wardsync-server cert init), and serves the server's certificate to TLS,
// re-reading its files when asked (SIGHUP) so that a renewal needs no
// restart. A hospital with its own CA skips Init and gives serve its files.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// File names Init writes in its folder.
const (
	CAFile        = "ca.pem"         // what workstations trust (-ca-file)
	CAKeyFile     = "ca-key.pem"     // signs server certificates; keep it off the server if you can
	ServerFile    = "server.pem"     // serve -tls-cert
	ServerKeyFile = "server-key.pem" // serve -tls-key
)

// Lifetimes: the CA outlives many server certificates, which are renewed
// by running Init again (the CA is kept, so workstations need nothing new).
const (
	CALifetime     = 10 * 365 * 24 * time.Hour
	ServerLifetime = 397 * 24 * time.Hour
)

// Files are the paths Init wrote (or kept) and the server key's pin.
type Files struct {
	CA, CAKey, Cert, Key string
	// CAKept: the folder already held a CA, which signed the new
	// certificate.
	CAKept bool
	// Pin is the server key's pin for a workstation's -pin.
	Pin string
}

// Init makes, in dir, a CA (unless one is already there) and a server
// certificate signed by it for localhost, 127.0.0.1, ::1 and the given
// host names or addresses. Keys are written 0600, certificates 0644.
func Init(dir string, hosts []string, now time.Time) (*Files, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cert init: make %s: %w", dir, err)
	}
	f := &Files{CA: filepath.Join(dir, CAFile), CAKey: filepath.Join(dir, CAKeyFile),
		Cert: filepath.Join(dir, ServerFile), Key: filepath.Join(dir, ServerKeyFile)}
	ca, caKey, err := loadCA(f.CA, f.CAKey)
	switch {
	case err == nil:
		f.CAKept = true
	case errors.Is(err, fs.ErrNotExist):
		if ca, caKey, err = newCA(now); err != nil {
			return nil, err
		}
		if err := writePEM(f.CAKey, "EC PRIVATE KEY", mustMarshalKey(caKey), 0o600); err != nil {
			return nil, err
		}
		if err := writePEM(f.CA, "CERTIFICATE", ca.Raw, 0o644); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "wardsync server", Organization: []string{"wardsync"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(ServerLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	seen := map[string]bool{}
	for _, h := range append([]string{"localhost", "127.0.0.1", "::1"}, hosts...) {
		h = strings.TrimSpace(h)
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("cert init: sign the server certificate: %w", err)
	}
	if err := writePEM(f.Key, "EC PRIVATE KEY", mustMarshalKey(key), 0o600); err != nil {
		return nil, err
	}
	if err := writePEM(f.Cert, "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	f.Pin = Pin(leaf)
	return f, nil
}

// Pin is a certificate's public-key pin as workstations take it:
// "sha256/" and the base64 of the SHA-256 of its SubjectPublicKeyInfo. It
// stays the same when a certificate is renewed with the same key.
func Pin(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
}

func newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "wardsync local CA", Organization: []string{"wardsync"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("cert init: make the CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

func loadCA(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		if _, statErr := os.Stat(certPath); errors.Is(statErr, fs.ErrNotExist) {
			return nil, nil, fs.ErrNotExist
		}
		return nil, nil, fmt.Errorf("cert init: the CA in %s cannot be used: %w", filepath.Dir(certPath), err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("cert init: the CA key %s is not an ECDSA key", keyPath)
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("cert init: %s is not a CA certificate", certPath)
	}
	return ca, key, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

func mustMarshalKey(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	return der
}

// writePEM replaces path atomically, so that a server reloading on SIGHUP
// never reads half a file.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := pem.Encode(tmp, &pem.Block{Type: typ, Bytes: der}); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Reloader serves a certificate and key read from files, re-read by
// Reload. A reload that fails keeps the certificate already served.
type Reloader struct {
	certFile, keyFile string
	mu                sync.RWMutex
	cert              *tls.Certificate
}

// Load reads the files once; an error names what is wrong with them.
func Load(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload re-reads the files.
func (r *Reloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s with key %s cannot be used: %w", r.certFile, r.keyFile, err)
	}
	r.mu.Lock()
	r.cert = &c
	r.mu.Unlock()
	return nil
}

// Leaf is the certificate served now.
func (r *Reloader) Leaf() *x509.Certificate {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert.Leaf
}

// GetCertificate is tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert, nil
}

// ServerConfig is the TLS configuration of the server: TLS 1.2 at least,
// HTTP/1.1 only (the /sync websocket needs it), the certificate from r.
func ServerConfig(r *Reloader) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"http/1.1"},
	}
}
