// Package workflow owns the clinical rules of wardsync: roles, statuses, the
// transition and permission table, validation ranges, who may read what, and
// one mutator per act.
//
// A mutator is pure: it reads the rows it needs through a Reader supplied by
// the caller (a PostgreSQL transaction on the server, a SQLite transaction on
// the workstation), never touches the clock or the network, and returns either
// an Effect (rows to insert or patch) or a *Rejection with a stable code and a
// sentence a nurse understands. The same mutator runs on both sides, so both
// sides say the same thing.
package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Role is a user's role, spelled as the seed's "Role" enum.
type Role string

const (
	RoleAdmin     Role = "ADMIN"
	RoleDoctor    Role = "DOCTOR"
	RoleBiologist Role = "BIOLOGIST"
	RoleNurse     Role = "NURSE"
	RoleSecretary Role = "SECRETARY"
)

// Roles lists every role in the seed's enum order.
var Roles = []Role{RoleAdmin, RoleDoctor, RoleBiologist, RoleNurse, RoleSecretary}

// Valid reports whether r is one of the seed's roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// AppointmentStatus mirrors the seed's "AppointmentStatus" enum.
type AppointmentStatus string

const (
	AppointmentScheduled             AppointmentStatus = "SCHEDULED"
	AppointmentCheckedIn             AppointmentStatus = "CHECKED_IN"
	AppointmentInConsultation        AppointmentStatus = "IN_CONSULTATION"
	AppointmentConsultationCompleted AppointmentStatus = "CONSULTATION_COMPLETED"
	AppointmentCompleted             AppointmentStatus = "COMPLETED"
	AppointmentCancelled             AppointmentStatus = "CANCELLED"
)

// AppointmentStatuses lists every appointment status in the seed's enum order.
var AppointmentStatuses = []AppointmentStatus{AppointmentScheduled, AppointmentCheckedIn, AppointmentInConsultation,
	AppointmentConsultationCompleted, AppointmentCompleted, AppointmentCancelled}

// PrescriptionStatus mirrors the seed's "PrescriptionStatus" enum.
type PrescriptionStatus string

const (
	PrescriptionCreated          PrescriptionStatus = "CREATED"
	PrescriptionSentToLab        PrescriptionStatus = "SENT_TO_LAB"
	PrescriptionSampleCollected  PrescriptionStatus = "SAMPLE_COLLECTED"
	PrescriptionInProgress       PrescriptionStatus = "IN_PROGRESS"
	PrescriptionResultsAvailable PrescriptionStatus = "RESULTS_AVAILABLE"
	PrescriptionCompleted        PrescriptionStatus = "COMPLETED"
)

// PrescriptionStatuses lists every prescription status in the seed's enum order.
var PrescriptionStatuses = []PrescriptionStatus{PrescriptionCreated, PrescriptionSentToLab, PrescriptionSampleCollected,
	PrescriptionInProgress, PrescriptionResultsAvailable, PrescriptionCompleted}

// BillingStatus mirrors the seed's "BillingStatus" enum.
type BillingStatus string

const (
	BillingPending       BillingStatus = "PENDING"
	BillingPaid          BillingStatus = "PAID"
	BillingPartiallyPaid BillingStatus = "PARTIALLY_PAID"
)

// Table names, as the seed maps them (@@map).
const (
	TableUsers         = "users"
	TablePatients      = "patients"
	TableAppointments  = "appointments"
	TablePrescriptions = "prescriptions"
	TableResults       = "results"
	TableDocuments     = "documents"
)

// Tables lists the six replicated seed tables in foreign-key order (parents first).
var Tables = []string{TableUsers, TablePatients, TableAppointments, TablePrescriptions, TableResults, TableDocuments}

// Rejection is the one error type of wardsync: a machine code, a human
// sentence that names the current state, and for VALIDATION_FAILED the
// offending field (a JSON path such as "vitals.temperature").
//
// Wait is set only when the act was refused because its row is still
// earlier on its status path than the act needs (vitals on an appointment
// not yet checked in): nothing is wrong with the act, it came before its
// predecessor, and the server parks it instead of rejecting it (see
// Deferrable and docs/deferred.md).
type Rejection struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Wait    *Wait  `json:"wait,omitempty"`
}

