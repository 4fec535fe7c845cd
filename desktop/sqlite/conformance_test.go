package sqlite

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/pipeline/pipelinetest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestConformance runs the pipeline's conformance suite on the
// workstation: each act is queued on a replica file holding the suite's
// users, as the user logged in here.
func TestConformance(t *testing.T) {
	pipelinetest.Run(t, sqliteHarness{})
}

type sqliteHarness struct{}

type sqliteEnv struct{ db *DB }

func (sqliteHarness) Open(t *testing.T) pipelinetest.Env {
	db := openTest(t)
	page := &syncproto.Changes{Cursor: "users"}
	for _, u := range pipelinetest.Users {
		page.Changes = append(page.Changes, syncproto.Change{Table: workflow.TableUsers, Op: syncproto.OpUpsert, ID: u.ID,
			Row: userRow(u.ID, u.Name, u.Role)})
	}
	if err := db.ApplyChanges(context.Background(), page, pipelinetest.T0); err != nil {
		t.Fatal(err)
	}
	return &sqliteEnv{db: db}
}

func (e *sqliteEnv) Do(t *testing.T, u workflow.User, name string, args json.RawMessage, at time.Time) pipelinetest.Result {
	t.Helper()
	q, err := e.db.Queue(context.Background(), NewAct{ID: uuid.NewString(), Name: name, Args: args, OccurredAt: at,
		Author: Author{ID: u.ID, Name: u.Name, Role: u.Role, SessionID: "session-" + u.ID}})
	if rej, ok := workflow.AsRejection(err); ok {
		return pipelinetest.Result{Status: "rejected", Code: rej.Code, Message: rej.Message, Field: rej.Field}
	}
	if err != nil {
		t.Fatalf("queue %s: %v", name, err)
	}
	if q.WaitingFor != "" {
		return pipelinetest.Result{Status: "waiting", WaitingFor: q.WaitingFor}
	}
	return pipelinetest.Result{Status: "applied"}
}
