package sqlite

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// plaintextWard writes, at path, the unencrypted replica a version before
// encryption left: opened the way it opened it (the stock VFS), with the
// seed's rows, an act queued with a marker, bound to its device, closed.
func plaintextWard(t *testing.T, path string) (map[string]int, []int64) {
	t.Helper()
	ctx := context.Background()
	old, err := OpenUnencrypted(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, old)
	if _, err := old.Bind(ctx, "dev-plain", "http://127.0.0.1:8420"); err != nil {
		t.Fatal(err)
	}
	mustAct(t, old, secretary, "patient.update", obj{"id": patient2ID, "phone": "MARKER-0147-PLAIN"}, t0)
	mustAct(t, old, secretary, "appointment.cancel", obj{"id": appt1ID}, t0)
	c, seqs := counts(t, old), outboxSeqs(t, old)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if plain, err := IsPlaintext(path); err != nil || !plain {
		t.Fatalf("the old replica is not a plain SQLite file: %v %v", plain, err)
	}
	return c, seqs
}

// secrets in the plaintext replica that must not stay readable anywhere in
// its folder once converted.
var plainSecrets = [][]byte{[]byte("MARKER-0147-PLAIN"), []byte("Pasteur"), []byte("SQLite format 3")}

func noSecretIn(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range plainSecrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s still holds %q", e.Name(), s)
			}
		}
	}
}

// TestPlaintextReplicaIsEncrypted: the first unlock of a replica made
// before encryption copies it into an encrypted replica, rows, queue and
// sync state intact, and overwrites and removes the plaintext.
func TestPlaintextReplicaIsEncrypted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "ward.db")
	wantCounts, wantSeqs := plaintextWard(t, path)

	db, err := Open(ctx, path, testKey)
	if err != nil {
		t.Fatalf("the plaintext replica did not open encrypted: %v", err)
	}
	if got := counts(t, db); !reflect.DeepEqual(got, wantCounts) {
		t.Errorf("rows after the conversion: %v, want %v", got, wantCounts)
	}
	if got := outboxSeqs(t, db); !reflect.DeepEqual(got, wantSeqs) {
		t.Errorf("queued acts after the conversion: %v, want %v", got, wantSeqs)
	}
	if got := column(t, db, "patients", patient2ID, "lastName"); got != "Pasteur" {
		t.Errorf("a patient after the conversion: %v", got)
	}
	st, err := db.State(ctx)
	if err != nil || st.DeviceID != "dev-plain" {
		t.Errorf("sync state after the conversion: %+v %v", st, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if plain, err := IsPlaintext(path); err != nil || plain {
		t.Fatalf("the replica is still plain: %v %v", plain, err)
	}
	for _, left := range []string{plainAside(path), converting(path)} {
		if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left behind: %v", filepath.Base(left), err)
		}
	}
	noSecretIn(t, dir)

	// Encrypted now: another key does not open it, the same key does, and
	// nothing is converted again.
	_, err = Open(ctx, path, []byte("another-key-of-thirty-two-bytes!"))
	var u *Unreadable
	if !errors.As(err, &u) {
		t.Fatalf("another key: %v", err)
	}
	db, err = Open(ctx, path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(t, db); !reflect.DeepEqual(got, wantCounts) {
		t.Errorf("rows at the second open: %v", got)
	}
	db.Close()
}

// TestPlaintextConversionResumes: a crash between moving the plaintext
// aside and putting the encrypted copy in its place loses nothing, and one
// after the swap leaves no plaintext.
func TestPlaintextConversionResumes(t *testing.T) {
	ctx := context.Background()
	t.Run("plaintext moved aside", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "ward.db")
		want, _ := plaintextWard(t, path)
		if err := os.Rename(path, plainAside(path)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(converting(path), []byte("half a conversion"), 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(ctx, path, testKey)
		if err != nil {
			t.Fatal(err)
		}
		if got := counts(t, db); !reflect.DeepEqual(got, want) {
			t.Errorf("rows: %v, want %v", got, want)
		}
		db.Close()
		noSecretIn(t, dir)
	})
	t.Run("swapped, plaintext not yet removed", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "ward.db")
		plaintextWard(t, path)
		db, err := Open(ctx, path, testKey)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		// The plaintext copy as the crash left it.
		plaintextWard(t, plainAside(path))
		db, err = Open(ctx, path, testKey)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		if _, err := os.Stat(plainAside(path)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the plaintext copy is left: %v", err)
		}
		noSecretIn(t, dir)
	})
}
