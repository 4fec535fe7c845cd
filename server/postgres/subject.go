package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"wardsync/workflow"
)

// Subjects names the patient and visit each act concerns (refs from
// workflow.RefsOf), in one query: the dashboard's acts on hold, rejected
// acts and audit log show "DUPONT Amélie — visit 14:00, Suivi" beside the
// act, not its row ids. A row that does not exist (a refused insert)
// leaves what the act's own arguments say.
func (db *DB) Subjects(ctx context.Context, refs []workflow.ActRefs) ([]workflow.ActSubject, error) {
	out := make([]workflow.ActSubject, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	tables, ids, patients, rxs := make([]string, len(refs)), make([]string, len(refs)), make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		tables[i], ids[i], patients[i], rxs[i] = r.Table, r.ID, r.PatientID, r.PrescriptionID
		out[i] = r.Subject()
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT r.i, COALESCE(p.id, ''), p."firstName", p."lastName", p."birthDate",
		       a.id, a.date, a.motif, a."billingAmount"::text, rx.text
		  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS r(tbl, id, pid, rxid, i)
		  LEFT JOIN appointments a ON r.tbl = 'appointments' AND a.id = r.id
		  LEFT JOIN results res ON r.tbl = 'results' AND res.id = r.id
		  LEFT JOIN prescriptions rx ON rx.id = CASE r.tbl WHEN 'prescriptions' THEN r.id
		                                              WHEN 'results' THEN COALESCE(res."prescriptionId", NULLIF(r.rxid, '')) END
		  LEFT JOIN documents d ON r.tbl = 'documents' AND d.id = r.id
		  LEFT JOIN patients p ON p.id = COALESCE(a."patientId", rx."patientId", d."patientId", NULLIF(r.pid, ''))`,
		tables, ids, patients, rxs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			i                         int64
			pid                       string
			first, last, motif, visit pgtype.Text
			amount, text              pgtype.Text
			birth, date               *time.Time
		)
		if err := rows.Scan(&i, &pid, &first, &last, &birth, &visit, &date, &motif, &amount, &text); err != nil {
			return nil, err
		}
		s := &out[i-1]
		if pid != "" {
			s.PatientID, s.FirstName, s.LastName, s.BirthDate = pid, first.String, last.String, utc(birth)
		}
		if visit.Valid {
			s.VisitID, s.VisitDate, s.VisitMotif, s.BillingAmount = visit.String, utc(date), motif.String, amount.String
		}
		s.PrescriptionText = text.String
	}
	return out, rows.Err()
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
