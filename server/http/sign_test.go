package http_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// pushAsIs sends muts exactly as given (no chaining, no signing) and
// returns their results.
func pushAsIs(t testing.TB, c *wardtest.Client, muts ...syncproto.Mutation) []syncproto.MutationResult {
	t.Helper()
	id := c.NextID("push")
	b, err := syncproto.Encode(&syncproto.Push{RequestID: id, Mutations: muts})
	if err != nil {
		t.Fatal(err)
	}
	c.SendRaw(t, b)
	r := c.WaitFor(t, id)
	pr, ok := r.F.(*syncproto.PushResult)
	if !ok || len(pr.Results) != len(muts) {
		t.Fatalf("push answered with %s", r.Raw)
	}
	return pr.Results
}

// TestActSignatures: an act is applied only when signed, over its own
// content, by the key of the session it names. Each refusal is
// UNAUTHENTICATED with its sentence and recorded in the audit log.
func TestActSignatures(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	sec := env.Login(t, workflow.RoleSecretary, demo)
	other := env.Login(t, workflow.RoleSecretary, demo)
	mine, _ := wardtest.SessionKeyOf(sec)
	theirs, _ := wardtest.SessionKeyOf(other)
	c := env.Connect(t, sec, demo) // it says hello

	// next is the device's next act, chained and signed with k as an
	// honest workstation would (sid: the session it names).
	next := func(last string, sid string, k syncproto.SessionKey) syncproto.Mutation {
		one := []syncproto.Mutation{c.Mut("patient.register", registerArgs(uuid.NewString(), last), sec, ms(time.Now()))}
		one[0].AuthorID = wardtest.AuthorOf(sec)
		if err := c.Chain.Link(one); err != nil {
			t.Fatal(err)
		}
		syncproto.SignAct(k.Priv, k.SessionID, &one[0])
		one[0].SessionID = sid
		return one[0]
	}
	refused := func(name string, m syncproto.Mutation, want string) {
		t.Helper()
		res := pushAsIs(t, c, m)[0]
		wardtest.CheckRejected(t, res, workflow.CodeUnauthenticated, want, "")
		checkAudited(t, env, demo, res)
		var n int
		if err := env.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM patients WHERE "lastName" = $1`, name).Scan(&n); err != nil || n != 0 {
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
	forged.Args = wardtest.MustJSON(registerArgs(uuid.NewString(), "Forged"))
	h, err := syncproto.ChainHash(forged.PrevHash, forged.Content(demo))
	if err != nil {
		t.Fatal(err)
	}
	forged.Hash = h
	c.Chain.Follow(forged.Seq, forged.Hash)
	refused("Forged", forged, syncproto.MsgActBadSig)

	// The same act, signed by its own session: applied.
	if res := pushAsIs(t, c, next("Honest", mine.SessionID, mine))[0]; res.Status != syncproto.StatusApplied {
		t.Fatalf("a signed act: %+v", res)
	}

	// Pushes sent back to back, as a draining workstation sends them: the
	// one behind has its signatures checked while the first is applied
	// (postgres.SigAhead), and a forged act is refused there too.
	honest := next("Pipelined", mine.SessionID, mine)
	forged = next("PipelinedOriginal", mine.SessionID, mine)
	forged.Args = wardtest.MustJSON(registerArgs(uuid.NewString(), "PipelinedForged"))
	if forged.Hash, err = syncproto.ChainHash(forged.PrevHash, forged.Content(demo)); err != nil {
		t.Fatal(err)
	}
	c.Chain.Follow(forged.Seq, forged.Hash)
	var ids []string
	for _, m := range []syncproto.Mutation{honest, forged} {
		id := c.NextID("push")
		b, err := syncproto.Encode(&syncproto.Push{RequestID: id, Mutations: []syncproto.Mutation{m}})
		if err != nil {
			t.Fatal(err)
		}
		c.SendRaw(t, b)
		ids = append(ids, id)
	}
	var results []syncproto.MutationResult
	for _, id := range ids {
		r := c.WaitFor(t, id)
		pr, ok := r.F.(*syncproto.PushResult)
		if !ok || len(pr.Results) != 1 {
			t.Fatalf("push answered with %s", r.Raw)
		}
		results = append(results, pr.Results[0])
	}
	if results[0].Status != syncproto.StatusApplied {
		t.Fatalf("the first of two pipelined pushes: %+v", results[0])
	}
	wardtest.CheckRejected(t, results[1], workflow.CodeUnauthenticated, syncproto.MsgActBadSig, "")
	checkAudited(t, env, demo, results[1])
}
