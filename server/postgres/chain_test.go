package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// chainFixture is the demo workstation with a secretary logged in and n
// acts that would all apply: each attaches its own document, so that what
// was applied can be told apart.
type chainFixture struct {
	db   *DB
	tok  string
	uid  string
	acts []syncproto.Mutation
}

func newChainFixture(t *testing.T, n int) *chainFixture {
	t.Helper()
	db, _ := openSeeded(t)
	f := &chainFixture{db: db, tok: mustLogin(t, db, workflow.RoleSecretary, DemoDeviceID)}
	if err := db.Pool.QueryRow(context.Background(), `SELECT user_id FROM sync.sessions WHERE token_hash = $1`, hashToken(f.tok)).Scan(&f.uid); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := range n {
		f.acts = append(f.acts, syncproto.Mutation{Seq: int64(i + 1), ID: uuid.NewString(), Name: "document.attach",
			Args: json.RawMessage(`{"id":"` + uuid.NewString() + `","patientId":"` + SeedID("patient:1") +
				`","name":"scan ` + string(rune('A'+i)) + `","type":"pdf","url":"file:///scan.pdf"}`),
			OccurredAt: now, SessionID: f.tok, AuthorID: f.uid})
	}
	if _, err := syncproto.Chain(DemoDeviceID, "", f.acts); err != nil {
		t.Fatal(err)
	}
	signAll(f.acts)
	return f
}

// docExists says whether act m's document was written.
func (f *chainFixture) docExists(t *testing.T, m syncproto.Mutation) bool {
	t.Helper()
	var a struct{ ID string }
	if err := json.Unmarshal(m.Args, &a); err != nil {
		t.Fatal(err)
	}
	return scalar[bool](t, f.db.Pool, `SELECT EXISTS (SELECT 1 FROM documents WHERE id = $1)`, a.ID)
}

// rehash re-chains m after prev as an honest workstation would have.
func rehash(t *testing.T, prev string, m syncproto.Mutation) syncproto.Mutation {
	t.Helper()
	ms := []syncproto.Mutation{m}
	if _, err := syncproto.Chain(DemoDeviceID, prev, ms); err != nil {
		t.Fatal(err)
	}
	signAll(ms)
	return ms[0]
}

type wantResult struct {
	status  syncproto.Status
	code    workflow.Code
	message string
}

