package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"wardsync/workflow"
)

// The queries below read the replica only, so they answer offline, and they
// show the acts still queued (the replica holds their effects).
//
// This file holds the views a list shows and the scanners that fill them.

// DefaultLimit is the seed's dashboard page size.
const DefaultLimit = 50

// AppointmentView is an appointment with the names a list shows.
type AppointmentView struct {
	workflow.Appointment
	PatientFirstName string `json:"patientFirstName"`
	PatientLastName  string `json:"patientLastName"`
	DoctorName       string `json:"doctorName"`
}

// PrescriptionView is a prescription with the names a list shows, and the
// id of its result when there is one (result.review takes it).
type PrescriptionView struct {
	workflow.Prescription
	PatientFirstName string `json:"patientFirstName"`
	PatientLastName  string `json:"patientLastName"`
	DoctorName       string `json:"doctorName"`
	NurseName        string `json:"nurseName"`
	ResultID         string `json:"resultId,omitempty"`
	// ResultAbnormal: the biologist flagged a measured value of the result
	// as abnormal (results.data rows, docs/clinical-data.md).
	ResultAbnormal bool `json:"resultAbnormal,omitempty"`
}

// Dashboard holds the queues of one role's home screen (the seed's
// "Dashboard Queries"); the lists of other roles stay empty.
type Dashboard struct {
	Role workflow.Role `json:"role"`
	// SECRETARY: today's SCHEDULED to check in (by date), consultations
	// completed to close (by consultedAt), closed visits not PAID (by closedAt).
	ToCheckIn []AppointmentView `json:"toCheckIn"`
	ToClose   []AppointmentView `json:"toClose"`
	Unpaid    []AppointmentView `json:"unpaid"`
	// NURSE: CHECKED_IN patients to prepare (by checkedInAt), prescriptions
	// SENT_TO_LAB to sample (by when they were sent).
	ToPrepare []AppointmentView  `json:"toPrepare"`
	ToCollect []PrescriptionView `json:"toCollect"`
	// NURSE: today's SCHEDULED (by date) without vitals waiting for them.
	// During an outage the patient may stand in the ward while the check-in
	// is still on reception's PC: vitals recorded then wait for it
	// (docs/deferred.md).
	Expected []AppointmentView `json:"expected"`
	// DOCTOR: this doctor's IN_CONSULTATION (by vitalsEnteredAt), this
	// doctor's prescriptions with RESULTS_AVAILABLE (by analysisCompletedAt).
	Consultations []AppointmentView  `json:"consultations"`
	ToReview      []PrescriptionView `json:"toReview"`
	// BIOLOGIST: SAMPLE_COLLECTED (by sampleCollectedAt), IN_PROGRESS (by
	// analysisStartedAt).
	SamplesReceived []PrescriptionView `json:"samplesReceived"`
	InProgress      []PrescriptionView `json:"inProgress"`
}

func aliased(tbl *table, alias string) string {
	cols := make([]string, len(tbl.columns))
	for i, c := range tbl.columns {
		cols[i] = alias + "." + quote(c)
	}
	return strings.Join(cols, ", ")
}

// A queue's rows are scanned straight into the view structs: going through
// the wire JSON (scanWire, then json.Unmarshal) was half of DashboardFor's
// CPU (docs/bench.md). Each column has a setter that converts its stored
// form (see migrations/sqlite/00001_replica.sql) exactly as the wire route
// decoded it; TestViewScanMatchesWire holds the two routes together on
// every column.

// viewColumn is one replicated column and how its stored value is set on
// a row of type T. The lists below follow the table's columns in order
// (workflow.Columns, which the SELECT lists): TestViewColumns checks it,
// and a list one column short would fail every scan, never drop a column
// silently.
type viewColumn[T any] struct {
	name string
	set  func(row *T, v any) error
}

