package postgres

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/pgtest"
	"wardsync/pipeline/pipelinetest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestConformance runs the pipeline's conformance suite on the server:
// each act is pushed by one workstation serving every role, its author
// logged in there before the suite's first act.
func TestConformance(t *testing.T) {
	pipelinetest.Run(t, pgHarness{})
}

type pgHarness struct{}

type pgEnv struct {
	db     *DB
	device string
	tokens map[string]string // session ids, by user
	keys   map[string]ed25519.PrivateKey
	seq    int64
	head   string
}

func (pgHarness) Open(t *testing.T) pipelinetest.Env {
	ctx := context.Background()
	_, url := pgtest.MustOpenDB(t)
	db, err := Open(ctx, url, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	now := pipelinetest.T0.Add(-time.Hour)
	db.Now = func() time.Time { return now }
	dev, err := db.AddDevice(ctx, "", "Conformance", workflow.Roles)
	if err != nil {
		t.Fatal(err)
	}
	e := &pgEnv{db: db, device: dev.ID, tokens: map[string]string{}, keys: map[string]ed25519.PrivateKey{}, head: syncproto.Genesis(dev.ID)}
	for _, u := range pipelinetest.Users {
		const password = "conformance-password"
		id, err := db.AddUser(ctx, u.Name, u.Email, password, u.Role)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, `UPDATE users SET id = $2 WHERE id = $1`, id, u.ID); err != nil {
			t.Fatal(err)
		}
		pub, priv := syncproto.NewKey()
		_, s, err := db.Login(ctx, u.Email, password, dev.ID, pub, DeviceProof{})
		if err != nil {
			t.Fatalf("login %s: %v", u.Email, err)
		}
		e.tokens[u.ID] = s.ID
		e.keys[u.ID] = priv
	}
	// The acts reach the server an hour after the first occurred.
	now = pipelinetest.T0.Add(time.Hour)
	return e
}

func (e *pgEnv) Do(t *testing.T, u workflow.User, name string, args json.RawMessage, at time.Time) pipelinetest.Result {
	t.Helper()
	e.seq++
	muts := []syncproto.Mutation{{Seq: e.seq, ID: uuid.NewString(), Name: name, Args: args, OccurredAt: at,
		AuthorID: u.ID}}
	head, err := syncproto.Chain(e.device, e.head, muts)
	if err != nil {
		t.Fatal(err)
	}
	syncproto.SignAct(e.keys[u.ID], e.tokens[u.ID], &muts[0])
	e.head = head
	res, err := e.db.Push(context.Background(), e.device, muts)
	if err != nil {
		t.Fatalf("push %s: %v", name, err)
	}
	r := res[0]
	switch r.Status {
	case syncproto.StatusApplied:
		return pipelinetest.Result{Status: "applied"}
	case syncproto.StatusDeferred:
		return pipelinetest.Result{Status: "waiting", WaitingFor: r.WaitingFor}
	case syncproto.StatusRejected:
		return pipelinetest.Result{Status: "rejected", Code: r.Code, Message: r.Message, Field: r.Field}
	}
	t.Fatalf("push %s: status %q", name, r.Status)
	return pipelinetest.Result{}
}
