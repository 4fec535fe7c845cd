package remote

// Transport security of the workstation: plain http only to this computer,
// a hospital CA added to the system's, an optional pin of the server's key,
// and refusals that say in a sentence what is wrong instead of an x509
// error dump.

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"wardsync/workflow"
)

// Codes of the transport-security refusals (declared in workflow, which
// says when each is used).
const (
	CodeInsecureURL     = workflow.CodeInsecureURL
	CodeUntrustedServer = workflow.CodeUntrustedServer
	CodePinMismatch     = workflow.CodePinMismatch
	CodeBadTLSConfig    = workflow.CodeBadTLSConfig
)

// Security is how the workstation checks the server it talks to. The zero
// value trusts the system's certificate authorities only.
type Security struct {
	// CAFile is a PEM file of certificate authorities trusted besides the
	// system's: the hospital's own, or ca.pem of `wardsync-server cert
	// init`.
	CAFile string
	// Pin, when set, is "sha256/" and the base64 SHA-256 of a public key
	// (SubjectPublicKeyInfo) that must appear in the server's verified
	// chain: the server's own key, or its CA's.
	Pin string
}

// CheckURL refuses a server URL that would send passwords and patient data
// unencrypted over a network: http:// and ws:// are allowed only to this
// computer (localhost, 127.0.0.0/8, ::1), as for the demo.
func CheckURL(serverURL string) error {
	u, err := url.Parse(serverURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("remote: server URL %q must be https://host[:port]", serverURL)
	}
	switch u.Scheme {
	case "https", "wss":
		return nil
	case "http", "ws":
		if Loopback(u.Hostname()) {
			return nil
		}
		return &workflow.Rejection{Code: CodeInsecureURL, Message: fmt.Sprintf(
			"The server address %s uses plain %s://, which would send passwords and patient records unencrypted over the network; use https:// (plain http is allowed only to this computer, such as http://127.0.0.1:8420).",
			serverURL, u.Scheme)}
	default:
		return fmt.Errorf("remote: server URL %q must be https://host[:port]", serverURL)
	}
}

// Loopback reports whether host names this computer.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TLSConfig is the client TLS configuration Security describes: TLS 1.2
// at least, the system's roots plus CAFile, and the pin checked after the
// chain verifies.
func (s Security) TLSConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, &workflow.Rejection{Code: CodeBadTLSConfig, Message: fmt.Sprintf(
				"The CA file %s cannot be read (%v); give the path of the hospital's CA certificate (PEM).", s.CAFile, errors.Unwrap(err))}
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &workflow.Rejection{Code: CodeBadTLSConfig, Message: fmt.Sprintf(
				"The CA file %s holds no PEM certificate; give the hospital's CA certificate (a file starting with -----BEGIN CERTIFICATE-----).", s.CAFile)}
		}
		cfg.RootCAs = pool
	}
	if s.Pin != "" {
		want, err := parsePin(s.Pin)
		if err != nil {
			return nil, err
		}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			for _, chain := range cs.VerifiedChains {
				for _, c := range chain {
					if sha256.Sum256(c.RawSubjectPublicKeyInfo) == want {
						return nil
					}
				}
			}
			got := ""
			if len(cs.PeerCertificates) > 0 {
				got = PinOf(cs.PeerCertificates[0])
			}
			return &PinMismatchError{Got: got, Want: s.Pin}
		}
	}
	return cfg, nil
}

func parsePin(pin string) ([32]byte, error) {
	var out [32]byte
	b64, ok := strings.CutPrefix(pin, "sha256/")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(raw) != len(out) {
		return out, &workflow.Rejection{Code: CodeBadTLSConfig, Message: fmt.Sprintf(
			"The pin %q is not of the form sha256/ followed by the base64 of 32 bytes (wardsync-server cert init prints the server's).", pin)}
	}
	copy(out[:], raw)
	return out, nil
}