var appointmentColumns = []viewColumn[workflow.Appointment]{
	{"id", func(a *workflow.Appointment, v any) error { return setText(&a.ID, v) }},
	{"date", func(a *workflow.Appointment, v any) error { return setTime(&a.Date, v) }},
	{"motif", func(a *workflow.Appointment, v any) error { return setText(&a.Motif, v) }},
	{"status", func(a *workflow.Appointment, v any) error { return setText(&a.Status, v) }},
	{"vitals", func(a *workflow.Appointment, v any) error { return setJSON(&a.Vitals, v) }},
	{"medicalHistoryNotes", func(a *workflow.Appointment, v any) error { return setNullText(&a.MedicalHistoryNotes, v) }},
	{"consultationNotes", func(a *workflow.Appointment, v any) error { return setNullText(&a.ConsultationNotes, v) }},
	{"checkedInAt", func(a *workflow.Appointment, v any) error { return setNullTime(&a.CheckedInAt, v) }},
	{"vitalsEnteredAt", func(a *workflow.Appointment, v any) error { return setNullTime(&a.VitalsEnteredAt, v) }},
	{"consultedAt", func(a *workflow.Appointment, v any) error { return setNullTime(&a.ConsultedAt, v) }},
	{"closedAt", func(a *workflow.Appointment, v any) error { return setNullTime(&a.ClosedAt, v) }},
	{"vitalsEnteredBy", func(a *workflow.Appointment, v any) error { return setNullText(&a.VitalsEnteredBy, v) }},
	{"consultedBy", func(a *workflow.Appointment, v any) error { return setNullText(&a.ConsultedBy, v) }},
	{"closedBy", func(a *workflow.Appointment, v any) error { return setNullText(&a.ClosedBy, v) }},
	{"billingAmount", func(a *workflow.Appointment, v any) error { return setNullText(&a.BillingAmount, v) }},
	{"billingStatus", func(a *workflow.Appointment, v any) error { return setNullText(&a.BillingStatus, v) }},
	{"createdAt", func(a *workflow.Appointment, v any) error { return setTime(&a.CreatedAt, v) }},
	{"updatedAt", func(a *workflow.Appointment, v any) error { return setTime(&a.UpdatedAt, v) }},
	{"patientId", func(a *workflow.Appointment, v any) error { return setText(&a.PatientID, v) }},
	{"doctorId", func(a *workflow.Appointment, v any) error { return setText(&a.DoctorID, v) }},
}

var prescriptionColumns = []viewColumn[workflow.Prescription]{
	{"id", func(p *workflow.Prescription, v any) error { return setText(&p.ID, v) }},
	{"text", func(p *workflow.Prescription, v any) error { return setText(&p.Text, v) }},
	{"status", func(p *workflow.Prescription, v any) error { return setText(&p.Status, v) }},
	{"sampleCollectedAt", func(p *workflow.Prescription, v any) error { return setNullTime(&p.SampleCollectedAt, v) }},
	{"analysisStartedAt", func(p *workflow.Prescription, v any) error { return setNullTime(&p.AnalysisStartedAt, v) }},
	{"analysisCompletedAt", func(p *workflow.Prescription, v any) error { return setNullTime(&p.AnalysisCompletedAt, v) }},
	{"createdAt", func(p *workflow.Prescription, v any) error { return setTime(&p.CreatedAt, v) }},
	{"updatedAt", func(p *workflow.Prescription, v any) error { return setTime(&p.UpdatedAt, v) }},
	{"patientId", func(p *workflow.Prescription, v any) error { return setText(&p.PatientID, v) }},
	{"doctorId", func(p *workflow.Prescription, v any) error { return setText(&p.DoctorID, v) }},
	{"nurseId", func(p *workflow.Prescription, v any) error { return setNullText(&p.NurseID, v) }},
}

// viewScanner scans the rows of one query: cols columns of a row of type
// T followed by extra text columns (names joined in). Its buffers are
// reused from row to row.
type viewScanner[T any] struct {
	cols   []viewColumn[T]
	vals   []any
	extras []sql.NullString
	ptrs   []any
}

func newViewScanner[T any](cols []viewColumn[T], extras int) *viewScanner[T] {
	s := &viewScanner[T]{cols: cols, vals: make([]any, len(cols)), extras: make([]sql.NullString, extras)}
	s.ptrs = make([]any, len(cols)+extras)
	for i := range s.vals {
		s.ptrs[i] = &s.vals[i]
	}
	for i := range s.extras {
		s.ptrs[len(cols)+i] = &s.extras[i]
	}
	return s
}

