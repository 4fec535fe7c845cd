package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"wardsync/pipeline"
	"wardsync/workflow"
)

// The savepoint around one act's writes. It always nests in the push's own
// transaction and is released or rolled back before the next act's.
const (
	savepointAct = `SAVEPOINT wardsync_act`
	releaseAct   = `RELEASE SAVEPOINT wardsync_act`
	rollbackAct  = `ROLLBACK TO SAVEPOINT wardsync_act`
)

// errBareRefused: the database refused the writes of an act sent without
// its savepoint (pushStore.bare), so the push's transaction is lost. Push
// runs it again with the savepoint, which then records the refusal.
var errBareRefused = errors.New("an act's write was refused outside a savepoint")

// WriteEffect writes an accepted act's effect in as few round trips as it
// can (a push pays each one per act):
//   - the act's savepoint was opened with the mutator's first read
//     (txReader.queryRow, rows.go), or goes now with the writes for a
//     mutator that read nothing: the rows the mutator locked are locked by
//     the subtransaction that writes them. Locked by the push's
//     transaction and written in a subtransaction, a row would need a
//     MultiXact, on every act of a push.
//   - a refusal by the workflow has written nothing: Record releases the
//     savepoint with the audit row, and the rows read stay locked until
//     the push commits.
//   - the writes can still be refused (a constraint another writer's race
//     tripped, a row gone): the savepoint is rolled back, which undoes
//     this act's writes and frees the locks of its reads, and the push
//     goes on.
//   - on success the savepoint is left open, so that the act's audit row
//     carries its RELEASE (record.go), or release sends it.
//   - the only act of a push (bare) goes without one, reads and writes. A
//     refused write then loses the transaction, and the push runs again
//     with the savepoint (errBareRefused): same outcome, nothing written
//     twice.
func (st *pushStore) WriteEffect(ctx context.Context, a *pipeline.Act, eff workflow.Effect) (*workflow.Rejection, error) {
	tx := st.tx
	b := &pgx.Batch{}
	merge := a.Name == "patient.merge"
	bare := st.bare && !merge
	st.bare = false // the acts Wake retries in the same transaction keep theirs
	switch {
	case bare, st.open:
	case merge:
		// Its record is written first, from the loser's row (merge.go).
		if _, err := tx.Exec(ctx, savepointAct); err != nil {
			return nil, err
		}
		st.open = true
	default:
		b.Queue(savepointAct)
	}
	if merge {
		m := workflow.Mutation{ID: a.ID, Name: a.Name, Args: a.Args, Actor: a.Actor, OccurredAt: a.OccurredAt}
		if err := recordMerge(ctx, tx, m, eff); err != nil {
			return nil, err
		}
	}
	first := b.Len()
	for _, op := range eff.Ops {
		q, args, err := opSQL(op)
		if err != nil {
			return nil, err
		}
		b.Queue(q, args...)
	}
	if st.last {
		// After the writes (their triggers wake the acts parked on the
		// rows they change): whether Wake will have anything to do, so
		// that the audit row may go with the push's tail (record.go).
		b.Queue(`SELECT NOT EXISTS (SELECT 1 FROM sync.deferred WHERE outcome IS NULL AND woken)`).
			QueryRow(func(r pgx.Row) error { return r.Scan(&st.asleep) })
	}
	rej, err := sendWrites(ctx, tx, b, first, eff.Ops)
	if err != nil {
		return nil, err
	}
	if rej != nil && bare {
		return nil, errBareRefused
	}
	if rej != nil {
		// The savepoint undoes this act's writes only.
		st.open = false
		if _, err := tx.Exec(ctx, rollbackAct+`; `+releaseAct); err != nil {
			return nil, err
		}
		return rej, nil
	}
	st.open = !bare
	if st.written == nil {
		st.written = map[rowKey]bool{}
	}
	for _, op := range eff.Ops {
		st.written[rowKey{op.Table, op.ID}] = true
	}
	return nil, nil
}

// rowKey names a row the push's transaction wrote (pushStore.written).
type rowKey struct{ table, id string }

// sendWrites sends a batch of (SAVEPOINT and) ops' writes, in order from
// the statement first, and turns the first refused write into its
// rejection. Statements queued after the writes answer through their
// callbacks.
func sendWrites(ctx context.Context, tx pgx.Tx, b *pgx.Batch, first int, ops []workflow.Op) (*workflow.Rejection, error) {
	br := tx.SendBatch(ctx, b)
	var rej *workflow.Rejection
	var failed error
	for i := 0; i < first+len(ops) && failed == nil && rej == nil; i++ {
		tag, err := br.Exec()
		if i < first {
			failed = err
			continue
		}
		op := ops[i-first]
		if err == nil {
			err = checkOpTag(op, tag)
		}
		if err == nil {
			continue
		}
		if r, ok := workflow.AsRejection(err); ok {
			rej = r
		} else if r := rejectionOf(err, op); r != nil {
			rej = r
		} else {
			failed = err
		}
	}
	// The statements after a failed one were skipped by PostgreSQL; Close
	// reads their answers.
	closeErr := br.Close()
	if failed != nil {
		return nil, failed
	}
	if rej == nil && closeErr != nil {
		return nil, closeErr
	}
	return rej, nil
}