// TestPushChecksTheChain: a valid chain is applied and stored; a modified
// act, a missing or reordered one, or a wrong author is refused with its
// code and sentence, recorded, and writes no effect; the chain continues
// from the received hash.
func TestPushChecksTheChain(t *testing.T) {
	t.Parallel()
	applied := wantResult{status: syncproto.StatusApplied}
	cases := []struct {
		name string
		// build returns the acts to push from the fixture's honest chain.
		build func(t *testing.T, f *chainFixture) []syncproto.Mutation
		want  []wantResult
	}{
		{"valid chain", func(t *testing.T, f *chainFixture) []syncproto.Mutation { return f.acts },
			[]wantResult{applied, applied, applied}},
		{"content modified after hashing", func(t *testing.T, f *chainFixture) []syncproto.Mutation {
			acts := append([]syncproto.Mutation(nil), f.acts...)
			acts[1].Args = json.RawMessage(strings.Replace(string(acts[1].Args), "scan B", "scan X", 1))
			return acts
		}, []wantResult{applied,
			{syncproto.StatusRejected, workflow.CodeChainBroken, "Act 2's content does not match its hash (modified after it was written)."},
			applied}},
		{"author modified after hashing", func(t *testing.T, f *chainFixture) []syncproto.Mutation {
			acts := append([]syncproto.Mutation(nil), f.acts...)
			acts[0].AuthorID = "someone-else"
			return acts
		}, []wantResult{{syncproto.StatusRejected, workflow.CodeChainBroken, "Act 1's content does not match its hash (modified after it was written)."},
			applied, applied}},
		{"act removed, the rest renumbered and re-hashed", func(t *testing.T, f *chainFixture) []syncproto.Mutation {
			// Act 2 deleted; act 3 moved down to seq 2, hashed after act 2.
			c := f.acts[2]
			c.Seq = 2
			c = rehash(t, f.acts[1].Hash, c)
			return []syncproto.Mutation{f.acts[0], c}
		}, []wantResult{applied, {syncproto.StatusRejected, workflow.CodeChainBroken, "Act 2 does not follow act 1 (an act was removed or reordered)."}}},
		{"acts reordered", func(t *testing.T, f *chainFixture) []syncproto.Mutation {
			// C and B swap seqs, each re-hashed after the act it followed.
			b, c := f.acts[1], f.acts[2]
			c.Seq, b.Seq = 2, 3
			c = rehash(t, f.acts[1].Hash, c)
			b = rehash(t, f.acts[0].Hash, b)
			return []syncproto.Mutation{f.acts[0], c, b}
		}, []wantResult{applied,
			{syncproto.StatusRejected, workflow.CodeChainBroken, "Act 2 does not follow act 1 (an act was removed or reordered)."},
			{syncproto.StatusRejected, workflow.CodeChainBroken, "Act 3 does not follow act 2 (an act was removed or reordered)."}}},
		{"first act not linked to the genesis", func(t *testing.T, f *chainFixture) []syncproto.Mutation {
			return []syncproto.Mutation{rehash(t, strings.Repeat("ab", 32), f.acts[0])}
		}, []wantResult{{syncproto.StatusRejected, workflow.CodeChainBroken, "Act 1 does not start this workstation's chain (an act was removed or reordered)."}}},
		{"hashed author is not the token's user", func(t *testing.T, f *chainFixture) []syncproto.Mutation {
			a := f.acts[0]
			a.AuthorID = SeedID("user:nurse@hospital.com")
			return []syncproto.Mutation{rehash(t, "", a)}
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newChainFixture(t, 3)
			ctx := context.Background()
			acts := c.build(t, f)
			want := c.want
			if want == nil {
				var name string
				if err := f.db.Pool.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, f.uid).Scan(&name); err != nil {
					t.Fatal(err)
				}
				want = []wantResult{{syncproto.StatusRejected, workflow.CodeUnauthenticated,
					"The act names " + acts[0].AuthorID + " as its author, but it was signed in a session of " + name + "."}}
			}
			res, err := f.db.Push(ctx, DemoDeviceID, acts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(want) {
				t.Fatalf("%d results, want %d: %+v", len(res), len(want), res)
			}
			for i, w := range want {
				r := res[i]
				if r.Status != w.status || r.Code != w.code || r.Message != w.message {
					t.Errorf("act %d: %s %s %q, want %s %s %q", r.Seq, r.Status, r.Code, r.Message, w.status, w.code, w.message)
				}
				if got := f.docExists(t, acts[i]); got != (w.status == syncproto.StatusApplied) {
					t.Errorf("act %d (%s): document written = %v", r.Seq, r.Status, got)
				}
				// The audit log keeps the outcome and both hashes.
				var outcome, code, prev, hash, brk string
				if err := f.db.Pool.QueryRow(ctx, `SELECT outcome, COALESCE(code, ''), encode(prev_hash, 'hex'), encode(hash, 'hex'), COALESCE(chain_break, '')
					FROM sync.mutations WHERE device_id = $1 AND seq = $2`, DemoDeviceID, r.Seq).Scan(&outcome, &code, &prev, &hash, &brk); err != nil {
					t.Fatal(err)
				}
				if outcome != map[bool]string{true: "applied", false: "rejected"}[w.status == syncproto.StatusApplied] || code != string(w.code) ||
					prev != acts[i].PrevHash || hash != acts[i].Hash || (brk != "") != (w.code == workflow.CodeChainBroken) {
					t.Errorf("audit row of act %d: %s %s prev %s hash %s break %q", r.Seq, outcome, code, prev, hash, brk)
				}
			}
			// The head is the last received hash, whatever its outcome.
			w, err := f.db.Hello(ctx, DemoDeviceID, 0, nil)
			if err != nil || w.ChainHead != acts[len(acts)-1].Hash {
				t.Fatalf("welcome chainHead %q (%v), want %s", w.ChainHead, err, acts[len(acts)-1].Hash)
			}
		})
	}
}