// Wait says what a deferrable act waits for: the row (Table, ID) must reach
// one of the states Want, which the predecessor act puts it in. Sentence
// is what the nurse reads: "waiting for check-in at reception".
type Wait struct {
	Table    string   `json:"table"`
	ID       string   `json:"id"`
	Want     []string `json:"want"`
	Sentence string   `json:"sentence"`
}

// Deferrable reports whether err is a refusal caused only by the row being
// earlier on its path than the act needs, and what the act waits for.
func Deferrable(err error) (*Wait, bool) {
	if r, ok := AsRejection(err); ok && r.Wait != nil {
		w := *r.Wait
		w.Want = append([]string(nil), r.Wait.Want...)
		return &w, true
	}
	return nil, false
}

func (r *Rejection) Error() string { return string(r.Code) + ": " + r.Message }

// Reject builds a Rejection with a formatted message.
func Reject(code Code, format string, a ...any) *Rejection {
	return &Rejection{Code: code, Message: fmt.Sprintf(format, a...)}
}

// AsRejection unwraps err into a *Rejection, if it is one.
func AsRejection(err error) (*Rejection, bool) {
	var r *Rejection
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}

// Actor is the authenticated author of an act.
type Actor struct {
	ID   string
	Name string
	Role Role
}

// Mutation is one act as the workflow sees it. ID is the mutation's own id
// (not a row id); Args are the raw JSON arguments, decoded strictly by the
// mutator (unknown fields are a VALIDATION_FAILED).
type Mutation struct {
	ID         string
	Name       string
	Args       json.RawMessage
	Actor      Actor
	OccurredAt time.Time
	// Online says the server applies the act for the admin dashboard, not
	// for a workstation's queue; only then is an online act (Online(name))
	// accepted.
	Online bool
}

// ErrNotFound is returned by a Reader when a row does not exist.
var ErrNotFound = errors.New("row not found")

// Reader gives a mutator the current rows. Implementations return
// ErrNotFound (possibly wrapped) for a missing row, and lock the rows they
// return for the rest of the caller's transaction where the storage allows it.
type Reader interface {
	User(ctx context.Context, id string) (*User, error)
	Patient(ctx context.Context, id string) (*Patient, error)
	Appointment(ctx context.Context, id string) (*Appointment, error)
	Prescription(ctx context.Context, id string) (*Prescription, error)
	Result(ctx context.Context, id string) (*Result, error)
	ResultByPrescription(ctx context.Context, prescriptionID string) (*Result, error)
	Document(ctx context.Context, id string) (*Document, error)
	// PatientRecords lists the rows that refer to a patient (ErrNotFound
	// when the patient does not exist). The server's implementation locks
	// the patient against new references first, so that nothing can be
	// added to a patient that an act is about to merge away.
	PatientRecords(ctx context.Context, patientID string) (*PatientRecords, error)
}

// PatientRecords are the ids of the rows that refer to one patient, each
// list sorted.
type PatientRecords struct {
	Appointments  []string
	Prescriptions []string
	Documents     []string
}

// OpKind says whether an Op inserts a new row, patches an existing one or
// deletes one.
type OpKind string

const (
	OpInsert OpKind = "insert"
	OpUpdate OpKind = "update"
	// OpDelete removes the row named by ID; Values is empty. Only
	// patient.merge deletes, after moving everything that referred to the
	// row, so no storage's cascade can take anything with it.
	OpDelete OpKind = "delete"
)

// Op is one row change. Values maps the seed's column names (camelCase,
// exactly as in the schema) to values of these Go types only:
// nil (SQL NULL), string, bool, time.Time (UTC), json.RawMessage (JSONB),
// Decimal. Enum columns hold their string value. An insert lists every
// column it sets, "id" included; an update lists only the columns it changes
// ("updatedAt" included) and identifies the row by ID; a delete has no
// Values.
type Op struct {
	Kind   OpKind
	Table  string
	ID     string
	Values map[string]any
}

// Effect is what an accepted act does to the database.
type Effect struct {
	Ops []Op
}

// Decimal is a money amount as a canonical decimal string with exactly two
// decimals ("120.50"), the way DECIMAL(10,2) holds it.
type Decimal string
