package certs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A reload that fails keeps serving the certificate already loaded; one
// that succeeds serves the new one.
func TestReloadKeepsTheOldCertificateOnFailure(t *testing.T) {
	dir := t.TempDir()
	f, err := Init(dir, []string{"ward.example.org"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	first := r.Leaf().SerialNumber
	if Pin(r.Leaf()) != f.Pin || !strings.HasPrefix(f.Pin, "sha256/") {
		t.Fatalf("pin %s, leaf %s", f.Pin, Pin(r.Leaf()))
	}
	if err := os.WriteFile(f.Key, []byte("half a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "TLS certificate "+f.Cert+" with key "+f.Key+" cannot be used") {
		t.Fatalf("reload of a broken key: %v", err)
	}
	if c, _ := r.GetCertificate(nil); c.Leaf.SerialNumber.Cmp(first) != 0 {
		t.Fatal("a failed reload replaced the certificate")
	}
	g, err := Init(dir, nil, time.Now())
	if err != nil || !g.CAKept {
		t.Fatalf("second init: %+v %v", g, err)
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if r.Leaf().SerialNumber.Cmp(first) == 0 {
		t.Fatal("the renewed certificate is not served")
	}
	if _, err := Init(filepath.Join(dir, "ca.pem"), nil, time.Now()); err == nil {
		t.Fatal("init into a file succeeded")
	}
}
