package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/pipeline"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Deferred acts (docs/deferred.md). An act the workflow refuses only
// because its row is still earlier on its path (workflow.Deferrable) is
// parked in sync.deferred instead of rejected. A trigger marks the parked
// acts of a row "woken" whenever anyone changes that row; the transaction
// that changed it retries them before it commits (a push, after each act it
// applies), and the sweeper retries those woken by other writers and
// expires those that waited longer than Config.DeferredWindow. Each parked
// act is decided once, in the transaction whose xid the feed uses to hand
// the outcome to its device.
//
// Lock order, everywhere: the row waited on (FOR UPDATE), then the parked
// act's sync.deferred row. A push holds the row when its trigger marks the
// act; the sweeper takes the row before the act, so the two never deadlock.

// waitTables are the tables an act can wait on, with their quoted names.
var waitTables = map[string]string{
	workflow.TableAppointments:  pgx.Identifier{workflow.TableAppointments}.Sanitize(),
	workflow.TablePrescriptions: pgx.Identifier{workflow.TablePrescriptions}.Sanitize(),
}

// lockWaitRow locks the row a deferrable act waits on for the rest of the
// transaction, so that no writer can change the row after the refusal and
// before the park commits (its trigger would not see the parked act). The
// mutator's own read locks it too nowadays (in the act's savepoint, which
// a parked act releases: its locks stay), but that is the mutator's
// choice of lock, not this file's.
func lockWaitRow(ctx context.Context, tx pgx.Tx, table, id string) error {
	q, ok := waitTables[table]
	if !ok {
		return fmt.Errorf("deferred: cannot wait on table %q", table)
	}
	_, err := tx.Exec(ctx, `SELECT 1 FROM `+q+` WHERE id = $1 FOR UPDATE`, id)
	return err
}

// LockWait locks the row a too-early act waits on: the act is run once
// more, and its answer then holds until commit.
func (st *pushStore) LockWait(ctx context.Context, w *workflow.Wait) (bool, error) {
	return true, lockWaitRow(ctx, st.tx, w.Table, w.ID)
}

