package desktop

import (
	"context"
	"sort"
	"time"

	"wardsync/desktop/remote"
	"wardsync/desktop/sqlite"
	"wardsync/syncproto"
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
	ActProvenance    = sqlite.ActProvenance
)

// Dashboard returns the queues of the user's role (the seed's dashboard
// queries, 50 items each), "today" being the engine's Location's day.
func (e *Engine) Dashboard(ctx context.Context, userID string) (*Dashboard, error) {
	c, err := e.db.CredentialByUser(ctx, userID)
	if sqlite.IsNotFound(err) {
		return nil, rejection(workflow.CodeUnauthenticated, MsgNotLoggedIn)
	}
	if err != nil {
		return nil, err
	}
	now := e.cfg.Now().In(e.cfg.Location)
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, e.cfg.Location)
	d, err := e.db.DashboardFor(ctx, c.Role, c.UserID, start, start.AddDate(0, 0, 1), sqlite.DefaultLimit)
	if d != nil {
		ForRole(c.Role, d) // a shared workstation holds more than this role may read
	}
	return d, err
}

// SearchPatients finds patients by name words (prefixes of the first or
// last name) and/or birth date ("2006-01-02").
func (e *Engine) SearchPatients(ctx context.Context, q PatientQuery) ([]workflow.Patient, error) {
	return e.db.SearchPatients(ctx, q)
}

// PatientTimeline returns a patient's appointments, prescriptions, results
// and documents, newest first, from the replica alone: each entry with this
// workstation's acts still in its outbox.
func (e *Engine) PatientTimeline(ctx context.Context, patientID string) (*Timeline, error) {
	return e.db.PatientTimeline(ctx, patientID)
}

// MsgActsOffline is the timeline's line when only this workstation's
// queued acts could be shown.
const MsgActsOffline = "Sync time and other workstations' acts are shown when online."

// actsTimeout bounds the server lookup: the record is on screen from the
// replica either way, and a ward does not wait for a slow network.
const actsTimeout = 3 * time.Second

// PatientTimelineFor is PatientTimeline as userID sees it: only what
// userID's role may read (ForRole), and, when the workstation is online, every act the server recorded on the record
// (whichever workstation made it: author, device, clinical and sync time)
// is merged into the entries, with userID's session token (the server
// leaves out what the user's role may not read). Offline, without a live
// session, or when the server cannot answer, the replica's timeline is
// returned with ActsNote saying so: it never fails for the network.
func (e *Engine) PatientTimelineFor(ctx context.Context, userID, patientID string) (*Timeline, error) {
	role, err := e.viewer(ctx, userID)
	if err != nil {
		return nil, err
	}
	tl, err := e.db.PatientTimeline(ctx, patientID)
	if err != nil {
		return nil, err
	}
	ForRole(role, tl)
	tl.Entries = visibleEntries(role, tl.Entries)
	tl.ActsNote = MsgActsOffline
	if !e.Status().Online || e.cfg.ServerURL == "" {
		return tl, nil
	}
	c, err := e.author(ctx, userID)
	if err != nil {
		return tl, nil
	}
	lookup, cancel := context.WithTimeout(ctx, actsTimeout)
	defer cancel()
	acts, err := remote.FetchPatientActs(lookup, e.cfg.HTTPClient, e.cfg.ServerURL, c.Token, patientID)
	if err != nil {
		e.log.Info("patient acts: the server could not be asked; showing the replica's", "patient", patientID, "err", err)
		return tl, nil
	}
	mergeServerActs(tl, acts)
	return tl, nil
}

// mergeServerActs puts each act the server recorded on the entry of its
// row (the patient's own row and rows not on this workstation go to
// tl.Acts). An act both in the outbox and at the server (sent, its copy not
// yet pulled) is shown once, as the server recorded it.
func mergeServerActs(tl *Timeline, acts *syncproto.PatientActs) {
	type key struct {
		device string
		seq    int64
		name   string
	}
	known := map[key]bool{}
	byRow := map[string][]sqlite.ActProvenance{}
	var elsewhere []sqlite.ActProvenance
	for _, a := range acts.Acts {
		known[key{a.DeviceID, a.Seq, a.Name}] = true
		at := a.ReceivedAt
		p := sqlite.ActProvenance{Seq: a.Seq, Name: a.Name, OccurredAt: a.OccurredAt, ReceivedAt: &at, AuthorName: a.AuthorName,
			AuthorRole: workflow.Role(a.AuthorRole), DeviceID: a.DeviceID, DeviceName: a.DeviceName, State: a.Outcome}
		byRow[a.TargetID] = append(byRow[a.TargetID], p)
	}
	merge := func(local []sqlite.ActProvenance, id string) []sqlite.ActProvenance {
		out := byRow[id]
		delete(byRow, id)
		for _, p := range local {
			if !known[key{p.DeviceID, p.Seq, p.Name}] {
				out = append(out, p)
			}
		}
		sortActs(out)
		return out
	}
	for i := range tl.Entries {
		tl.Entries[i].Acts = merge(tl.Entries[i].Acts, tl.Entries[i].RowID())
	}
	tl.Acts = merge(tl.Acts, tl.Patient.ID)
	for _, rest := range byRow {
		elsewhere = append(elsewhere, rest...)
	}
	tl.Acts = append(tl.Acts, elsewhere...)
	sortActs(tl.Acts)
	tl.ActsNote, tl.ActsTruncated = "", acts.Truncated
}

// sortActs orders acts by clinical time, then sync time (an act not yet
// sent last), then seq.
func sortActs(ps []sqlite.ActProvenance) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if !a.OccurredAt.Equal(b.OccurredAt) {
			return a.OccurredAt.Before(b.OccurredAt)
		}
		if (a.ReceivedAt == nil) != (b.ReceivedAt == nil) {
			return b.ReceivedAt == nil
		}
		if a.ReceivedAt != nil && !a.ReceivedAt.Equal(*b.ReceivedAt) {
			return a.ReceivedAt.Before(*b.ReceivedAt)
		}
		return a.Seq < b.Seq
	})
}

// LikelyDuplicates lists the patients of the replica with the same names
// (folded as the server's duplicate detection folds them) and birth date
// ("2006-01-02"): reception is warned before registering the person twice.
func (e *Engine) LikelyDuplicates(ctx context.Context, firstName, lastName, birthDate string) ([]workflow.Patient, error) {
	return e.db.LikelyDuplicates(ctx, firstName, lastName, birthDate)
}

// entryTables says which table each kind of timeline entry shows.
var entryTables = map[string]string{
	"appointment":  workflow.TableAppointments,
	"prescription": workflow.TablePrescriptions,
	"result":       workflow.TableResults,
	"document":     workflow.TableDocuments,
}

// visibleEntries drops the entries of tables role may not read at all:
// even an emptied entry would tell its date and kind.
func visibleEntries(role workflow.Role, entries []TimelineEntry) []TimelineEntry {
	out := entries[:0]
	for _, en := range entries {
		if table, ok := entryTables[en.Kind]; ok && !workflow.CanRead([]workflow.Role{role}, table, "id") {
			continue
		}
		out = append(out, en)
	}
	return out
}
