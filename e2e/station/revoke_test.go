package station

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"wardsync/desktop/keyfile"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
)

// TestRevokeWipesKeys: revoked at the server while its link is down, a
// workstation with an act queued learns it at its next contact (the
// refused reconnection, then the device's standing): its slots and
// replica go, the queued act stays, sealed. Registered again, the next
// online login gets the escrowed key back, and the act is queued again and
// sent.
func TestRevokeWipesKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newEnv(t, true)
	env.DB.Config.EscrowKey = []byte("e2e-escrow-key-of-32-bytes-long!")
	const device = "revoke-ward"
	env.addDevice(device, nur, sec)
	s := env.station(device)
	s.loginAll(nur)
	s.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)

	s.link.Cut()
	marker := "MARKER-revoked-8c2f4a"
	queued := s.act(nur, "appointment.recordVitals", map[string]any{"id": postgres.SeedID("a:checkedin"), "vitals": vitals(37.2, 119),
		"medicalHistoryNotes": marker})
	if err := env.DB.RevokeDevice(ctx, device); err != nil {
		t.Fatal(err)
	}
	s.reconnect()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if s.e.Status().Wiped == "" {
			return "the workstation has not wiped its keys yet"
		}
		return ""
	})
	s.stop()

	keys, err := keyfile.Load(s.cfg.DBPath + ".keys")
	if err != nil || len(keys.Slots) != 0 || keys.Wiped == nil {
		t.Fatalf("key file after the wipe: %+v %v", keys, err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(s.cfg.DBPath + suffix); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("replica file %q survived the wipe: %v", suffix, err)
		}
	}
	dir := filepath.Dir(s.cfg.DBPath)
	ents, _ := os.ReadDir(dir)
	for _, ent := range ents {
		raw, _ := os.ReadFile(filepath.Join(dir, ent.Name()))
		if bytes.Contains(raw, []byte(marker)) {
			t.Errorf("%s holds the queued act's notes in clear", ent.Name())
		}
	}
	_, err = s.e.Login(ctx, wardtest.Email(nur), wardtest.Password(nur))
	if err == nil {
		t.Fatal("a revoked workstation let the nurse in")
	}

	// Registered again (same id): the escrowed key opens the kept act.
	env.addDevice(device, nur, sec)
	s.login(wardtest.Email(nur), wardtest.Password(nur))
	p := s.pending()
	if len(p) != 1 || p[0].ID != queued.ID {
		t.Fatalf("after re-registration, pending %+v, want the kept act %s", p, queued.ID)
	}
	s.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if n := len(s.pending()); n > 0 {
			return "the kept act is still queued"
		}
		return ""
	})
	// Sent: the server recorded an outcome for it, whichever it is (the
	// session that authored it ended with the revocation).
	var outcome, code string
	if err := env.Pool.QueryRow(ctx, `SELECT outcome, COALESCE(code, '') FROM sync.mutations WHERE mutation_id = $1`, queued.ID).Scan(&outcome, &code); err != nil {
		t.Fatalf("the kept act never reached the server: %v", err)
	}
	t.Logf("the kept act reached the server: %s %s", outcome, code)
}