// Park records a deferrable act in sync.deferred (its audit row, outcome
// deferred, is written first by Record).
func (st *pushStore) Park(ctx context.Context, a *pipeline.Act, w *workflow.Wait) error {
	db, seq, actor, at := st.db, a.Seq, a.Actor, st.receivedAt
	_, err := st.tx.Exec(ctx, `
		INSERT INTO sync.deferred (device_id, seq, wait_table, wait_id, wait_state, waiting_for,
		                           author_id, author_name, author_role, parked_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		st.deviceID, seq, w.Table, w.ID, waitState(w), pgText(w.Sentence), actor.ID, actor.Name, string(actor.Role),
		at, at.Add(db.deferredWindow()))
	if err != nil {
		return fmt.Errorf("park mutation %d: %w", seq, err)
	}
	return nil
}

func (db *DB) deferredWindow() time.Duration {
	if db.Config.DeferredWindow > 0 {
		return db.Config.DeferredWindow
	}
	return DefaultDeferredWindow
}

// DefaultDeferredWindow is how long a parked act waits for its predecessor.
const DefaultDeferredWindow = 12 * time.Hour

// parked is one undecided parked act, as a retry needs it.
type parked struct {
	deviceID   string
	seq        int64
	mutationID string
	name       string
	args       json.RawMessage
	occurredAt time.Time
	actor      workflow.Actor
	waitingFor string
	parkedAt   time.Time
	expiresAt  time.Time
}

// parkedOn returns the undecided acts waiting on one row, in arrival order,
// locked. The caller holds the row itself.
func parkedOn(ctx context.Context, tx pgx.Tx, table, id string) ([]parked, error) {
	rows, err := tx.Query(ctx, `
		SELECT d.device_id, d.seq, m.mutation_id, m.name, m.args, m.occurred_at, d.author_id, d.author_name, d.author_role,
		       d.waiting_for, d.parked_at, d.expires_at
		  FROM sync.deferred d JOIN sync.mutations m USING (device_id, seq)
		 WHERE d.wait_table = $1 AND d.wait_id = $2 AND d.outcome IS NULL
		 ORDER BY d.arrival FOR UPDATE OF d`, table, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []parked
	for rows.Next() {
		var p parked
		var role string
		if err := rows.Scan(&p.deviceID, &p.seq, &p.mutationID, &p.name, &p.args, &p.occurredAt, &p.actor.ID, &p.actor.Name, &role,
			&p.waitingFor, &p.parkedAt, &p.expiresAt); err != nil {
			return nil, err
		}
		p.actor.Role = workflow.Role(role)
		out = append(out, p)
	}
	return out, rows.Err()
}

// waking is what Wake hands the pipeline and what Record needs to decide
// the woken acts it gets back: the row whose parked acts are retried, pass
// after pass while a pass applies one (an applied act moves the row, which
// may be what an earlier arrival waits for).
type waking struct {
	table, id string
	// passed: the row's acts were handed out once; progress: an act of
	// the last pass applied.
	passed, progress bool
	// only: the sweeper's row alone, not every row the transaction woke;
	// expire rejects the acts still waiting whose window has run out.
	only, expire bool
	acts         map[*pipeline.Act]parked
	// decided counts the acts decided (SweepDeferred reports it).
	decided int
}

// Wake returns, in this transaction, the parked acts of the rows this
// transaction changed (the trigger marked them woken; the act's audit row
// said whether any is), one row and one pass at a time: the pipeline
// retries them and Record decides each (decideWoken). The pipeline calls
// it after each act it applies, so a parked act lands the moment its
// predecessor does, in the same transaction.
func (st *pushStore) Wake(ctx context.Context, _ *pipeline.Act) ([]*pipeline.Act, error) {
	w, tx := &st.waking, st.tx
	for {
		if w.table != "" && w.passed && !w.progress {
			// The last pass applied none: the acts decided changed the
			// row, and nothing parked on it is left woken by this
			// transaction's own writes.
			if _, err := tx.Exec(ctx, `UPDATE sync.deferred SET woken = false WHERE wait_table = $1 AND wait_id = $2 AND outcome IS NULL AND woken`,
				w.table, w.id); err != nil {
				return nil, err
			}
			if w.only {
				*w = waking{decided: w.decided}
				return nil, nil
			}
			w.table, w.id = "", ""
		}
		if w.table == "" {
			if !st.woken {
				return nil, nil
			}
			err := tx.QueryRow(ctx, `SELECT wait_table, wait_id FROM sync.deferred WHERE outcome IS NULL AND woken ORDER BY arrival LIMIT 1`).
				Scan(&w.table, &w.id)
			if errors.Is(err, pgx.ErrNoRows) {
				*w = waking{decided: w.decided}
				st.woken = false
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			if err := lockWaitRow(ctx, tx, w.table, w.id); err != nil {
				return nil, err
			}
			w.passed = false
		}
		ps, err := parkedOn(ctx, tx, w.table, w.id)
		if err != nil {
			return nil, err
		}
		w.passed, w.progress = true, false
		w.acts = make(map[*pipeline.Act]parked, len(ps))
		out := make([]*pipeline.Act, 0, len(ps))
		for _, p := range ps {
			a := &pipeline.Act{Mutation: syncproto.Mutation{ID: p.mutationID, Name: p.name, Args: p.args, OccurredAt: p.occurredAt},
				Actor: p.actor}
			w.acts[a] = p
			out = append(out, a)
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

// decideWoken keeps the outcome of a woken act (Record sends it here):
// applied, refused with what it had waited for, refused for having waited
// too long (the sweeper's expire), or still waiting until the row changes
// again. The act's savepoint, opened by the mutator's reads, is released
// in the same round trip, whatever the outcome: the rows read stay locked
// until commit.
func (st *pushStore) decideWoken(ctx context.Context, p parked, o pipeline.Outcome) error {
	db, w, rej := st.db, &st.waking, o.Rejection
	b := &pgx.Batch{}
	if st.open {
		b.Queue(releaseAct)
		st.open = false
	}
	switch {
	case rej == nil:
		db.queueDecide(b, p, nil)
		w.progress = true
	case rej.Wait == nil:
		r := *rej
		r.Message = fmt.Sprintf("%s It had been %s since %s.", rej.Message, p.waitingFor, p.parkedAt.UTC().Format("2006-01-02 15:04 UTC"))
		db.queueDecide(b, p, &r)
	case w.expire && !db.now().Before(p.expiresAt):
		r := *rej
		r.Wait = nil
		r.Message = fmt.Sprintf("It had been %s since %s, longer than the %s the server keeps an act waiting; it was not applied. %s",
			p.waitingFor, p.parkedAt.UTC().Format("2006-01-02 15:04 UTC"), db.deferredWindow(), rej.Message)
		db.queueDecide(b, p, &r)
	default:
		// Still early: it keeps waiting, until the row changes again.
		b.Queue(`UPDATE sync.deferred SET woken = false WHERE device_id = $1 AND seq = $2`, p.deviceID, p.seq)
		return st.tx.SendBatch(ctx, b).Close()
	}
	if err := st.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("decide parked mutation %s/%d: %w", p.deviceID, p.seq, err)
	}
	w.decided++
	return nil
}

// queueDecide queues on b the record of a parked act's outcome, once: the
// audit row leaves "deferred", and sync.deferred keeps the deciding
// transaction's xid for the feed.
func (db *DB) queueDecide(b *pgx.Batch, p parked, rej *workflow.Rejection) {
	outcome := "applied"
	var code, msg, field any
	if rej != nil {
		outcome, code, msg = "rejected", string(rej.Code), pgText(rej.Message)
		if rej.Field != "" {
			field = pgText(rej.Field)
		}
	}
	b.Queue(`UPDATE sync.mutations SET outcome = $3, code = $4, message = $5, field = $6 WHERE device_id = $1 AND seq = $2`,
		p.deviceID, p.seq, outcome, code, msg, field)
	b.Queue(`UPDATE sync.deferred SET outcome = $3, decided_at = $4, decided_xid = pg_current_xact_id(), woken = false
		 WHERE device_id = $1 AND seq = $2`, p.deviceID, p.seq, outcome, db.now())
	// A rejection changes no seed row, but the decision leaves a mark in
	// the feed (migration 00017), so the caller's announcement after the
	// commit pokes the author's device, which pulls the outcome.
}

// SweepDeferred retries the parked acts that need it outside a push: those
// woken by a writer that did not retry them (another program's SQL), and
// those whose waiting window has run out (rejected, with a sentence). Each
// row waited on is handled in its own transaction. It returns how many
// acts it decided.
func (db *DB) SweepDeferred(ctx context.Context) (int, error) {
	type row struct{ table, id string }
	var todo []row
	rows, err := db.Pool.Query(ctx, `
		SELECT DISTINCT wait_table, wait_id FROM sync.deferred
		 WHERE outcome IS NULL AND (woken OR expires_at <= $1)`, db.now())
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.table, &r.id); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	total := 0
	for _, r := range todo {
		var n int
		err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
			if err := lockWaitRow(ctx, tx, r.table, r.id); err != nil {
				return err
			}
			st := db.newPushStore(tx, "", nil, db.now())
			st.waking = waking{table: r.table, id: r.id, only: true, expire: true}
			err := pipeline.Wake(ctx, st, nil)
			n = st.waking.decided
			return err
		})
		if err != nil {
			return total, err
		}
		if n > 0 {
			db.announce(feedNotice, adminNotice("mutations"))
		}
		total += n
	}
	return total, nil
}

// parkedWait returns what a still parked act waits for, for a duplicate
// push of it; ok is false when it is not parked (any more).
func parkedWait(ctx context.Context, tx pgx.Tx, deviceID string, seq int64) (syncproto.MutationResult, bool, error) {
	var r syncproto.MutationResult
	err := tx.QueryRow(ctx, `SELECT waiting_for, wait_table, wait_id, wait_state FROM sync.deferred
		 WHERE device_id = $1 AND seq = $2 AND outcome IS NULL`, deviceID, seq).Scan(&r.WaitingFor, &r.WaitTable, &r.WaitID, &r.WaitState)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// FollowDeferred calls sweep every `every`, and at once whenever a commit
// woke a parked act that its writer did not retry: another program's SQL
// (the trigger's NOTIFY wardsync_deferred at its commit) or this server
// (announced after the commit). A push retries the acts it woke itself.
// Without a listening connection it falls back to the period alone.
func (db *DB) FollowDeferred(ctx context.Context, every time.Duration, sweep func()) {
	wake, unsubscribe := db.ann.wakeOn(ChannelDeferred)
	defer unsubscribe()
	for ctx.Err() == nil {
		_ = db.followDeferredOnce(ctx, wake, every, sweep)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		sweep()
	}
}

func (db *DB) followDeferredOnce(ctx context.Context, wake <-chan struct{}, every time.Duration, sweep func()) error {
	conn, release, err := db.listenConn(ctx, ChannelDeferred)
	if err != nil {
		return err
	}
	defer release()
	for {
		if _, _, err := db.ann.waitNotice(ctx, conn.Conn(), wake, every); err != nil {
			return err
		}
		sweep()
	}
}