// scan reads the current row into row and returns the extra columns.
func (s *viewScanner[T]) scan(rows *sql.Rows, row *T) ([]sql.NullString, error) {
	if err := rows.Scan(s.ptrs...); err != nil {
		return nil, err
	}
	for i, c := range s.cols {
		if err := c.set(row, s.vals[i]); err != nil {
			return nil, fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return s.extras, nil
}

func appointmentQuery(q queue) string {
	where, orderBy := q.where, q.orderBy
	return `SELECT ` + aliased(tables[workflow.TableAppointments], "a") + `, p."firstName", p."lastName", u."name"
		FROM "appointments" a
		LEFT JOIN "patients" p ON p."id" = a."patientId"
		LEFT JOIN "users" u ON u."id" = a."doctorId"
		WHERE ` + where + ` ORDER BY ` + orderBy + `, a."id" LIMIT ?`
}

// appointmentList reads appointments with the names a list shows.
var appointmentList = viewList[workflow.Appointment, AppointmentView]{what: "appointments", query: appointmentQuery, cols: appointmentColumns, extras: 3,
	view: func(a workflow.Appointment, names []sql.NullString) AppointmentView {
		return AppointmentView{Appointment: a, PatientFirstName: names[0].String, PatientLastName: names[1].String, DoctorName: names[2].String}
	}}

// viewList is how one kind of list row is read: its query for a queue,
// the columns of its row, and the view made of a row and the extra
// columns that follow them (names joined in). what names the rows in
// errors.
type viewList[T, V any] struct {
	what   string
	query  func(queue) string
	cols   []viewColumn[T]
	extras int
	view   func(T, []sql.NullString) V
}

// list runs the query for q, with args and at most limit rows (-1: all).
func (l viewList[T, V]) list(t *Tx, q queue, limit int, args ...any) ([]V, error) {
	rows, err := t.query(l.query(q), append(args, limit)...)
	return l.scan(rows, err, limit)
}

// scan reads the rows of the list's query (or the error that query
// returned) and closes them.
func (l viewList[T, V]) scan(rows *sql.Rows, err error, limit int) ([]V, error) {
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", l.what, err)
	}
	defer rows.Close()
	out := []V{}
	if limit > 0 {
		out = make([]V, 0, min(limit, DefaultLimit))
	}
	s := newViewScanner(l.cols, l.extras)
	for rows.Next() {
		var row T
		names, err := s.scan(rows, &row)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", l.what, err)
		}
		out = append(out, l.view(row, names))
	}
	return out, rows.Err()
}

func prescriptionQuery(q queue) string {
	where, orderBy := q.where, q.orderBy
	return `SELECT ` + aliased(tables[workflow.TablePrescriptions], "p") + `, pa."firstName", pa."lastName", d."name", n."name",
			(SELECT r."id" FROM "results" r WHERE r."prescriptionId" = p."id" ORDER BY r."createdAt", r."id" LIMIT 1),
			(SELECT r."data" FROM "results" r WHERE r."prescriptionId" = p."id" ORDER BY r."createdAt", r."id" LIMIT 1)
		FROM "prescriptions" p
		LEFT JOIN "patients" pa ON pa."id" = p."patientId"
		LEFT JOIN "users" d ON d."id" = p."doctorId"
		LEFT JOIN "users" n ON n."id" = p."nurseId"
		WHERE ` + where + ` ORDER BY ` + orderBy + `, p."id" LIMIT ?`
}

// prescriptionList reads prescriptions with the names a list shows and
// their result's id and flag.
var prescriptionList = viewList[workflow.Prescription, PrescriptionView]{what: "prescriptions", query: prescriptionQuery, cols: prescriptionColumns, extras: 6,
	view: func(p workflow.Prescription, names []sql.NullString) PrescriptionView {
		return PrescriptionView{Prescription: p, PatientFirstName: names[0].String, PatientLastName: names[1].String, DoctorName: names[2].String,
			NurseName: names[3].String, ResultID: names[4].String,
			ResultAbnormal: names[5].Valid && workflow.LabAbnormal(json.RawMessage(names[5].String))}
	}}

// PatientQuery searches patients. Every word of Name must begin the first
// or the last name (ASCII letters in any case); BirthDate ("2006-01-02")
