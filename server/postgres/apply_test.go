package postgres

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestRefusedWriteUndoesOnlyItsAct: a write the database refuses after the
// mutator accepted the act (another writer's constraint, a row gone) rejects
// that act alone: its other writes are undone, the acts before and after it
// in the same push stand, and every outcome is audited with its chain link.
// The writes of an act go to PostgreSQL in one batch with their savepoint
// (WriteEffect, effect.go), so this is the path that batch must get right.
func TestRefusedWriteUndoesOnlyItsAct(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	dev, err := db.AddDevice(ctx, "", "Refused writes", workflow.Roles)
	if err != nil {
		t.Fatal(err)
	}
	// What another program's rules could refuse, and a row another writer
	// deleted between the mutator's read and the write (the update finds
	// no row).
	if _, err := pool.Exec(ctx, `
		CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'refused by the test';
		END $$;
		CREATE TRIGGER test_refuse BEFORE INSERT ON documents FOR EACH ROW WHEN (NEW.name = 'refuse-me') EXECUTE FUNCTION test_refuse();
		CREATE TRIGGER test_refuse BEFORE UPDATE ON prescriptions FOR EACH ROW WHEN (NEW.status = 'RESULTS_AVAILABLE') EXECUTE FUNCTION test_refuse();
		CREATE FUNCTION test_vanish() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
		CREATE TRIGGER test_vanish BEFORE UPDATE ON appointments FOR EACH ROW WHEN (NEW.status = 'CHECKED_IN') EXECUTE FUNCTION test_vanish();`); err != nil {
		t.Fatal(err)
	}
	sec := mustLogin(t, db, workflow.RoleSecretary, dev.ID)
	bio := mustLogin(t, db, workflow.RoleBiologist, dev.ID)
	now := time.Now().UTC().Truncate(time.Millisecond)
	doc := func(id, name string) json.RawMessage {
		return json.RawMessage(`{"id":"` + id + `","patientId":"` + SeedID("patient:1") + `","name":"` + name + `","type":"pdf","url":"file:///x.pdf"}`)
	}
	docA, docRefused, docB, result := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	appt, rx := SeedID("a:scheduled"), SeedID("rx:inprogress")
	acts := []struct {
		name, act, token string
		args             json.RawMessage
		status           syncproto.Status
		code             workflow.Code
		message          string
	}{
		{"act before stands", "document.attach", sec, doc(docA, "before"), syncproto.StatusApplied, "", ""},
		{"insert refused by the database", "document.attach", sec, doc(docRefused, "refuse-me"), syncproto.StatusRejected,
			workflow.CodeValidationFailed, "The database refused a value: refused by the test."},
		{"update finds its row gone", "appointment.checkIn", sec, json.RawMessage(`{"id":"` + appt + `"}`), syncproto.StatusRejected,
			workflow.CodeNotFound, "The appointment " + appt + " no longer exists."},
		{"second write refused undoes the first", "result.create", bio,
			json.RawMessage(`{"id":"` + result + `","prescriptionId":"` + rx + `","text":"ALAT 32 UI/L"}`), syncproto.StatusRejected,
			workflow.CodeValidationFailed, "The database refused a value: refused by the test."},
		{"act after stands", "document.attach", sec, doc(docB, "after"), syncproto.StatusApplied, "", ""},
	}
	var muts []syncproto.Mutation
	for i, a := range acts {
		muts = append(muts, syncproto.Mutation{Seq: int64(i + 1), ID: uuid.NewString(), Name: a.act, Args: a.args, OccurredAt: now, SessionID: a.token})
	}
	res, err := db.Push(ctx, dev.ID, chained(t, db, dev.ID, muts))
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if len(res) != len(acts) {
		t.Fatalf("%d results for %d acts", len(res), len(acts))
	}
	for i, a := range acts {
		t.Run(a.name, func(t *testing.T) {
			r := res[i]
			if r.Seq != int64(i+1) || r.Status != a.status || r.Code != a.code || r.Message != a.message {
				t.Fatalf("result %+v, want %s %s %q", r, a.status, a.code, a.message)
			}
			var outcome string
			var hashed bool
			if err := pool.QueryRow(ctx, `SELECT outcome, hash IS NOT NULL AND prev_hash IS NOT NULL AND chain_args IS NOT NULL FROM sync.mutations WHERE device_id = $1 AND seq = $2`,
				dev.ID, i+1).Scan(&outcome, &hashed); err != nil {
				t.Fatal(err)
			}
			if outcome != string(a.status) || !hashed {
				t.Fatalf("audit: outcome %s, chain recorded %v", outcome, hashed)
			}
		})
	}
	for _, c := range []struct {
		name  string
		query string
		arg   string
		want  int64
	}{
		{"document before written", `SELECT count(*) FROM documents WHERE id = $1`, docA, 1},
		{"document after written", `SELECT count(*) FROM documents WHERE id = $1`, docB, 1},
		{"refused document not written", `SELECT count(*) FROM documents WHERE id = $1`, docRefused, 0},
		{"appointment still scheduled", `SELECT count(*) FROM appointments WHERE id = $1 AND status = 'SCHEDULED'`, appt, 1},
		{"result of the refused act not written", `SELECT count(*) FROM results WHERE id = $1`, result, 0},
		{"prescription still in progress", `SELECT count(*) FROM prescriptions WHERE id = $1 AND status = 'IN_PROGRESS'`, rx, 1},
		{"seq advanced over all", `SELECT last_mutation_seq FROM sync.clients WHERE device_id = $1`, dev.ID, int64(len(acts))},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := scalar[int64](t, pool, c.query, c.arg); got != c.want {
				t.Fatalf("%d, want %d", got, c.want)
			}
		})
	}
}

