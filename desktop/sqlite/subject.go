package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"wardsync/workflow"
)

// Subjects names, from the replica, the patient and visit each act
// concerns (refs from workflow.RefsOf), in one snapshot: the Waiting and
// Rejected lists say "DUPONT Amélie — visit 14:00, Suivi" instead of the
// act's row ids. A row not on this workstation leaves its fields empty,
// except what the act's own arguments say.
func (db *DB) Subjects(ctx context.Context, refs []workflow.ActRefs) ([]workflow.ActSubject, error) {
	return readValue(ctx, db, func(t *Tx) ([]workflow.ActSubject, error) {
		out := make([]workflow.ActSubject, len(refs))
		for i, r := range refs {
			s, err := t.subject(r)
			if err != nil {
				return nil, fmt.Errorf("sqlite: act subject: %w", err)
			}
			out[i] = s
		}
		return out, nil
	})
}

func (t *Tx) subject(r workflow.ActRefs) (workflow.ActSubject, error) {
	s := r.Subject()
	var patientID, text, motif, amount sql.NullString
	var err error
	switch r.Table {
	case workflow.TableAppointments:
		err = t.queryRow(`SELECT "patientId", "date", "motif", "billingAmount" FROM "appointments" WHERE "id" = ?`, r.ID).
			Scan(&patientID, nullTime{&s.VisitDate}, &motif, &amount)
		if err == nil {
			s.VisitID, s.VisitMotif, s.BillingAmount = r.ID, motif.String, amount.String
		}
	case workflow.TablePrescriptions:
		err = t.queryRow(`SELECT "patientId", "text" FROM "prescriptions" WHERE "id" = ?`, r.ID).Scan(&patientID, &text)
	case workflow.TableResults:
		err = t.queryRow(`SELECT p."patientId", p."text" FROM "results" r JOIN "prescriptions" p ON p."id" = r."prescriptionId"
			WHERE r."id" = ?`, r.ID).Scan(&patientID, &text)
		if errors.Is(err, sql.ErrNoRows) && r.PrescriptionID != "" {
			err = t.queryRow(`SELECT "patientId", "text" FROM "prescriptions" WHERE "id" = ?`, r.PrescriptionID).Scan(&patientID, &text)
		}
	case workflow.TableDocuments:
		err = t.queryRow(`SELECT "patientId" FROM "documents" WHERE "id" = ?`, r.ID).Scan(&patientID)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s, err
	}
	if patientID.String != "" {
		s.PatientID = patientID.String
	}
	s.PrescriptionText = text.String
	if s.PatientID == "" {
		return s, nil
	}
	var first, last sql.NullString
	err = t.queryRow(`SELECT "firstName", "lastName", "birthDate" FROM "patients" WHERE "id" = ?`, s.PatientID).Scan(&first, &last, nullTime{&s.BirthDate})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return s, nil
	case err != nil:
		return s, err
	}
	s.FirstName, s.LastName = first.String, last.String
	return s, nil
}
