package postgres

// Candidate duplicate patients (docs/duplicates.md), flagged by the
// trigger of migration 00014 whoever writes a patient: the dashboard lists
// them, counts the open ones, and dismisses a pair that is not one person.
// Merging a pair is merge.go's.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/workflow"
)

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
