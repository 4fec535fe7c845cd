package devicekey

import (
	"os"
	"path/filepath"
	"testing"

	"wardsync/syncproto"
)

// TestCreateLoad: the key made at the claim comes back, in a 0600 file of
// a 0700 folder, and proves what its public half verifies.
func TestCreateLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ward", "ward.db.device")
	if k, err := Load(path); err != nil || k != nil {
		t.Fatalf("Load before Create = %v, %v; want nothing", k, err)
	}
	pub, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := Load(path)
	if err != nil || priv == nil {
		t.Fatalf("Load: %v", err)
	}
	if !syncproto.VerifyDevice(pub, "d", syncproto.PurposeLogin, "n", syncproto.ProveDevice(priv, "d", syncproto.PurposeLogin, "n")) {
		t.Fatal("the loaded key does not prove for the created public key")
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode(), err, want)
		}
	}
	if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil {
		t.Error("a damaged key file loaded")
	}
}