// PinOf is a certificate's key pin, in the form Security.Pin takes.
func PinOf(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
}

// PinMismatchError is the handshake's refusal of a key that is not pinned.
type PinMismatchError struct{ Got, Want string }

func (e *PinMismatchError) Error() string {
	return fmt.Sprintf("server key %s is not the pinned %s", e.Got, e.Want)
}

// Transport is the HTTP client and websocket dialer that apply Security.
func (s Security) Transport(timeout time.Duration) (*http.Client, *websocket.Dialer, error) {
	cfg, err := s.TLSConfig()
	if err != nil {
		return nil, nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	dialer := &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: timeout, TLSClientConfig: cfg.Clone()}
	return &http.Client{Timeout: timeout, Transport: tr}, dialer, nil
}

// explainTLS turns a failed TLS handshake with serverURL into a sentence
// with a code; any other error is returned as is.
func explainTLS(err error, serverURL string) error {
	if err == nil {
		return nil
	}
	host := serverURL
	if u, perr := url.Parse(serverURL); perr == nil && u.Host != "" {
		host = u.Host
	}
	var (
		pin      *PinMismatchError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &pin):
		return &workflow.Rejection{Code: CodePinMismatch, Message: fmt.Sprintf(
			"The server at %s presented the key %s, but this workstation is pinned to %s; the connection was refused because the server's key changed or someone is intercepting the connection. If the key was replaced on purpose, update the pin.",
			host, pin.Got, pin.Want)}
	case errors.As(err, &unknown):
		issuer := "an unknown authority"
		if unknown.Cert != nil && unknown.Cert.Issuer.CommonName != "" {
			issuer = fmt.Sprintf("%q", unknown.Cert.Issuer.CommonName)
		}
		return &workflow.Rejection{Code: CodeUntrustedServer, Message: fmt.Sprintf(
			"The server at %s presented a certificate signed by %s, which this workstation does not trust; give it the hospital's CA file (-ca-file, or the setup screen).",
			host, issuer)}
	case errors.As(err, &hostname):
		names := "other names"
		if hostname.Certificate != nil {
			all := append([]string{}, hostname.Certificate.DNSNames...)
			for _, ip := range hostname.Certificate.IPAddresses {
				all = append(all, ip.String())
			}
			if len(all) > 0 {
				names = strings.Join(all, ", ")
			}
		}
		return &workflow.Rejection{Code: CodeUntrustedServer, Message: fmt.Sprintf(
			"The server's certificate is for %s, not for %s; use an address the certificate names, or have it reissued for this one.",
			names, hostname.Host)}
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		when := ""
		if invalid.Cert != nil {
			when = fmt.Sprintf(" (valid %s to %s)", invalid.Cert.NotBefore.Format(time.DateOnly), invalid.Cert.NotAfter.Format(time.DateOnly))
		}
		return &workflow.Rejection{Code: CodeUntrustedServer, Message: fmt.Sprintf(
			"The server at %s presented a certificate that is expired or not yet valid%s; check this workstation's clock, or renew the server's certificate.",
			host, when)}
	case errors.As(err, &invalid):
		return &workflow.Rejection{Code: CodeUntrustedServer, Message: fmt.Sprintf(
			"The server at %s presented a certificate this workstation cannot accept (%s).", host, invalid.Error())}
	case errors.As(err, &record):
		return &workflow.Rejection{Code: CodeUntrustedServer, Message: fmt.Sprintf(
			"The server at %s does not answer in TLS on that port; check the address (https:// needs a server started with -tls-cert).", host)}
	}
	return err
}

// SecurityRefusal reports whether err is one of the transport-security
// refusals above: the server may be up, but this workstation will not
// talk to it as configured.
func SecurityRefusal(err error) bool {
	r, ok := workflow.AsRejection(err)
	return ok && (r.Code == CodeInsecureURL || r.Code == CodeUntrustedServer || r.Code == CodePinMismatch || r.Code == CodeBadTLSConfig)
}
