package postgres

// The review queue of rejected acts (docs/review-queue.md): resolving a
// rejected act (closed with a reason from the dashboard or the author's
// workstation, or re-issued as a linked act) and handing the resolutions
// to the author's workstation along the feed. The rules (what may be
// resolved, what a reason must be) are workflow's; this file only reads
// and writes schema "sync".

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/pipeline"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// rejectedActQuery reads one act of a device and its resolution, locking
// the act's row so that two resolvers (a dashboard and the workstation's
// close, say) are serialised and the second is told about the first.
const rejectedActQuery = `
	SELECT m.seq, m.outcome, r.resolved_at, COALESCE(u.name, ''), COALESCE(r.note, '')
	  FROM sync.mutations m
	  LEFT JOIN sync.rejection_resolutions r ON r.device_id = m.device_id AND r.seq = m.seq
	  LEFT JOIN users u ON u.id = r.resolved_by
	 WHERE m.device_id = $1 AND `

func rejectedActState(ctx context.Context, tx pgx.Tx, deviceID, ref, where string, arg any) (workflow.RejectedActState, error) {
	s := workflow.RejectedActState{DeviceID: deviceID, Ref: ref}
	err := tx.QueryRow(ctx, rejectedActQuery+where+` ORDER BY m.seq LIMIT 1 FOR UPDATE OF m`, deviceID, arg).
		Scan(&s.Seq, &s.Outcome, &s.ResolvedAt, &s.ResolvedBy, &s.Note)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	}
	s.Found = err == nil
	return s, err
}

// resolution is one row to add to sync.rejection_resolutions.
type resolution struct {
	deviceID string
	seq      int64
	at       time.Time
	by       string // user id; "" for nobody known
	note     string
	kind     string // syncproto.ResolutionClosed or ResolutionReissued
	bySeq    *int64 // the device's own act that resolved it
}

func insertResolution(ctx context.Context, tx pgx.Tx, r resolution) error {
	var by any
	if r.by != "" {
		by = r.by
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO sync.rejection_resolutions (device_id, seq, resolved_at, resolved_by, note, kind, by_seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.deviceID, r.seq, r.at, by, r.note, r.kind, r.bySeq)
	if err != nil {
		return err
	}
	// Resolving a refused act is an administrative act on the record: it
	// goes to the security log, whoever resolved it (dashboard or ward).
	// No notification: this may run inside a push.
	return appendEvent(ctx, tx,
		SecurityEvent{Kind: EventReviewResolve, At: r.at, ActorID: r.by, DeviceID: r.deviceID, Reason: r.note,
			Target: fmt.Sprintf("act %d of workstation %s", r.seq, r.deviceID)},
		map[string]any{"resolved": false}, map[string]any{"resolved": true, "kind": r.kind, "bySeq": r.bySeq})
}

// ResolveRejection closes a rejected act from the dashboard, with the
// administrator's written reason. It is refused (and nothing is written)
// when the reason is empty or too long, the act does not exist, was
// applied, or is already resolved.
func (db *DB) ResolveRejection(ctx context.Context, deviceID string, seq int64, by, note string) error {
	if rej := workflow.CheckReason("note", note); rej != nil {
		return rej
	}
	return db.announced(db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		s, err := rejectedActState(ctx, tx, deviceID, "with seq "+strconv.FormatInt(seq, 10), "m.seq = $2", seq)
		if err != nil {
			return err
		}
		if rej := workflow.CanResolve(s); rej != nil {
			return rej
		}
		return insertResolution(ctx, tx, resolution{deviceID: deviceID, seq: seq, at: db.now(), by: by, note: note,
			kind: syncproto.ResolutionClosed})
	}), feedNotice, adminNotice("rejection_resolutions"))
}

