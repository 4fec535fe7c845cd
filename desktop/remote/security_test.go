package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"wardsync/workflow"
)

func TestCheckURL(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8420", "http://localhost:8420", "http://[::1]:8420", "ws://127.0.0.2/", "https://ward.example.org", "wss://10.1.2.3:8443"} {
		if err := CheckURL(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.1.2.3:8420", "ws://ward.example.org", "http://localhost.example.org"} {
		err := CheckURL(bad)
		r, ok := workflow.AsRejection(err)
		scheme, _, _ := strings.Cut(bad, ":")
		want := "The server address " + bad + " uses plain " + scheme + "://, which would send passwords and patient records unencrypted over the network; use https:// (plain http is allowed only to this computer, such as http://127.0.0.1:8420)."
		if !ok || r.Code != CodeInsecureURL || r.Message != want {
			t.Errorf("%s: %v", bad, err)
		}
	}
	// Login, the websocket and every other call refuse before any byte
	// leaves: nothing listens at 10.1.2.3 in the test.
	if _, err := Login(context.Background(), nil, "http://10.1.2.3:8420", "nurse@hospital.com", "nurse123", "d", testSignKey, nil); !isCode(err, CodeInsecureURL) {
		t.Errorf("login over plain http to another computer: %v", err)
	}
	if _, err := Dial(context.Background(), "http://10.1.2.3:8420", "tok", Options{}); !isCode(err, CodeInsecureURL) {
		t.Errorf("dial over plain http to another computer: %v", err)
	}
}

func isCode(err error, code workflow.Code) bool {
	r, ok := workflow.AsRejection(err)
	return ok && r.Code == code
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, file: file}
}

// serve starts a TLS server with a certificate the CA signs for
// 127.0.0.1, answering a login and upgrading /sync.
func (ca *testCA) serve(t *testing.T) (*httptest.Server, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	up := websocket.Upgrader{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sync" {
			if c, err := up.Upgrade(w, r, nil); err == nil {
				c.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"token": "tok", "sessionId": "ses-1", "user": map[string]any{"id": "u1", "name": "N", "role": "NURSE"}})
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, leaf
}

// The workstation trusts a server signed by the CA file it was given, and
// refuses, each with its sentence, one signed by another CA, one without
// any CA file, and one whose key is not the pinned one.
func TestTLSTrustAndPin(t *testing.T) {
	hospital := newTestCA(t, "Hospital CA")
	other := newTestCA(t, "Rogue CA")
	srv, leaf := hospital.serve(t)
	host := strings.TrimPrefix(srv.URL, "https://")
	ctx := context.Background()

	call := func(sec Security) (loginErr, dialErr error) {
		client, dialer, err := sec.Transport(5 * time.Second)
		if err != nil {
			return err, err
		}
		_, loginErr = Login(ctx, client, srv.URL, "nurse@hospital.com", "nurse123", "d", testSignKey, nil)
		c, dialErr := Dial(ctx, srv.URL, "tok", Options{Dialer: dialer})
		if c != nil {
			c.Close()
		}
		return loginErr, dialErr
	}
	untrusted := func(issuer string) string {
		return "The server at " + host + " presented a certificate signed by " + issuer +
			", which this workstation does not trust; give it the hospital's CA file (-ca-file, or the setup screen)."
	}
	goodPin := PinOf(leaf)
	badPin := PinOf(other.cert)
	for _, tc := range []struct {
		name string
		sec  Security
		code workflow.Code
		msg  string
	}{
		{"the hospital CA", Security{CAFile: hospital.file}, "", ""},
		{"the hospital CA and the server's pin", Security{CAFile: hospital.file, Pin: goodPin}, "", ""},
		{"the hospital CA and its own key pinned", Security{CAFile: hospital.file, Pin: PinOf(hospital.cert)}, "", ""},
		{"another CA", Security{CAFile: other.file}, CodeUntrustedServer, untrusted(`"Hospital CA"`)},
		{"no CA file", Security{}, CodeUntrustedServer, untrusted(`"Hospital CA"`)},
		{"a wrong pin", Security{CAFile: hospital.file, Pin: badPin}, CodePinMismatch,
			"The server at " + host + " presented the key " + goodPin + ", but this workstation is pinned to " + badPin +
				"; the connection was refused because the server's key changed or someone is intercepting the connection. If the key was replaced on purpose, update the pin."},
	} {
		loginErr, dialErr := call(tc.sec)
		for what, err := range map[string]error{"login": loginErr, "websocket": dialErr} {
			if tc.code == "" {
				if err != nil {
					t.Errorf("%s, %s: %v", tc.name, what, err)
				}
				continue
			}
			r, ok := workflow.AsRejection(err)
			if !ok || r.Code != tc.code || r.Message != tc.msg {
				t.Errorf("%s, %s: %v\nwant %s: %s", tc.name, what, err, tc.code, tc.msg)
			}
			if !SecurityRefusal(err) {
				t.Errorf("%s, %s: not a security refusal", tc.name, what)
			}
		}
	}
}

func TestBadSecurityConfig(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, tc := range []struct {
		sec Security
		msg string
	}{
		{Security{CAFile: notPEM}, "The CA file " + notPEM + " holds no PEM certificate; give the hospital's CA certificate (a file starting with -----BEGIN CERTIFICATE-----)."},
		{Security{CAFile: "/no/such/ca.pem"}, "The CA file /no/such/ca.pem cannot be read (no such file or directory); give the path of the hospital's CA certificate (PEM)."},
		{Security{Pin: "md5/abc"}, `The pin "md5/abc" is not of the form sha256/ followed by the base64 of 32 bytes (wardsync-server cert init prints the server's).`},
	} {
		_, err := tc.sec.TLSConfig()
		if r, ok := workflow.AsRejection(err); !ok || r.Code != CodeBadTLSConfig || r.Message != tc.msg {
			t.Errorf("%+v: %v", tc.sec, err)
		}
	}
}
