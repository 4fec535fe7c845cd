package http_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

func registerArgs(id, last string) map[string]any {
	return map[string]any{"id": id, "firstName": "Once", "lastName": last, "birthDate": "1985-06-01T00:00:00Z"}
}

// checkOnce requires the audit log to hold each seq once with the outcome
// given, and each patient once.
func checkOnce(t testing.TB, env *wardtest.Server, device string, outcomes map[int64]string, patients ...string) {
	t.Helper()
	for seq, want := range outcomes {
		if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND seq = $2`, device, seq); n != 1 {
			t.Fatalf("seq %d recorded %d times", seq, n)
		}
		if got, _, _, _ := auditOf(t, env, device, seq); got != want {
			t.Fatalf("seq %d audited %s, want %s", seq, got, want)
		}
	}
	for _, p := range patients {
		if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM patients WHERE id = $1`, p); n != 1 {
			t.Fatalf("patient %s stored %d times", p, n)
		}
		if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.changes WHERE row_id = $1`, p); n != 1 {
			t.Fatalf("patient %s changed %d times in the feed", p, n)
		}
	}
}

// TestExactlyOnce: a push sent twice, a push re-sent after the connection
// dropped before its reply, and a push re-sent to another instance are each
// applied once; the duplicate repeats the first outcome.
func TestExactlyOnce(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	sec := env.Login(t, workflow.RoleSecretary, demo)
	now := ms(time.Now())

	t.Run("same push twice", func(t *testing.T) {
		c := env.Connect(t, sec, demo)
		p := uuid.NewString()
		m1 := c.Mut("patient.register", registerArgs(p, "Twice"), sec, now)
		m2 := c.Mut("appointment.checkIn", map[string]any{"id": uuid.NewString()}, sec, now)
		first := c.Push(t, m1, m2)
		if first[0].Status != syncproto.StatusApplied || first[1].Status != syncproto.StatusRejected || first[1].Code != workflow.CodeNotFound {
			t.Fatalf("first push: %+v", first)
		}
		again := c.Push(t, m1, m2)
		if again[0] != (syncproto.MutationResult{Seq: m1.Seq, Status: syncproto.StatusDuplicate}) {
			t.Fatalf("duplicate of an applied act: %+v", again[0])
		}
		want := first[1]
		want.Status = syncproto.StatusDuplicate
		if again[1] != want {
			t.Fatalf("duplicate of a rejection must repeat it:\n got %+v\nwant %+v", again[1], want)
		}
		// A push overlapping what the server has: old seqs duplicate, the new one applies.
		p3 := uuid.NewString()
		m3 := c.Mut("patient.register", registerArgs(p3, "Third"), sec, now)
		mixed := c.Push(t, m2, m3)
		if mixed[0].Status != syncproto.StatusDuplicate || mixed[1].Status != syncproto.StatusApplied {
			t.Fatalf("overlapping push: %+v", mixed)
		}
		checkOnce(t, env, demo, map[int64]string{m1.Seq: "applied", m2.Seq: "rejected", m3.Seq: "applied"}, p, p3)
	})

	t.Run("connection dropped before the reply", func(t *testing.T) {
		c := env.Connect(t, sec, demo)
		p := uuid.NewString()
		m := c.Mut("patient.register", registerArgs(p, "Dropped"), sec, now)
		c.SendFrame(t, &syncproto.Push{RequestID: "lost", Mutations: []syncproto.Mutation{m}})
		// Gone without a close handshake, before any reply could be read.
		c.WS.UnderlyingConn().Close()
		wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
			if wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND seq = $2`, demo, m.Seq) == 0 {
				return "the push was not recorded"
			}
			return ""
		})
		c2 := env.Dial(t, sec, demo)
		if w := c2.Hello(t, ""); w.LastMutationSeq != m.Seq {
			t.Fatalf("welcome lastMutationSeq %d, want %d", w.LastMutationSeq, m.Seq)
		}
		if res := c2.Push(t, m)[0]; res.Status != syncproto.StatusDuplicate {
			t.Fatalf("resend: %+v", res)
		}
		checkOnce(t, env, demo, map[int64]string{m.Seq: "applied"}, p)
	})

	t.Run("resent to another instance", func(t *testing.T) {
		b := env.Again(t, wardtest.Options{})
		ca := env.Connect(t, sec, demo)
		p := uuid.NewString()
		m := ca.Mut("patient.register", registerArgs(p, "Elsewhere"), sec, now)
		if res := ca.Push(t, m)[0]; res.Status != syncproto.StatusApplied {
			t.Fatalf("push to A: %+v", res)
		}
		cb := b.Connect(t, sec, demo)
		if res := cb.Push(t, m)[0]; res.Status != syncproto.StatusDuplicate {
			t.Fatalf("resend to B: %+v", res)
		}
		checkOnce(t, env, demo, map[int64]string{m.Seq: "applied"}, p)
	})

	t.Run("concurrent resends to two instances", func(t *testing.T) {
		b := env.Again(t, wardtest.Options{})
		ca := env.Connect(t, sec, demo)
		cb := b.Connect(t, sec, demo)
		for round := 0; round < 5; round++ {
			var muts []syncproto.Mutation
			var ps []string
			for i := 0; i < 3; i++ {
				p := uuid.NewString()
				ps = append(ps, p)
				muts = append(muts, ca.Mut("patient.register", registerArgs(p, fmt.Sprint("Race", round, i)), sec, now))
			}
			var wg sync.WaitGroup
			var ra, rb []syncproto.MutationResult
			wg.Add(2)
			go func() { defer wg.Done(); ra = ca.Push(t, muts...) }()
			go func() { defer wg.Done(); rb = cb.Push(t, muts...) }()
			wg.Wait()
			outcomes := map[int64]string{}
			for i := range muts {
				applied := 0
				for _, r := range []syncproto.MutationResult{ra[i], rb[i]} {
					switch r.Status {
					case syncproto.StatusApplied:
						applied++
					case syncproto.StatusDuplicate:
					default:
						t.Fatalf("round %d: %+v", round, r)
					}
				}
				if applied != 1 {
					t.Fatalf("round %d seq %d applied %d times: %+v / %+v", round, muts[i].Seq, applied, ra[i], rb[i])
				}
				outcomes[muts[i].Seq] = "applied"
			}
			checkOnce(t, env, demo, outcomes, ps...)
		}
	})

	// Nothing was ever applied twice.
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM (SELECT mutation_id FROM sync.mutations GROUP BY mutation_id HAVING count(*) > 1) d`); n != 0 {
		t.Fatalf("%d mutations recorded twice", n)
	}
	_ = context.Background()
}

// TestConcurrentVitals: two nurse workstations record vitals on the same
// appointment at once; exactly one is applied, the other is told who won.
func TestConcurrentVitals(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	d1 := env.AddDevice(t, "Ward A", workflow.RoleNurse, workflow.RoleSecretary)
	d2 := env.AddDevice(t, "Ward B", workflow.RoleNurse)
	n1 := env.Login(t, workflow.RoleNurse, d1)
	s1 := env.Login(t, workflow.RoleSecretary, d1)
	n2 := env.Login(t, workflow.RoleNurse, d2)
	c1 := env.Connect(t, n1, d1)
	c2 := env.Connect(t, n2, d2)
	for round := 0; round < 8; round++ {
		appt := uuid.NewString()
		now := ms(time.Now())
		c1.Act(t, "appointment.schedule", map[string]any{"id": appt, "patientId": seedID("patient:2"), "doctorId": doctorID,
			"date": now.Format(time.RFC3339), "motif": "Race"}, s1, now)
		c1.Act(t, "appointment.checkIn", map[string]any{"id": appt}, s1, now)
		args := map[string]any{"id": appt, "vitals": vitalsArg}
		m1, m2 := c1.Mut("appointment.recordVitals", args, n1, now), c2.Mut("appointment.recordVitals", args, n2, now)
		var r1, r2 syncproto.MutationResult
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); r1 = c1.Push(t, m1)[0] }()
		go func() { defer wg.Done(); r2 = c2.Push(t, m2)[0] }()
		wg.Wait()
		if (r1.Status == syncproto.StatusApplied) == (r2.Status == syncproto.StatusApplied) {
			t.Fatalf("round %d: want exactly one applied: %+v / %+v", round, r1, r2)
		}
		loser := r1
		if r1.Status == syncproto.StatusApplied {
			loser = r2
		}
		wardtest.CheckRejected(t, loser, workflow.CodeInvalidTransition,
			fmt.Sprintf("Appointment %s is IN_CONSULTATION (vitals entered by Infirmier Test %s), not CHECKED_IN.", appt, clockAt(now, now)), "")
		if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE name = 'appointment.recordVitals' AND target_id = $1 AND outcome = 'applied'`, appt); n != 1 {
			t.Fatalf("round %d: %d applied in the audit log", round, n)
		}
		if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.changes WHERE row_id = $1`, appt); n != 3 {
			t.Fatalf("round %d: appointment changed %d times, want 3 (schedule, check-in, vitals)", round, n)
		}
	}
}
