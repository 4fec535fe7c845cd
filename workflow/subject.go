package workflow

import (
	"encoding/json"
	"time"
)

// An act line on a screen names the patient and the visit it concerns,
// not the row ids it carries. ActRefs reads, from the act alone, which
// rows to look up for that; the adapters (desktop/sqlite, server/postgres)
// fill an ActSubject from their tables.

// ActRefs are the rows an act concerns, read from its name and arguments.
// Table and ID are the act's primary row (Targets); the other fields are
// what the arguments themselves say, for an act whose row was never
// created (a refused registration, appointment or result).
type ActRefs struct {
	Table, ID      string
	PatientID      string
	PrescriptionID string
	// FirstName, LastName: a patient.register's names.
	FirstName, LastName string
	// VisitDate, VisitMotif: an appointment.schedule's visit.
	VisitDate  *time.Time
	VisitMotif string
}

// Subject is what the act's own arguments say of its subject: what a
// store starts from before it reads the rows (a row it does not hold, such
// as a refused insert's, leaves just this).
func (r ActRefs) Subject() ActSubject {
	return ActSubject{PatientID: r.PatientID, FirstName: r.FirstName, LastName: r.LastName, VisitDate: r.VisitDate, VisitMotif: r.VisitMotif}
}

// RefsOf reads an act's rows from its arguments. It never fails: an act
// that cannot be read (unknown name, malformed arguments, a bookkeeping
// act) concerns no patient it can name, and ActRefs stays empty.
func RefsOf(name string, args json.RawMessage) ActRefs {
	var refs ActRefs
	if table, id, err := Targets(name, args); err == nil {
		refs.Table, refs.ID = table, id
	}
	var a struct {
		PatientID      string `json:"patientId"`
		PrescriptionID string `json:"prescriptionId"`
		FirstName      string `json:"firstName"`
		LastName       string `json:"lastName"`
		Date           string `json:"date"`
		Motif          string `json:"motif"`
	}
	if json.Unmarshal(args, &a) != nil {
		return refs
	}
	refs.PatientID, refs.PrescriptionID = a.PatientID, a.PrescriptionID
	if refs.Table == TablePatients {
		refs.PatientID = refs.ID
	}
	if name == "patient.register" {
		refs.FirstName, refs.LastName = a.FirstName, a.LastName
	}
	if name == "appointment.schedule" {
		if t, err := time.Parse(time.RFC3339Nano, a.Date); err == nil {
			refs.VisitDate = &t
		}
		refs.VisitMotif = a.Motif
	}
	return refs
}

// ActSubject is the patient and visit an act concerns, in the words a
// screen shows: "DUPONT Amélie — visit 07/12 14:00, Consultation de
// suivi". Empty fields are unknown (a row that is not on this
// workstation, or that the viewer's role may not read).
type ActSubject struct {
	PatientID  string     `json:"patientId,omitempty"`
	FirstName  string     `json:"firstName,omitempty"`
	LastName   string     `json:"lastName,omitempty"`
	BirthDate  *time.Time `json:"birthDate,omitempty"`
	VisitID    string     `json:"visitId,omitempty"`
	VisitDate  *time.Time `json:"visitDate,omitempty"`
	VisitMotif string     `json:"visitMotif,omitempty"`
	// PrescriptionText is the prescription a lab act or result concerns.
	PrescriptionText string `json:"prescriptionText,omitempty"`
	// BillingAmount is the visit's bill ("45.00"), once closed.
	BillingAmount string `json:"billingAmount,omitempty"`
}

// Known reports whether the subject names anything at all.
func (s ActSubject) Known() bool {
	return s.PatientID != "" || s.LastName != "" || s.VisitDate != nil || s.PrescriptionText != ""
}
