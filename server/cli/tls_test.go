package cli_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"wardsync/internal/pgtest"
	"wardsync/server/certs"
)

// TestCertInitAndServeTLS: `cert init` writes a CA and a server
// certificate (keys 0600); `serve -tls-cert -tls-key` serves them with TLS
// 1.2 at least and HSTS on every answer; a second `cert init` keeps the CA,
// and SIGHUP makes the running server serve the new certificate.
func TestCertInitAndServeTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	var out, errOut bytes.Buffer
	if err := execute(context.Background(), []string{"cert", "init", "-dir", dir, "-hosts", "ward.example.org,10.1.2.3"}, &out, &errOut); err != nil {
		t.Fatalf("cert init: %v %s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "CA created: "+filepath.Join(dir, "ca.pem")) || !strings.Contains(out.String(), "pin (optional, workstation -pin): sha256/") {
		t.Fatalf("cert init said %q", out.String())
	}
	for name, want := range map[string]os.FileMode{"ca.pem": 0o644, "ca-key.pem": 0o600, "server.pem": 0o644, "server-key.pem": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: %v mode %v, want %v", name, err, fi.Mode().Perm(), want)
		}
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	first := loadLeaf(t, filepath.Join(dir, "server.pem"))
	for _, name := range []string{"localhost", "ward.example.org", "10.1.2.3", "127.0.0.1"} {
		if err := first.VerifyHostname(name); err != nil {
			t.Fatalf("server certificate does not cover %s: %v", name, err)
		}
	}

	url := pgtest.NewDatabase(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, done := serve(t, ctx, `listening on (\S+) — dashboard https://\S+/admin`, url,
		"-tls-cert", filepath.Join(dir, "server.pem"), "-tls-key", filepath.Join(dir, "server-key.pem"))
	base := "https://" + m[1]
	client := func(maxVersion uint16) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: maxVersion}, DisableKeepAlives: true}}
	}
	for _, path := range []string{"/healthz", "/readyz", "/no-such-page"} {
		resp, err := client(0).Get(base + path)
		if err != nil {
			t.Fatalf("%s over TLS with the CA from cert init: %v", path, err)
		}
		resp.Body.Close()
		if hsts := resp.Header.Get("Strict-Transport-Security"); hsts != "max-age=31536000" {
			t.Fatalf("%s: %d, HSTS %q", path, resp.StatusCode, hsts)
		}
	}
	if resp, err := client(tls.VersionTLS11).Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a TLS 1.1 client was served")
	}
	if resp, err := http.Get("http://" + m[1] + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain http was served on the TLS port")
		}
	}

	// Renew: the CA stays, the certificate changes; SIGHUP serves it.
	out.Reset()
	if err := execute(context.Background(), []string{"cert", "init", "-dir", dir}, &out, &errOut); err != nil ||
		!strings.Contains(out.String(), "CA kept (it signed the new certificate)") {
		t.Fatalf("second cert init: %v %q", err, out.String())
	}
	renewed := loadLeaf(t, filepath.Join(dir, "server.pem"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client(0).Get(base + "/healthz")
		if err != nil {
			t.Fatalf("after the renewal, the old CA no longer verifies: %v", err)
		}
		resp.Body.Close()
		served := resp.TLS.PeerCertificates[0]
		if served.SerialNumber.Cmp(renewed.SerialNumber) == 0 {
			break
		}
		if served.SerialNumber.Cmp(first.SerialNumber) != 0 || time.Now().After(deadline) {
			t.Fatalf("serving serial %v, want the renewed %v", served.SerialNumber, renewed.SerialNumber)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve ended with %v", err)
	}
}

func TestServeTLSRefusals(t *testing.T) {
	url := pgtest.NewDatabase(t, false)
	dir := t.TempDir()
	if _, err := certs.Init(dir, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "-tls-cert", filepath.Join(dir, "server.pem")}, "-tls-cert and -tls-key go together: give both files, or neither for plain http"},
		{[]string{"serve", "-tls-cert", filepath.Join(dir, "server.pem"), "-tls-key", filepath.Join(dir, "ca-key.pem")},
			"TLS certificate " + filepath.Join(dir, "server.pem") + " with key " + filepath.Join(dir, "ca-key.pem") + " cannot be used"},
		{[]string{"cert", "init", "-dir", dir, "extra"}, `cert init: unexpected argument "extra"`},
	} {
		_, err := run(t, url, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

func loadLeaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(path, strings.Replace(path, "server.pem", "server-key.pem", 1))
	if err != nil {
		t.Fatal(err)
	}
	return pair.Leaf
}