// TestChainContinuesAcrossPushes: the next push links to the head the last
// one left, and a duplicate is not judged again.
func TestChainContinuesAcrossPushes(t *testing.T) {
	t.Parallel()
	f := newChainFixture(t, 3)
	ctx := context.Background()
	for i, batch := range [][]syncproto.Mutation{f.acts[:1], f.acts[:2], f.acts[2:]} {
		res, err := f.db.Push(ctx, DemoDeviceID, batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Code != "" {
				t.Fatalf("push %d: act %d %s %s", i, r.Seq, r.Code, r.Message)
			}
		}
	}
	if n := scalar[int64](t, f.db.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND outcome = 'applied'`, DemoDeviceID); n != 3 {
		t.Fatalf("%d applied", n)
	}
}

// TestVerifyChains: audit verify finds the first broken link of a chain
// that was intact when recorded and then changed in PostgreSQL.
func TestVerifyChains(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		tamper  string // SQL with $1 = device
		seq     int64
		problem string
	}{
		{"intact", ``, 0, ""},
		{"args updated", `UPDATE sync.mutations SET args = jsonb_set(args, '{name}', '"forged"') WHERE device_id = $1 AND seq = 2`,
			2, "act 2's args in the audit log are not the args it was hashed with (modified after it was recorded)"},
		{"hashed args and args updated together", `UPDATE sync.mutations SET args = jsonb_set(args, '{name}', '"forged"'),
			chain_args = (jsonb_set(args, '{name}', '"forged"'))::text WHERE device_id = $1 AND seq = 2`,
			2, "act 2's content does not match its hash (modified after it was written)"},
		{"occurredAt backdated", `UPDATE sync.mutations SET occurred_at = occurred_at - interval '1 hour' WHERE device_id = $1 AND seq = 3`,
			3, "act 3's content does not match its hash (modified after it was written)"},
		{"row deleted", `DELETE FROM sync.mutations WHERE device_id = $1 AND seq = 2`,
			3, "act 3 does not follow act 2 (an act was removed or reordered)"},
		{"last row deleted", `DELETE FROM sync.mutations WHERE device_id = $1 AND seq = 4`,
			4, "the acts after act 3 are missing from the audit log (removed after they were recorded)"},
		{"hash erased", `UPDATE sync.mutations SET hash = NULL WHERE device_id = $1 AND seq = 3`,
			3, "act 3 has no hash (its link was erased after it was recorded)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newChainFixture(t, 4)
			ctx := context.Background()
			if _, err := f.db.Push(ctx, DemoDeviceID, f.acts); err != nil {
				t.Fatal(err)
			}
			if c.tamper != "" {
				if _, err := f.db.Pool.Exec(ctx, c.tamper, DemoDeviceID); err != nil {
					t.Fatal(err)
				}
			}
			var calls []int64
			rep, err := f.db.VerifyChains(ctx, "", func(n int64) { calls = append(calls, n) })
			if err != nil {
				t.Fatal(err)
			}
			if rep.Devices != 1 || len(calls) == 0 || calls[len(calls)-1] != rep.Acts {
				t.Errorf("report %+v, progress %v", rep, calls)
			}
			if c.problem == "" {
				if len(rep.Breaks) != 0 {
					t.Fatalf("intact chain reported broken: %+v", rep.Breaks)
				}
				return
			}
			if len(rep.Breaks) != 1 {
				t.Fatalf("breaks %+v, want one at seq %d", rep.Breaks, c.seq)
			}
			b := rep.Breaks[0]
			if b.DeviceID != DemoDeviceID || b.Seq != c.seq || b.Problem != c.problem || b.AtPush || b.Expected == b.Found {
				t.Errorf("break %+v, want seq %d %q", b, c.seq, c.problem)
			}
		})
	}
}

// TestVerifyReportsBreaksFoundAtPush: a break refused at push stays a break
// in the log, flagged as found then; -device restricts the walk.
func TestVerifyReportsBreaksFoundAtPush(t *testing.T) {
	t.Parallel()
	f := newChainFixture(t, 2)
	ctx := context.Background()
	acts := append([]syncproto.Mutation(nil), f.acts...)
	acts[0].Args = json.RawMessage(strings.Replace(string(acts[0].Args), "scan A", "scan X", 1))
	if _, err := f.db.Push(ctx, DemoDeviceID, acts); err != nil {
		t.Fatal(err)
	}
	rep, err := f.db.VerifyChains(ctx, DemoDeviceID, nil)
	if err != nil || len(rep.Breaks) != 1 || rep.Breaks[0].Seq != 1 || !rep.Breaks[0].AtPush ||
		rep.Breaks[0].Problem != "act 1's content does not match its hash (modified after it was written)" {
		t.Fatalf("%+v %v", rep, err)
	}
	rep, err = f.db.VerifyChains(ctx, "no-such-device", nil)
	if err != nil || rep.Devices != 0 || len(rep.Breaks) != 0 {
		t.Fatalf("other device: %+v %v", rep, err)
	}
}