// TestRefusedLoneActRecorded: a push of one act writes it without a
// savepoint (WriteEffect, effect.go), so a write the database refuses loses
// the push's transaction; the push runs again with the savepoint and
// records the refusal exactly as in a longer push: the same code and
// sentence, the audit row with its chain link, the seq advanced, nothing of
// the act written. The refusing trigger counts its calls in a sequence (not
// rolled back): two, the lost attempt and the recorded one.
func TestRefusedLoneActRecorded(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	dev, err := db.AddDevice(ctx, "", "Refused lone act", workflow.Roles)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		CREATE SEQUENCE test_refusals;
		CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			PERFORM nextval('test_refusals');
			RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'refused by the test';
		END $$;
		CREATE TRIGGER test_refuse BEFORE INSERT ON documents FOR EACH ROW WHEN (NEW.name = 'refuse-me') EXECUTE FUNCTION test_refuse();`); err != nil {
		t.Fatal(err)
	}
	sec := mustLogin(t, db, workflow.RoleSecretary, dev.ID)
	now := time.Now().UTC().Truncate(time.Millisecond)
	doc := func(id, name string) json.RawMessage {
		return json.RawMessage(`{"id":"` + id + `","patientId":"` + SeedID("patient:1") + `","name":"` + name + `","type":"pdf","url":"file:///x.pdf"}`)
	}
	refused, after := uuid.NewString(), uuid.NewString()
	push := func(seq int64, args json.RawMessage) syncproto.MutationResult {
		t.Helper()
		m := syncproto.Mutation{Seq: seq, ID: uuid.NewString(), Name: "document.attach", Args: args, OccurredAt: now, SessionID: sec}
		res, err := db.Push(ctx, dev.ID, chained(t, db, dev.ID, []syncproto.Mutation{m}))
		if err != nil {
			t.Fatalf("push %d: %v", seq, err)
		}
		if len(res) != 1 {
			t.Fatalf("push %d: %d results", seq, len(res))
		}
		return res[0]
	}
	r := push(1, doc(refused, "refuse-me"))
	if r.Seq != 1 || r.Status != syncproto.StatusRejected || r.Code != workflow.CodeValidationFailed ||
		r.Message != "The database refused a value: refused by the test." {
		t.Fatalf("refused act: %+v", r)
	}
	if r := push(2, doc(after, "after")); r.Status != syncproto.StatusApplied {
		t.Fatalf("next act: %+v", r)
	}
	for _, c := range []struct {
		name  string
		query string
		want  int64
	}{
		{"refused write tried twice", `SELECT last_value FROM test_refusals`, 2},
		{"refusal audited once, with its link", `SELECT count(*) FROM sync.mutations WHERE device_id = '` + dev.ID +
			`' AND seq = 1 AND outcome = 'rejected' AND code = 'VALIDATION_FAILED' AND hash IS NOT NULL AND chain_args IS NOT NULL`, 1},
		{"refused document not written", `SELECT count(*) FROM documents WHERE id = '` + refused + `'`, 0},
		{"next document written", `SELECT count(*) FROM documents WHERE id = '` + after + `'`, 1},
		{"seq advanced over both", `SELECT last_mutation_seq FROM sync.clients WHERE device_id = '` + dev.ID + `'`, 2},
		{"counted once", `SELECT COALESCE(sum(n), 0) FROM sync.mutation_counts WHERE device_id = '` + dev.ID + `' AND outcome = 'rejected'`, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := scalar[int64](t, pool, c.query); got != c.want {
				t.Fatalf("%d, want %d", got, c.want)
			}
		})
	}
}