// rejectionOf turns a constraint violation of op into the workflow's words,
// so a race lost to another writer reads like any other refusal: two
// workstations inserting the same id at once both pass the mutator's check,
// and the loser must hear what the mutator would have said.
func rejectionOf(err error, op workflow.Op) *workflow.Rejection {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "23505": // unique_violation
		if op.Kind == workflow.OpInsert && pe.ConstraintName == op.Table+"_pkey" {
			kind := strings.TrimSuffix(op.Table, "s")
			r := workflow.Reject(workflow.CodeDuplicateID, "%s %s with id %s already exists.", articleCap(kind), kind, op.ID)
			r.Field = "id"
			return r
		}
		return workflow.Reject(workflow.CodeDuplicateID, "A record with this id already exists (%s); the act was not applied.", pe.ConstraintName)
	case "23503": // foreign_key_violation
		return workflow.Reject(workflow.CodeNotFound, "The act refers to a record that no longer exists (%s).", pe.ConstraintName)
	case "22001", "22003", "22P02", "23502", "23514":
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Message: "The database refused a value: " + pe.Message + ".", Field: pe.ColumnName}
	}
	return nil
}

// articleCap is "A" or "An" for a row kind, as the workflow writes it.
func articleCap(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "An"
	}
	return "A"
}

// enumType names the PostgreSQL enum behind a column, so a string value is
// cast explicitly rather than left to inference.
var enumType = map[string]string{
	"users.role":                 `"Role"`,
	"appointments.status":        `"AppointmentStatus"`,
	"appointments.billingStatus": `"BillingStatus"`,
	"prescriptions.status":       `"PrescriptionStatus"`,
}

func sqlValue(table, col string, v any) (any, string) {
	cast := ""
	if t, ok := enumType[table+"."+col]; ok {
		cast = "::" + t
	}
	switch x := v.(type) {
	case workflow.Decimal:
		return string(x), "::numeric"
	case time.Time:
		// TIMESTAMP(3) holds UTC wall time.
		return x.UTC(), cast
	case json.RawMessage:
		if x == nil {
			return nil, "::jsonb"
		}
		return string(x), "::jsonb"
	}
	return v, cast
}

// checkOpTag refuses an update or delete that found no row: another writer
// removed it after the mutator read it.
func checkOpTag(op workflow.Op, tag pgconn.CommandTag) error {
	if op.Kind != workflow.OpInsert && tag.RowsAffected() != 1 {
		return workflow.Reject(workflow.CodeNotFound, "The %s %s no longer exists.", strings.TrimSuffix(op.Table, "s"), op.ID)
	}
	return nil
}

// opSQL is the statement and arguments that write op, for a batch.
func opSQL(op workflow.Op) (string, []any, error) {
	if _, ok := tableCols[op.Table]; !ok {
		return "", nil, fmt.Errorf("effect names unknown table %q", op.Table)
	}
	if op.Kind == workflow.OpDelete {
		return `DELETE FROM ` + pgx.Identifier{op.Table}.Sanitize() + ` WHERE id = $1`, []any{op.ID}, nil
	}
	cols := make([]string, 0, len(op.Values))
	for c := range op.Values {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	args := make([]any, 0, len(cols)+1)
	var q strings.Builder
	switch op.Kind {
	case workflow.OpInsert:
		q.WriteString(`INSERT INTO ` + pgx.Identifier{op.Table}.Sanitize() + ` (`)
		var vals strings.Builder
		for i, c := range cols {
			if i > 0 {
				q.WriteString(", ")
				vals.WriteString(", ")
			}
			v, cast := sqlValue(op.Table, c, op.Values[c])
			args = append(args, v)
			q.WriteString(pgx.Identifier{c}.Sanitize())
			fmt.Fprintf(&vals, "$%d%s", len(args), cast)
		}
		q.WriteString(`) VALUES (` + vals.String() + `)`)
	case workflow.OpUpdate:
		q.WriteString(`UPDATE ` + pgx.Identifier{op.Table}.Sanitize() + ` SET `)
		for i, c := range cols {
			if i > 0 {
				q.WriteString(", ")
			}
			v, cast := sqlValue(op.Table, c, op.Values[c])
			args = append(args, v)
			fmt.Fprintf(&q, "%s = $%d%s", pgx.Identifier{c}.Sanitize(), len(args), cast)
		}
		args = append(args, op.ID)
		fmt.Fprintf(&q, " WHERE id = $%d", len(args))
	default:
		return "", nil, fmt.Errorf("effect has unknown op kind %q", op.Kind)
	}
	return q.String(), args, nil
}

// release releases an applied act's savepoint when no audit row carries it
// (an act the server decides itself).
func (st *pushStore) release(ctx context.Context) error {
	if !st.open {
		return nil
	}
	st.open = false
	_, err := st.tx.Exec(ctx, releaseAct)
	return err
}
