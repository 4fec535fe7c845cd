package http_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// pushAsIs sends muts exactly as given (no chaining, no signing) and
// returns their results.
func (c *wsClient) pushAsIs(t testing.TB, muts ...syncproto.Mutation) []syncproto.MutationResult {
	t.Helper()
	id := c.nextID("push")
	b, err := syncproto.Encode(&syncproto.Push{RequestID: id, Mutations: muts})
	if err != nil {
		t.Fatal(err)
	}
	c.sendRaw(t, b)
	r := c.waitFor(t, id)
	pr, ok := r.f.(*syncproto.PushResult)
	if !ok || len(pr.Results) != len(muts) {
		t.Fatalf("push answered with %s", r.raw)
	}
	return pr.Results
}

// TestActSignatures: an act is applied only when signed, over its own
// content, by the key of the session it names. Each refusal is
// UNAUTHENTICATED with its sentence and recorded in the audit log.
func TestActSignatures(t *testing.T) {
	t.Parallel()
	env := newTestServer(t)
	sec := loginOn(t, env.Srv, workflow.RoleSecretary, demo)
	other := loginOn(t, env.Srv, workflow.RoleSecretary, demo)
	mine, _ := sessionKeys.Get(sec)
	theirs, _ := sessionKeys.Get(other)
	c := connect(t, env.Srv, sec, demo) // it says hello

	// next is the device's next act, chained and signed with k as an
	// honest workstation would (sid: the session it names).
	next := func(last string, sid string, k syncproto.SessionKey) syncproto.Mutation {
		one := []syncproto.Mutation{c.mut("patient.register", registerArgs(uuid.NewString(), last), sec, ms(time.Now()))}
		one[0].AuthorID = authorOf(sec)
		if err := c.chain.Link(one); err != nil {
			t.Fatal(err)
		}
		syncproto.SignAct(k.Priv, k.SessionID, &one[0])
		one[0].SessionID = sid
		return one[0]
	}
	refused := func(name string, m syncproto.Mutation, want string) {
		t.Helper()
		res := c.pushAsIs(t, m)[0]
		checkRejected(t, res, workflow.CodeUnauthenticated, want, "")
		checkAudited(t, env, demo, res)
		var n int
		if err := env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM patients WHERE "lastName" = $1`, name).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s: the refused act wrote its patient (%d, %v)", name, n, err)
		}
	}

	// No signature.
	m := next("Unsigned", mine.SessionID, mine)
	m.Signature = ""
	refused("Unsigned", m, syncproto.MsgActUnsigned)

	// A signature that is no signature of this act.
	m = next("Garbage", mine.SessionID, mine)
	m.Signature = strings.Repeat("A", syncproto.SignatureLen)
	refused("Garbage", m, syncproto.MsgActBadSig)

	// Signed by another session of the same user on the same workstation,
	// but naming this one.
	refused("Borrowed", next("Borrowed", mine.SessionID, theirs), syncproto.MsgActBadSig)

	// Changed args, re-hashed so the chain holds, with the signature
	// copied from the act as signed.
	m = next("Original", mine.SessionID, mine)
	forged := m
	forged.Args = mustJSON(registerArgs(uuid.NewString(), "Forged"))
	h, err := syncproto.ChainHash(forged.PrevHash, forged.Content(demo))
	if err != nil {
		t.Fatal(err)
	}
	forged.Hash = h
	c.chain.Follow(forged.Seq, forged.Hash)
	refused("Forged", forged, syncproto.MsgActBadSig)

	// The same act, signed by its own session: applied.
	if res := c.pushAsIs(t, next("Honest", mine.SessionID, mine))[0]; res.Status != syncproto.StatusApplied {
		t.Fatalf("a signed act: %+v", res)
	}
}
