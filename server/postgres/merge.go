package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"wardsync/pipeline"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Merging duplicate patients (docs/duplicates.md): this file applies
// patient.merge for the dashboard through the same mutator and writer as a
// push, records each merge, and re-points acts that arrive later naming a
// merged patient. The candidate pairs are duplicates.go's.

// mergeChainLimit bounds how many merges re-pointing follows (A merged into
// B, B into C, …); a longer chain is a loop or a mistake, refused.
const mergeChainLimit = 16

// MergeResult is what a dashboard merge did.
type MergeResult struct {
	MutationID    string `json:"mutationId"`
	SurvivorID    string `json:"survivorId"`
	LoserID       string `json:"loserId"`
	Appointments  int    `json:"appointments"`
	Prescriptions int    `json:"prescriptions"`
	Documents     int    `json:"documents"`
}

// MergePatients applies patient.merge for an administrator acting from the
// dashboard: the same mutator, writer and merge record as an act pushed by
// a workstation, in one transaction. A refusal is the workflow's
// *Rejection; nothing is written then.
func (db *DB) MergePatients(ctx context.Context, actor workflow.Actor, survivorID, loserID string) (*MergeResult, error) {
	args, err := json.Marshal(map[string]string{"survivorId": survivorID, "loserId": loserID})
	if err != nil {
		return nil, err
	}
	m := &pipeline.Act{Mutation: syncproto.Mutation{ID: uuid.NewString(), Name: "patient.merge", Args: args, OccurredAt: db.now().Truncate(time.Millisecond)},
		Actor: actor, Online: true}
	var res *MergeResult
	err = db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		st := db.newPushStore(tx, "", nil, db.now())
		rej, err := pipeline.Apply(ctx, st, m)
		if err != nil {
			return err
		}
		if rej != nil {
			return rej
		}
		if err := st.release(ctx); err != nil {
			return err
		}
		res = &MergeResult{MutationID: m.ID, SurvivorID: survivorID, LoserID: loserID}
		var moved map[string]int
		var raw []byte
		if err := tx.QueryRow(ctx, `SELECT moved FROM sync.patient_merges WHERE loser_id = $1`, loserID).Scan(&raw); err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &moved); err != nil {
			return err
		}
		res.Appointments, res.Prescriptions, res.Documents = moved["appointments"], moved["prescriptions"], moved["documents"]
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventPatientMerge, ActorID: actor.ID, ActorName: actor.Name,
			Target: "patient " + loserID + " into " + survivorID},
			map[string]any{"patients": []string{survivorID, loserID}},
			map[string]any{"survivorId": survivorID, "mergedId": loserID, "moved": moved, "mutationId": m.ID})
	})
	if err != nil {
		return nil, err
	}
	// Moving the loser's appointments and prescriptions may have woken
	// acts parked on them: the sweeper retries those.
	db.announce(feedNotice, adminNotice("mutations"), adminNotice("duplicate_candidates"), deferredNotice)
	return res, nil
}

// recordMerge runs inside WriteEffect (effect.go), after the mutator accepted a
// patient.merge and before its effect is written: it keeps the loser's last
// row and who merged it, and settles the candidate pairs the merge answers.
func recordMerge(ctx context.Context, tx pgx.Tx, m workflow.Mutation, eff workflow.Effect) error {
	var a struct{ SurvivorID, LoserID string }
	if err := json.Unmarshal(m.Args, &a); err != nil {
		return err
	}
	moved := map[string]int{workflow.TableAppointments: 0, workflow.TablePrescriptions: 0, workflow.TableDocuments: 0}
	for _, op := range eff.Ops {
		if op.Kind == workflow.OpUpdate {
			moved[op.Table]++
		}
	}
	movedJSON, err := json.Marshal(moved)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO sync.patient_merges (loser_id, survivor_id, merged_by, merged_at, mutation_id, loser_row, moved)
		SELECT id, $2, $3, $4, $5, to_jsonb(p), $6::jsonb FROM patients p WHERE id = $1`,
		a.LoserID, a.SurvivorID, m.Actor.ID, m.OccurredAt, m.ID, string(movedJSON)); err != nil {
		return fmt.Errorf("record merge: %w", err)
	}
	// The loser's other open pairs become the survivor's (unless known),
	// then every open pair naming the loser is settled by the merge.
	if _, err := tx.Exec(ctx, `
		INSERT INTO sync.duplicate_candidates (patient_a, patient_b, reason, detected_at)
		SELECT least($2, o), greatest($2, o), c.reason, c.detected_at
		  FROM sync.duplicate_candidates c,
		       LATERAL (SELECT CASE WHEN c.patient_a = $1 THEN c.patient_b ELSE c.patient_a END AS o) x
		 WHERE (c.patient_a = $1 OR c.patient_b = $1) AND c.resolved_at IS NULL AND o <> $2
		ON CONFLICT (patient_a, patient_b) DO NOTHING`, a.LoserID, a.SurvivorID); err != nil {
		return fmt.Errorf("record merge: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		UPDATE sync.duplicate_candidates SET resolved_at = $2, resolution = 'merged', resolved_by = $3,
		       note = 'merged into ' || $4
		 WHERE (patient_a = $1 OR patient_b = $1) AND resolved_at IS NULL`,
		a.LoserID, m.OccurredAt, m.Actor.ID, a.SurvivorID); err != nil {
		return fmt.Errorf("record merge: %w", err)
	}
	return nil
}

// MergeOf is mergeOf in the push's transaction.
func (st *pushStore) MergeOf(ctx context.Context, id string) (*workflow.Merge, error) {
	return mergeOf(ctx, st.tx, id)
}

// mergeOf returns where a merged patient went, following chains of merges
// to the record that exists now; nil when id was never merged.
func mergeOf(ctx context.Context, tx pgx.Tx, id string) (*workflow.Merge, error) {
	var out *workflow.Merge
	for hop := 0; hop < mergeChainLimit; hop++ {
		var m workflow.Merge
		var by *string
		err := tx.QueryRow(ctx, `
			SELECT pm.loser_id, pm.survivor_id, pm.merged_at, u.name FROM sync.patient_merges pm LEFT JOIN users u ON u.id = pm.merged_by
			 WHERE pm.loser_id = $1`, id).Scan(&m.LoserID, &m.SurvivorID, &m.At, &by)
		if errors.Is(err, pgx.ErrNoRows) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		m.ByName = "an administrator"
		if by != nil {
			m.ByName = *by
		}
		if out == nil {
			out = &m
		} else {
			// The first merge's date and author, the last one's survivor.
			out.SurvivorID = m.SurvivorID
		}
		id = m.SurvivorID
	}
	return nil, fmt.Errorf("patient %s: more than %d merges in a chain", out.LoserID, mergeChainLimit)
}