// TestAuthorsJudgedPerAct: a push resolves each author token once, but
// judges every act on its own: a forged token between two good ones is
// refused alone, and a logout between two pushes is seen by the second:
// its acts are refused, even those that claim to predate the logout.
func TestAuthorsJudgedPerAct(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	tok := mustLogin(t, db, workflow.RoleSecretary, DemoDeviceID)
	now := time.Now().UTC().Truncate(time.Millisecond)
	attach := func(seq int64, token string, at time.Time) syncproto.Mutation {
		return syncproto.Mutation{Seq: seq, ID: uuid.NewString(), Name: "document.attach", OccurredAt: at, SessionID: token,
			Args: json.RawMessage(`{"id":"` + uuid.NewString() + `","patientId":"` + SeedID("patient:2") + `","name":"n","type":"pdf","url":"file:///n.pdf"}`)}
	}
	forged := "forged-token"
	res, err := db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, []syncproto.Mutation{
		attach(1, tok, now), attach(2, forged, now), attach(3, tok, now), attach(4, forged, now)}))
	if err != nil {
		t.Fatal(err)
	}
	unknown := "The act's session is not a session of this server; the author must log in again."
	for i, want := range []struct {
		name    string
		status  syncproto.Status
		code    workflow.Code
		message string
	}{
		{"good token", syncproto.StatusApplied, "", ""},
		{"forged token", syncproto.StatusRejected, workflow.CodeUnauthenticated, unknown},
		{"good token again", syncproto.StatusApplied, "", ""},
		{"forged token again", syncproto.StatusRejected, workflow.CodeUnauthenticated, unknown},
	} {
		t.Run(want.name, func(t *testing.T) {
			if r := res[i]; r.Status != want.status || r.Code != want.code || r.Message != want.message {
				t.Fatalf("%+v, want %s %s %q", r, want.status, want.code, want.message)
			}
		})
	}
	t.Run("session ended between pushes", func(t *testing.T) {
		if err := db.Logout(ctx, tok); err != nil {
			t.Fatal(err)
		}
		ended := scalar[time.Time](t, pool, `SELECT revoked_at FROM sync.sessions WHERE token_hash = $1`, hashToken(tok))
		// After the logout, and backdated to before it: both refused
		// (docs/protocol.md, "Access that ends").
		res, err := db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, []syncproto.Mutation{
			attach(5, tok, ended.Add(time.Second)), attach(6, tok, ended.Add(-time.Minute))}))
		if err != nil {
			t.Fatal(err)
		}
		want := "Secrétaire Test logged out at " + ended.UTC().Format("2006-01-02 15:04:05") +
			" UTC, before this act reached the server; an act that arrives after its author's logout is refused, whatever time it gives."
		for _, r := range res {
			if r.Status != syncproto.StatusRejected || r.Code != workflow.CodeUnauthenticated || r.Message != want {
				t.Fatalf("%+v, want UNAUTHENTICATED %q", r, want)
			}
		}
	})
}
