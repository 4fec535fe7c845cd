package station

import (
	"context"
	"database/sql"
	"testing"

	"github.com/google/uuid"

	"wardsync/desktop"
	"wardsync/desktop/sqlite"
	"wardsync/desktop/sqlite/cryptvfs"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// TestTamperedOutbox: a workstation queues four acts offline; someone edits
// or deletes one in the SQLite file behind the app's back. The workstation
// reports it (Status.chainError) before anything is sent, and the server
// refuses the act concerned with CHAIN_BROKEN, records it, and applies the
// rest; nothing tampered reaches the records.
func TestTamperedOutbox(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		tamper  string
		local   string
		refused map[int64]string // server seq → message; the others are applied
		written []bool           // per act queued: does its document exist at the end
		deleted int              // acts gone from the queue
	}{
		{"entry edited", `UPDATE outbox SET args = replace(args, 'scan 2', 'forged') WHERE seq = 2`,
			"Act 2's content does not match its hash (modified after it was written); the server will refuse it.",
			map[int64]string{2: "Act 2's content does not match its hash (modified after it was written)."},
			[]bool{true, false, true, true}, 0},
		{"entry deleted", `DELETE FROM outbox WHERE seq = 2`,
			"Act 2 is missing from this workstation's queue (deleted outside the app); the acts after it will be refused.",
			// Acts 3 and 4 move down to seqs 2 and 3; the first after the hole is refused.
			map[int64]string{2: "Act 2 does not follow act 1 (an act was removed or reordered)."},
			[]bool{true, false, false, true}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, true)
			device := "tamper-" + uuid.NewString()[:8]
			env.addDevice(device)
			s := env.station(device)
			s.loginAll(workflow.RoleSecretary)
			s.run()
			wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)
			s.link.Cut()
			wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
				if s.e.Status().Online {
					return "still online"
				}
				return ""
			})
			var docs []string
			for i := range 4 {
				id := uuid.NewString()
				docs = append(docs, id)
				s.act(workflow.RoleSecretary, "document.attach", map[string]any{"id": id, "patientId": postgres.SeedID("patient:1"),
					"name": "scan " + string(rune('1'+i)), "type": "pdf", "url": "file:///scan.pdf"})
			}

			// Behind the engine's back: another connection to the file,
			// by someone holding the replica's key (the file is encrypted;
			// without the key it is no database at all).
			key := s.e.HandOverKey()
			vfs, err := cryptvfs.Register(key)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := sql.Open("sqlite", sqlite.DSN(s.cfg.DBPath)+"&vfs="+vfs.Name())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(c.tamper); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			vfs.Close()

			// The workstation sees it before sending anything: a replica
			// opened on the file now reports it, as the running one will
			// before its next push.
			rej, err := s.e.DB().VerifyChain(context.Background())
			if err != nil || rej == nil || rej.Code != workflow.CodeChainBroken || rej.Message != c.local {
				t.Fatalf("VerifyChain = %v %v, want %q", rej, err, c.local)
			}
			cfg := s.cfg
			cfg.DataKey = key
			second, err := desktop.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := second.Status().ChainError; got != c.local {
				t.Errorf("Status.chainError = %q, want %q", got, c.local)
			}
			if err := second.Close(context.Background()); err != nil {
				t.Fatal(err)
			}

			s.reconnect()
			wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)
			rows, err := env.Pool.Query(context.Background(), `SELECT seq, outcome, COALESCE(code, ''), COALESCE(message, '')
				FROM sync.mutations WHERE device_id = $1 ORDER BY seq`, device)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var seq int64
				var outcome, code, msg string
				if err := rows.Scan(&seq, &outcome, &code, &msg); err != nil {
					t.Fatal(err)
				}
				n++
				if want, refused := c.refused[seq]; refused {
					if outcome != "rejected" || code != string(workflow.CodeChainBroken) || msg != want {
						t.Errorf("seq %d: %s %s %q, want rejected CHAIN_BROKEN %q", seq, outcome, code, msg, want)
					}
				} else if outcome != "applied" {
					t.Errorf("seq %d: %s %s %q, want applied", seq, outcome, code, msg)
				}
			}
			if want := 4 - c.deleted; n != want {
				t.Errorf("%d acts in the audit log, want %d", n, want)
			}
			for i, id := range docs {
				if got := wardtest.Count(t, env.Pool, `SELECT count(*) FROM documents WHERE id = $1`, id) == 1; got != c.written[i] {
					t.Errorf("document of act %d written = %v, want %v", i+1, got, c.written[i])
				}
			}
			if wardtest.Count(t, env.Pool, `SELECT count(*) FROM documents WHERE name = 'forged'`) != 0 {
				t.Error("the forged content reached the records")
			}
			// The refused act waits in the workstation's rejected list, and
			// the chain is whole again.
			rejected, err := s.e.DB().Rejected(context.Background(), false)
			if err != nil || len(rejected) != 1 || rejected[0].Rejection.Code != workflow.CodeChainBroken {
				t.Errorf("rejected list %+v %v", rejected, err)
			}
			if rej, err := s.e.DB().VerifyChain(context.Background()); rej != nil || err != nil {
				t.Errorf("after the sync the chain is still reported broken: %v %v", rej, err)
			}
		})
	}
}
