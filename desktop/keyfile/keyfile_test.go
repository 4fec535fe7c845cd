package keyfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// cheap keeps the tests fast; DefaultParams are measured by the benchmark.
var cheap = Params{Time: 1, MemoryKiB: 64, Threads: 1}

func TestSlotOpensWithItsPasswordOnly(t *testing.T) {
	key := NewDataKey()
	s, err := NewSlot("u1", " Nurse@Ward.test ", "nurse123", key, cheap, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Unwrap("nurse123")
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("right password: %x, %v", got, err)
	}
	if _, err := s.Unwrap("nurse124"); !errors.Is(err, ErrWrongPassword) || err.Error() != "keyfile: the password does not open this slot" {
		t.Fatalf("wrong password: %v", err)
	}
	// Moved to another user, or with lower costs, it opens no more.
	moved := s
	moved.UserID = "u2"
	if _, err := moved.Unwrap("nurse123"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("moved slot: %v", err)
	}
	lowered := s
	lowered.Params.MemoryKiB = 32
	if _, err := lowered.Unwrap("nurse123"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("lowered slot: %v", err)
	}
	broken := s
	broken.Params.Time = 0
	if _, err := broken.Unwrap("nurse123"); err == nil || err.Error() != "keyfile: the slot of nurse@ward.test is malformed" {
		t.Fatalf("malformed slot: %v", err)
	}
}

func TestFileSaveLoadPutRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "ward.db.keys")
	f, err := Load(path)
	if err != nil || len(f.Slots) != 0 {
		t.Fatalf("missing file: %+v, %v", f, err)
	}
	key := NewDataKey()
	a, _ := NewSlot("u1", "a@x", "pa", key, cheap, time.Now())
	b, _ := NewSlot("u2", "b@x", "pb", key, cheap, time.Now())
	f.DeviceID = "dev-1"
	f.Put(a)
	f.Put(b)
	a2, _ := NewSlot("u1", "a@x", "new password", key, cheap, time.Now())
	f.Put(a2) // a password change replaces the slot
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v, %v; want %o", p, fi.Mode().Perm(), err, want)
		}
	}
	g, err := Load(path)
	if err != nil || g.DeviceID != "dev-1" || len(g.Slots) != 2 {
		t.Fatalf("loaded %+v, %v", g, err)
	}
	if _, err := g.Slot("A@X").Unwrap("pa"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("the old password still opens the slot: %v", err)
	}
	if k, err := g.Slot("a@x").Unwrap("new password"); err != nil || !bytes.Equal(k, key) {
		t.Fatalf("new password: %v", err)
	}
	if !g.Remove("u2") || g.Slot("b@x") != nil || g.Remove("u2") {
		t.Fatal("remove")
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, key) || bytes.Contains(raw, []byte("new password")) {
		t.Fatal("the key file holds the key or a password in clear")
	}
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := Load(path); err == nil {
		t.Fatal("a broken key file loaded")
	}
}

// BenchmarkUnwrap is one offline-login guess at DefaultParams: its time
// per op and its B/op (Argon2id's memory) are the figures docs/security.md
// quotes.
func BenchmarkUnwrap(b *testing.B) {
	key := NewDataKey()
	s, err := NewSlot("u1", "a@x", "correct horse", key, DefaultParams, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		if _, err := s.Unwrap("wrong guess"); !errors.Is(err, ErrWrongPassword) {
			b.Fatal(err)
		}
	}
	// CPU per guess: the wall time per op grows with the machine's load,
	// the CPU an attacker must spend does not.
	b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
