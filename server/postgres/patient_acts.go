package postgres

import (
	"context"

	"wardsync/workflow"
)

// MaxPatientActs bounds the acts PatientActs returns: the newest ones, the
// same page size as the audit search. A record with more acts than that
// shows its recent history; the dashboard's audit search pages through all.
const MaxPatientActs = MaxAuditPage

// PatientActs returns the newest acts (at most MaxPatientActs, newest
// received first) on the patient and on their appointments, prescriptions,
// results and documents, whatever their outcome, and whether older ones
// were left out. An unknown patient (never registered, or merged away) is
// NOT_FOUND.
func (db *DB) PatientActs(ctx context.Context, patientID string) (acts []AuditEntry, truncated bool, err error) {
	var exists bool
	if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM patients WHERE id = $1)`, patientID).Scan(&exists); err != nil {
		return nil, false, err
	}
	if !exists {
		return nil, false, workflow.Reject(workflow.CodeNotFound, "No patient with id %s is on the server (never registered, or merged into another record).", patientID)
	}
	acts, next, err := db.Audit(ctx, AuditFilter{PatientID: patientID, Limit: MaxPatientActs})
	return acts, next != "", err
}
