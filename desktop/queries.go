package desktop

import (
	"context"
	"time"

	"wardsync/desktop/sqlite"
	"wardsync/workflow"
)

// The read side: all from the replica, so it answers offline and shows the
// queued acts' effects at once.
type (
	Dashboard        = sqlite.Dashboard
	AppointmentView  = sqlite.AppointmentView
	PrescriptionView = sqlite.PrescriptionView
	PatientQuery     = sqlite.PatientQuery
	Timeline         = sqlite.Timeline
	TimelineEntry    = sqlite.TimelineEntry
)

// Dashboard returns the queues of the user's role (the seed's dashboard
// queries, 50 items each), "today" being the engine's Location's day.
func (e *Engine) Dashboard(ctx context.Context, userID string) (*Dashboard, error) {
	c, err := e.db.CredentialByUser(ctx, userID)
	if sqlite.IsNotFound(err) {
		return nil, rejection(workflow.CodeUnauthenticated, "Nobody with that user id has logged in on this workstation; log in first.")
	}
	if err != nil {
		return nil, err
	}
	now := e.cfg.Now().In(e.cfg.Location)
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, e.cfg.Location)
	return e.db.DashboardFor(ctx, c.Role, c.UserID, start, start.AddDate(0, 0, 1), sqlite.DefaultLimit)
}

// SearchPatients finds patients by name words (prefixes of the first or
// last name) and/or birth date ("2006-01-02").
func (e *Engine) SearchPatients(ctx context.Context, q PatientQuery) ([]workflow.Patient, error) {
	return e.db.SearchPatients(ctx, q)
}

// PatientTimeline returns a patient's appointments, prescriptions, results
// and documents, newest first.
func (e *Engine) PatientTimeline(ctx context.Context, patientID string) (*Timeline, error) {
	return e.db.PatientTimeline(ctx, patientID)
}

// LikelyDuplicates lists the patients of the replica with the same names
// (folded as the server's duplicate detection folds them) and birth date
// ("2006-01-02"): reception is warned before registering the person twice.
func (e *Engine) LikelyDuplicates(ctx context.Context, firstName, lastName, birthDate string) ([]workflow.Patient, error) {
	return e.db.LikelyDuplicates(ctx, firstName, lastName, birthDate)
}
