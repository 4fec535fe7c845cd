package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"wardsync/pipeline"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Duplicate patients (docs/duplicates.md). Candidate pairs are flagged by
// the trigger of migration 00014, whoever writes a patient; this file lists
// and dismisses them, applies patient.merge for the dashboard through the
// same mutator and writer as a push, records each merge, and re-points acts
// that arrive later naming a merged patient.

// mergeChainLimit bounds how many merges re-pointing follows (A merged into
// B, B into C, …); a longer chain is a loop or a mistake, refused.
const mergeChainLimit = 16

// DuplicatePatient is one side of a candidate pair, with what an
// administrator needs to tell two registrations apart.
type DuplicatePatient struct {
	ID           string    `json:"id"`
	FirstName    string    `json:"firstName"`
	LastName     string    `json:"lastName"`
	BirthDate    time.Time `json:"birthDate"`
	IDNumber     *string   `json:"idNumber"`
	Phone        string    `json:"phone"`
	CreatedAt    time.Time `json:"createdAt"`
	Appointments int64     `json:"appointments"`
	// RegisteredOn names the workstation whose patient.register created the
	// row ("" when it came another way: the seed, plain SQL).
	RegisteredOn string `json:"registeredOn"`
}

// DuplicatePair is a candidate pair, A's id below B's.
type DuplicatePair struct {
	A          DuplicatePatient `json:"a"`
	B          DuplicatePatient `json:"b"`
	Reason     string           `json:"reason"`
	DetectedAt time.Time        `json:"detectedAt"`
	ResolvedAt *time.Time       `json:"resolvedAt,omitempty"`
	Resolution string           `json:"resolution,omitempty"`
	ResolvedBy string           `json:"resolvedBy,omitempty"`
	Note       string           `json:"note,omitempty"`
}

// DuplicateCandidates lists the open candidate pairs whose two patients both
// still exist, oldest first, at most limit (1–500, default 100).
func (db *DB) DuplicateCandidates(ctx context.Context, limit int) ([]DuplicatePair, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	side := func(p string) string {
		return p + `.id, ` + p + `."firstName", ` + p + `."lastName", ` + p + `."birthDate", ` + p + `."idNumber", ` + p + `.phone, ` + p + `."createdAt",
		(SELECT count(*) FROM appointments x WHERE x."patientId" = ` + p + `.id),
		COALESCE((SELECT d.name FROM sync.mutations m JOIN sync.devices d ON d.id = m.device_id
		           WHERE m.target_id = ` + p + `.id AND m.target_table = 'patients' AND m.name = 'patient.register' AND m.outcome = 'applied'
		           ORDER BY m.received_at LIMIT 1), '')`
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT c.reason, c.detected_at, `+side("a")+`, `+side("b")+`
		  FROM sync.duplicate_candidates c
		  JOIN patients a ON a.id = c.patient_a
		  JOIN patients b ON b.id = c.patient_b
		 WHERE c.resolved_at IS NULL
		 ORDER BY c.detected_at, c.patient_a, c.patient_b
		 LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []DuplicatePair{}
	for rows.Next() {
		var p DuplicatePair
		a, b := &p.A, &p.B
		if err := rows.Scan(&p.Reason, &p.DetectedAt,
			&a.ID, &a.FirstName, &a.LastName, &a.BirthDate, &a.IDNumber, &a.Phone, &a.CreatedAt, &a.Appointments, &a.RegisteredOn,
			&b.ID, &b.FirstName, &b.LastName, &b.BirthDate, &b.IDNumber, &b.Phone, &b.CreatedAt, &b.Appointments, &b.RegisteredOn); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// OpenDuplicates counts the open candidate pairs whose two patients exist
// (the dashboard's overview and the /metrics gauge).
func (db *DB) OpenDuplicates(ctx context.Context) (int64, error) {
	var n int64
	err := db.Pool.QueryRow(ctx, `
		SELECT count(*) FROM sync.duplicate_candidates c
		 WHERE c.resolved_at IS NULL
		   AND EXISTS (SELECT 1 FROM patients WHERE id = c.patient_a)
		   AND EXISTS (SELECT 1 FROM patients WHERE id = c.patient_b)`).Scan(&n)
	return n, err
}

// DismissDuplicate records that two flagged patients are not the same
// person. The pair stays dismissed even if either record changes later.
func (db *DB) DismissDuplicate(ctx context.Context, patientA, patientB, by, note string) error {
	note = strings.TrimSpace(note)
	switch {
	case !workflow.IsUUID(patientA):
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "patientA", Message: fmt.Sprintf("patientA %q is not a patient id.", patientA)}
	case !workflow.IsUUID(patientB):
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "patientB", Message: fmt.Sprintf("patientB %q is not a patient id.", patientB)}
	case note == "":
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "note", Message: "Say why these are not the same person (the note is kept with the pair)."}
	case len([]rune(note)) > 2000:
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "note", Message: "A note has at most 2,000 characters."}
	}
	a, b := min(patientA, patientB), max(patientA, patientB)
	return db.announced(db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var resolvedAt *time.Time
		var resolution, byName *string
		err := tx.QueryRow(ctx, `
			SELECT c.resolved_at, c.resolution, u.name FROM sync.duplicate_candidates c LEFT JOIN users u ON u.id = c.resolved_by
			 WHERE c.patient_a = $1 AND c.patient_b = $2 FOR UPDATE OF c`, a, b).Scan(&resolvedAt, &resolution, &byName)
		if errors.Is(err, pgx.ErrNoRows) {
			return workflow.Reject(workflow.CodeNotFound, "Patients %s and %s are not flagged as possible duplicates.", a, b)
		}
		if err != nil {
			return err
		}
		if resolvedAt != nil {
			who := "an administrator"
			if byName != nil {
				who = *byName
			}
			return workflow.Reject(workflow.CodeInvalidTransition, "Patients %s and %s were already %s on %s by %s.",
				a, b, *resolution, resolvedAt.UTC().Format("2006-01-02 15:04"), who)
		}
		var resolvedBy any
		if by != "" {
			resolvedBy = by
		}
		if _, err = tx.Exec(ctx, `UPDATE sync.duplicate_candidates SET resolved_at = $3, resolution = 'dismissed', resolved_by = $4, note = $5
			 WHERE patient_a = $1 AND patient_b = $2`, a, b, db.now(), resolvedBy, note); err != nil {
			return err
		}
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventDuplicateClear, ActorID: by, Reason: note, Target: "patients " + a + " and " + b},
			map[string]any{"flagged": true}, map[string]any{"flagged": false, "resolution": "dismissed"})
	}), adminNotice("duplicate_candidates"))
}

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