// CloseRejected applies the bookkeeping act rejected.close of a
// workstation (inside the push's transaction): the rejected act it names
// is resolved by its author, at the moment they closed it, with their
// reason.
func (st *pushStore) CloseRejected(ctx context.Context, a *pipeline.Act) (*workflow.Rejection, error) {
	tx, deviceID, m, actor := st.tx, st.deviceID, a.Mutation, a.Actor
	args, rej := workflow.DecodeCloseRejected(m.Args)
	if rej != nil {
		return rej, nil
	}
	s, err := rejectedActState(ctx, tx, deviceID, args.ID, "m.mutation_id = $2", args.ID)
	if err != nil {
		return nil, err
	}
	if rej := workflow.CanResolve(s); rej != nil {
		return rej, nil
	}
	bySeq := m.Seq
	return nil, insertResolution(ctx, tx, resolution{deviceID: deviceID, seq: s.Seq, at: m.OccurredAt, by: actor.ID,
		note: args.Reason, kind: syncproto.ResolutionClosed, bySeq: &bySeq})
}

// Reissue resolves the rejected act that an applied act re-issues, if it
// is a rejected act of this device still unresolved. Otherwise the link
// alone is kept (sync.mutations.reissue_of): the new act is clinical work
// and is never refused for its link. A parked re-issue resolves nothing
// yet: it may still be refused.
func (st *pushStore) Reissue(ctx context.Context, a *pipeline.Act, o pipeline.Outcome) error {
	if !o.Applied() {
		return nil
	}
	tx, deviceID, m, actor := st.tx, st.deviceID, a.Mutation, a.Actor
	s, err := rejectedActState(ctx, tx, deviceID, m.ReissueOf, "m.mutation_id = $2", m.ReissueOf)
	if err != nil || workflow.CanResolve(s) != nil {
		return err
	}
	bySeq := m.Seq
	return insertResolution(ctx, tx, resolution{deviceID: deviceID, seq: s.Seq, at: m.OccurredAt, by: actor.ID,
		note: workflow.ReissueNote(deviceID, m.Seq), kind: syncproto.ResolutionReissued, bySeq: &bySeq})
}

// maxResolutionsPerPage bounds the resolutions of one changes frame.
const maxResolutionsPerPage = syncproto.MaxPullLimit

// resolutionsIn returns the device's resolutions recorded by transactions
// with from ≤ xid < to (every one of them has finished: to is at or below
// the reading snapshot's horizon), newest last.
func resolutionsIn(ctx context.Context, tx pgx.Tx, deviceID string, from, to uint64) ([]syncproto.Resolution, error) {
	if deviceID == "" || from >= to {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `
		SELECT mutation_id, seq, kind, resolved_at, name, note, by_seq FROM (
		    SELECT r.xid, m.mutation_id, r.seq, r.kind, r.resolved_at, COALESCE(u.name, '') AS name, r.note, r.by_seq
		      FROM sync.rejection_resolutions r
		      JOIN sync.mutations m ON m.device_id = r.device_id AND m.seq = r.seq
		      LEFT JOIN users u ON u.id = r.resolved_by
		     WHERE r.device_id = $1 AND r.xid >= $2::text::xid8 AND r.xid < $3::text::xid8
		     ORDER BY r.xid DESC, r.seq DESC LIMIT $4) x
		 ORDER BY xid, seq`,
		deviceID, strconv.FormatUint(from, 10), strconv.FormatUint(to, 10), maxResolutionsPerPage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []syncproto.Resolution
	for rows.Next() {
		var (
			r     syncproto.Resolution
			bySeq *int64
		)
		if err := rows.Scan(&r.ID, &r.Seq, &r.Kind, &r.ResolvedAt, &r.ResolvedBy, &r.Note, &bySeq); err != nil {
			return nil, err
		}
		r.ResolvedAt = r.ResolvedAt.UTC()
		if r.Kind == syncproto.ResolutionReissued && bySeq != nil {
			r.ReissuedAs = deviceID + "/" + strconv.FormatInt(*bySeq, 10)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
