package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// Two desks register the same two people in opposite orders, at the same
// moment, each in one push. Each registration is slowed down in this test
// database (a BEFORE trigger sleeps), so that each push has written its
// first patient before the other writes its second: with locks taken act
// by act, each would then wait for the other (a deadlock, retried). With
// the push's keys claimed up front in one sorted statement, the second push
// waits for the first at its start, and nothing is retried.
func TestOppositeOrderPushesDoNotDeadlock(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `
		CREATE FUNCTION public.test_slow_register() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(0.4); RETURN NEW; END $$;
		CREATE TRIGGER test_slow_register BEFORE INSERT ON public.patients FOR EACH ROW EXECUTE FUNCTION public.test_slow_register()`); err != nil {
		t.Fatal(err)
	}
	devB, err := db.AddDevice(ctx, "", "Reception B", []workflow.Role{workflow.RoleSecretary})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	people := [][2]string{{"Ama", "Owusu"}, {"Kwame", "Boateng"}}
	register := func(dev string, order []int) ([]string, []syncproto.MutationResult, error) {
		tok := mustLogin(t, db, workflow.RoleSecretary, dev)
		var muts []syncproto.Mutation
		var ids []string
		for i, p := range order {
			id := uuid.NewString()
			ids = append(ids, id)
			muts = append(muts, syncproto.Mutation{Seq: int64(i + 1), ID: uuid.NewString(), Name: "patient.register", OccurredAt: now, SessionID: tok,
				Args: json.RawMessage(fmt.Sprintf(`{"id":%q,"firstName":%q,"lastName":%q,"birthDate":"1975-0%d-01T00:00:00Z"}`, id, people[p][0], people[p][1], p+1))})
		}
		muts = chained(t, db, dev, muts)
		res, err := db.Push(ctx, dev, muts)
		return ids, res, err
	}
	var wg sync.WaitGroup
	ids := make([][]string, 2)
	errs := make([]error, 2)
	for i, d := range []struct {
		dev   string
		order []int
	}{{DemoDeviceID, []int{0, 1}}, {devB.ID, []int{1, 0}}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res []syncproto.MutationResult
			ids[i], res, errs[i] = register(d.dev, d.order)
			for _, r := range res {
				if errs[i] == nil && r.Status != syncproto.StatusApplied {
					errs[i] = fmt.Errorf("seq %d: %s %s", r.Seq, r.Code, r.Message)
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if n := db.Retries()["40P01"]; n != 0 {
		t.Fatalf("%d deadlocks retried; the pushes took their locks in opposite orders", n)
	}
	// Desk A registered people 0, 1; desk B 1, 0: the pairs are (A0, B1)
	// and (A1, B0).
	for _, pair := range [][2]string{{ids[0][0], ids[1][1]}, {ids[0][1], ids[1][0]}} {
		if got := pairReason(t, pool, pair[0], pair[1]); got != "name_birth_date" {
			t.Fatalf("pair %v: reason %q, want name_birth_date", pair, got)
		}
	}
}

// A transaction that deadlocks on every attempt: each retry is counted by
// its SQLSTATE, and when the attempts run out the error keeps the cause
// (the INTERNAL the device hears is logged with it, server/http/ws.go).
func TestRetriesCountedAndExhaustionKeepsItsCause(t *testing.T) {
	t.Parallel()
	db, _ := openSeeded(t)
	calls := 0
	err := db.inTx(context.Background(), pgx.TxOptions{}, func(pgx.Tx) error {
		calls++
		return &pgconn.PgError{Severity: "ERROR", Code: "40P01", Message: "deadlock detected"}
	})
	var exhausted *RetriesExhaustedError
	if !errors.As(err, &exhausted) || exhausted.SQLState != "40P01" || exhausted.Attempts != 8 || calls != 8 {
		t.Fatalf("after %d calls: %v", calls, err)
	}
	want := `transaction failed 8 times in a row (last SQLSTATE "40P01"): ERROR: deadlock detected (SQLSTATE 40P01)`
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err.Error(), want)
	}
	if n := db.Retries()["40P01"]; n != 7 {
		t.Fatalf("%d retries counted, want 7 (the 8th failure is not retried)", n)
	}
	// A permanent error is not retried.
	calls = 0
	err = db.inTx(context.Background(), pgx.TxOptions{}, func(pgx.Tx) error {
		calls++
		return &pgconn.PgError{Code: "23505"}
	})
	if calls != 1 || errors.As(err, &exhausted) {
		t.Fatalf("a unique violation was tried %d times: %v", calls, err)
	}
}
