package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestEscrowKeyFileIsMadeOnceAndChecked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "escrow.key")
	k1, err := loadEscrowKey(path)
	if err != nil || len(k1) != 32 {
		t.Fatalf("made: %x %v", k1, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode().Perm(), err)
	}
	k2, err := loadEscrowKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("read again: %v", err)
	}
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := loadEscrowKey(path); err == nil || err.Error() != "-escrow-key-file: "+path+" holds 5 bytes, want 32" {
		t.Fatalf("short key: %v", err)
	}
}
