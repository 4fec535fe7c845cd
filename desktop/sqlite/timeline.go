package sqlite

// A patient's record as a timeline, with the provenance of its acts.

import (
	"context"
	"sort"
	"time"

	"wardsync/workflow"
)

// TimelineEntry is one event of a patient's record.
type TimelineEntry struct {
	At           time.Time          `json:"at"`
	Kind         string             `json:"kind"` // appointment, prescription, result, document
	Appointment  *AppointmentView   `json:"appointment,omitempty"`
	Prescription *PrescriptionView  `json:"prescription,omitempty"`
	Result       *workflow.Result   `json:"result,omitempty"`
	Document     *workflow.Document `json:"document,omitempty"`
	// Acts are the acts on the entry's row, oldest first: from the
	// replica, this workstation's acts still in its outbox; merged in by
	// the engine when online, every act the server recorded on the row,
	// whichever workstation made it (docs/provenance.md).
	Acts []ActProvenance `json:"acts,omitempty"`
}

// ActProvenance is who did an act, when and where, and how far it got.
type ActProvenance struct {
	Seq        int64     `json:"seq"`
	Name       string    `json:"name"`
	OccurredAt time.Time `json:"occurredAt"` // clinical time, this workstation's clock
	// ReceivedAt is the server's sync time; nil while not yet sent.
	ReceivedAt *time.Time    `json:"receivedAt,omitempty"`
	AuthorID   string        `json:"authorId"`
	AuthorName string        `json:"authorName"`
	AuthorRole workflow.Role `json:"authorRole"`
	DeviceID   string        `json:"deviceId"`
	// DeviceName is the workstation's name as the server knows it; empty
	// for an act only this workstation's outbox knows of.
	DeviceName string `json:"deviceName,omitempty"`
	// State is "not yet sent" (no outcome from the server) or "applied"
	// (the server applied it; its copy has not been pulled yet) for an act
	// in the outbox; the server's outcome ("applied", "deferred",
	// "rejected") for one it recorded.
	State string `json:"state"`
	// HashPrefix is the start of the act's chain hash.
	HashPrefix string `json:"hashPrefix,omitempty"`
}

// Timeline is a patient's record as this workstation may see it.
type Timeline struct {
	Patient workflow.Patient `json:"patient"`
	Entries []TimelineEntry  `json:"entries"`
	// Acts are the acts on the patient's own row (registration, contact
	// details, history), and, once merged with the server's, acts on the
	// record whose row is not on this workstation (a refused act whose row
	// was never created); oldest first.
	Acts []ActProvenance `json:"acts,omitempty"`
	// ActsNote says why the acts are only this workstation's queued ones
	// (offline, or the server could not be asked); empty once merged.
	ActsNote string `json:"actsNote,omitempty"`
	// ActsTruncated: the server listed only the record's newest acts.
	ActsTruncated bool `json:"actsTruncated,omitempty"`
}

// RowID is the id of the row an entry shows.
func (e *TimelineEntry) RowID() string { return e.rowID() }

// PatientTimeline returns the patient's appointments (at their date),
// prescriptions (when written), results (when validated) and documents
// (when attached), newest first: the last events are what a clinician
// opens a record for.
func (db *DB) PatientTimeline(ctx context.Context, patientID string) (*Timeline, error) {
	tl := &Timeline{Entries: []TimelineEntry{}}
	err := db.read(ctx, func(t *Tx) error {
		p, err := decodeRow[workflow.Patient](t, workflow.TablePatients, patientID)
		if err != nil {
			return err
		}
		tl.Patient = *p
		apps, err := appointmentList.list(t, qPatientAppointments, -1, patientID)
		if err != nil {
			return err
		}
		for i := range apps {
			tl.Entries = append(tl.Entries, TimelineEntry{At: apps[i].Date, Kind: "appointment", Appointment: &apps[i]})
		}
		pres, err := prescriptionList.list(t, qPatientPrescriptions, -1, patientID)
		if err != nil {
			return err
		}
		for i := range pres {
			tl.Entries = append(tl.Entries, TimelineEntry{At: pres[i].CreatedAt, Kind: "prescription", Prescription: &pres[i]})
		}
		results, err := rowsOf[workflow.Result](t, workflow.TableResults, "r",
			`JOIN "prescriptions" p ON p."id" = r."prescriptionId" WHERE p."patientId" = ?`, patientID)
		if err != nil {
			return err
		}
		for i := range results {
			at := results[i].CreatedAt
			if results[i].ValidatedAt != nil {
				at = *results[i].ValidatedAt
			}
			tl.Entries = append(tl.Entries, TimelineEntry{At: at, Kind: "result", Result: &results[i]})
		}
		docs, err := rowsOf[workflow.Document](t, workflow.TableDocuments, "d", `WHERE d."patientId" = ?`, patientID)
		if err != nil {
			return err
		}
		for i := range docs {
			tl.Entries = append(tl.Entries, TimelineEntry{At: docs[i].CreatedAt, Kind: "document", Document: &docs[i]})
		}
		return t.attachOutboxProvenance(tl)
	})
	if err != nil {
		return nil, err
	}
	rank := map[string]int{"appointment": 0, "prescription": 1, "result": 2, "document": 3}
	sort.SliceStable(tl.Entries, func(i, j int) bool {
		a, b := tl.Entries[i], tl.Entries[j]
		if !a.At.Equal(b.At) {
			return a.At.After(b.At)
		}
		return rank[a.Kind] < rank[b.Kind]
	})
	return tl, nil
}

var (
	qPatientAppointments  = queue{`a."patientId" = ?`, `a."date"`}
	qPatientPrescriptions = queue{`p."patientId" = ?`, `p."createdAt"`}
)

func rowsOf[T any](t *Tx, name, alias, rest string, args ...any) ([]T, error) {
	tbl := tables[name]
	rows, err := t.query(`SELECT `+aliased(tbl, alias)+` FROM `+quote(name)+` `+alias+` `+rest, args...)
	return wireRows[T](tbl, rows, err, name)
}

// Row returns one replicated row in wire form (nil when absent); tests and
// diagnostics use it.

// row. The outbox is small (acts leave it once a pull reflects them), so it
// is read whole.
func (t *Tx) attachOutboxProvenance(tl *Timeline) error {
	entries := tl.Entries
	s, err := t.state()
	if err != nil {
		return err
	}
	queued, err := t.outbox(`ORDER BY seq`)
	if err != nil {
		return err
	}
	byRow := map[string][]ActProvenance{}
	for _, e := range queued {
		_, id, err := workflow.Targets(e.Name, e.Args)
		if err != nil {
			continue
		}
		p := ActProvenance{Seq: e.Seq, Name: e.Name, OccurredAt: e.OccurredAt, AuthorID: e.Author.ID, AuthorName: e.Author.Name,
			AuthorRole: e.Author.Role, DeviceID: s.DeviceID, State: "not yet sent"}
		if e.Status == StatusApplied {
			p.State = "applied"
		}
		if len(e.Hash) >= 10 {
			p.HashPrefix = e.Hash[:10]
		}
		byRow[id] = append(byRow[id], p)
	}
	for i := range entries {
		entries[i].Acts = byRow[entries[i].rowID()]
	}
	tl.Acts = byRow[tl.Patient.ID]
	return nil
}

func (e *TimelineEntry) rowID() string {
	switch {
	case e.Appointment != nil:
		return e.Appointment.ID
	case e.Prescription != nil:
		return e.Prescription.ID
	case e.Result != nil:
		return e.Result.ID
	case e.Document != nil:
		return e.Document.ID
	}
	return ""
}
