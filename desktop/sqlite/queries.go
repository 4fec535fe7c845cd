package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"wardsync/workflow"
)

// The queries below read the replica only, so they answer offline, and they
// show the acts still queued (the replica holds their effects).

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

// queue is one dashboard list: a filter and the order it is read in.
type queue struct{ where, orderBy string }

var (
	qToCheckIn = queue{`a."status" = 'SCHEDULED' AND a."date" >= ? AND a."date" < ?`, `a."date"`}
	qToClose   = queue{`a."status" = 'CONSULTATION_COMPLETED'`, `a."consultedAt"`}
	// The billing condition is written as appointments_unpaid_idx's WHERE
	// (migration 00007): SQLite uses a partial index only when the query
	// states its condition.
	qUnpaid    = queue{`a."status" = 'COMPLETED' AND (a."billingStatus" IS NULL OR a."billingStatus" <> 'PAID')`, `a."closedAt"`}
	qToPrepare = queue{`a."status" = 'CHECKED_IN'`, `a."checkedInAt"`}
	qExpected  = queue{`a."status" = 'SCHEDULED' AND a."date" >= ? AND a."date" < ? AND NOT EXISTS (SELECT 1 FROM outbox o
		WHERE o.waitingFor IS NOT NULL AND o.name = 'appointment.recordVitals' AND json_extract(o.args, '$.id') = a."id")`, `a."date"`}
	qConsultations = queue{`a."status" = 'IN_CONSULTATION' AND a."doctorId" = ?`, `a."vitalsEnteredAt"`}
	// sendToLab is the only act on a SENT_TO_LAB prescription, so
	// updatedAt is when it was sent.
	qToCollect  = queue{`p."status" = 'SENT_TO_LAB'`, `p."updatedAt"`}
	qToReview   = queue{`p."status" = 'RESULTS_AVAILABLE' AND p."doctorId" = ?`, `p."analysisCompletedAt"`}
	qSamples    = queue{`p."status" = 'SAMPLE_COLLECTED'`, `p."sampleCollectedAt"`}
	qInProgress = queue{`p."status" = 'IN_PROGRESS'`, `p."analysisStartedAt"`}
)

// DashboardFor reads the queues of role in one snapshot. userID is the
// doctor whose queues a DOCTOR sees; [dayStart, dayEnd) is "today". ADMIN
// gets reception's queues.
func (db *DB) DashboardFor(ctx context.Context, role workflow.Role, userID string, dayStart, dayEnd time.Time, limit int) (*Dashboard, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	d := &Dashboard{Role: role}
	queues := dashboardQueues(d, userID, dayStart, dayEnd)
	// Prepared (the DB's statement cache, db.go) before the transaction
	// starts: preparing takes another connection from the pool, better not
	// taken while this read holds one.
	for _, q := range queues {
		db.prepared(ctx, q.sql())
	}
	err := db.read(ctx, func(t *Tx) error {
		for _, q := range queues {
			rows, err := t.query(q.sql(), append(q.args, limit)...)
			if q.prescriptions != nil {
				*q.prescriptions, err = scanPrescriptions(rows, err, limit)
			} else {
				*q.appointments, err = scanAppointments(rows, err, limit)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// dashQueue is one list of a home screen: its query, the query's
// arguments (before the limit), and the list of d it fills (one of two).
type dashQueue struct {
	q             queue
	args          []any
	appointments  *[]AppointmentView
	prescriptions *[]PrescriptionView
}

// dashboardQueues lists d.Role's queues in the order they are read. Both
// DashboardFor and DashboardSQL read it, so the benchmarks' baseline runs
// the very statements the dashboard runs.
func dashboardQueues(d *Dashboard, userID string, dayStart, dayEnd time.Time) []dashQueue {
	today := func() []any { return []any{FormatTime(dayStart), FormatTime(dayEnd)} }
	switch d.Role {
	case workflow.RoleSecretary, workflow.RoleAdmin:
		return []dashQueue{
			{q: qToCheckIn, args: today(), appointments: &d.ToCheckIn},
			{q: qToClose, appointments: &d.ToClose},
			{q: qUnpaid, appointments: &d.Unpaid},
		}
	case workflow.RoleNurse:
		return []dashQueue{
			{q: qToPrepare, appointments: &d.ToPrepare},
			{q: qExpected, args: today(), appointments: &d.Expected},
			{q: qToCollect, prescriptions: &d.ToCollect},
		}
	case workflow.RoleDoctor:
		return []dashQueue{
			{q: qConsultations, args: []any{userID}, appointments: &d.Consultations},
			{q: qToReview, args: []any{userID}, prescriptions: &d.ToReview},
		}
	case workflow.RoleBiologist:
		return []dashQueue{
			{q: qSamples, prescriptions: &d.SamplesReceived},
			{q: qInProgress, prescriptions: &d.InProgress},
		}
	}
	return nil
}

func (q dashQueue) sql() string {
	if q.prescriptions != nil {
		return prescriptionQuery(q.q)
	}
	return appointmentQuery(q.q)
}

// Statement is one SQL statement with its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// DashboardSQL returns the statements DashboardFor runs for role, in
// order, exactly as it runs them. It exists for the benchmarks' baseline
// (bench/), which times the same SQL on a bare connection without this
// package's scanning.
func DashboardSQL(role workflow.Role, userID string, dayStart, dayEnd time.Time, limit int) []Statement {
	if limit <= 0 {
		limit = DefaultLimit
	}
	var out []Statement
	for _, q := range dashboardQueues(&Dashboard{Role: role}, userID, dayStart, dayEnd) {
		out = append(out, Statement{q.sql(), append(q.args, limit)})
	}
	return out
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

// storedText is a text column's value as appendWire rendered it (SQLite
// may hand back a number for a text column holding digits).
func storedText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("stored value of type %T", v)
}

// setText sets a NOT NULL string field; NULL leaves it empty, as decoding
// null into a string did.
func setText[S ~string](p *S, v any) error {
	if v == nil {
		return nil
	}
	s, err := storedText(v)
	*p = S(s)
	return err
}

func setNullText[S ~string](p **S, v any) error {
	if v == nil {
		return nil
	}
	s, err := storedText(v)
	x := S(s)
	*p = &x
	return err
}

// setTime parses a stored timestamp as decoding its wire form did
// (time.Time's UnmarshalJSON: RFC 3339).
func setTime(p *time.Time, v any) error {
	if v == nil {
		return nil
	}
	s, err := storedText(v)
	if err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("not a timestamp: %q", clip([]byte(s)))
	}
	*p = t
	return nil
}

func setNullTime(p **time.Time, v any) error {
	if v == nil {
		return nil
	}
	var t time.Time
	if err := setTime(&t, v); err != nil {
		return err
	}
	*p = &t
	return nil
}

// setJSON keeps a JSON column's text. NULL becomes the JSON literal null:
// that is what decoding the wire form's null into a json.RawMessage gave.
func setJSON(p *json.RawMessage, v any) error {
	if v == nil {
		*p = json.RawMessage("null")
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("stored JSON of type %T", v)
	}
	*p = json.RawMessage(s)
	return nil
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

func (t *Tx) appointments(q queue, limit int, args ...any) ([]AppointmentView, error) {
	rows, err := t.query(appointmentQuery(q), append(args, limit)...)
	return scanAppointments(rows, err, limit)
}

// scanAppointments reads the rows of an appointmentQuery (or the error
// that query returned) and closes them.
func scanAppointments(rows *sql.Rows, err error, limit int) ([]AppointmentView, error) {
	if err != nil {
		return nil, fmt.Errorf("sqlite: appointments: %w", err)
	}
	defer rows.Close()
	out := []AppointmentView{}
	if limit > 0 {
		out = make([]AppointmentView, 0, min(limit, DefaultLimit))
	}
	s := newViewScanner(appointmentColumns, 3)
	for rows.Next() {
		var v AppointmentView
		names, err := s.scan(rows, &v.Appointment)
		if err != nil {
			return nil, fmt.Errorf("sqlite: appointments: %w", err)
		}
		v.PatientFirstName, v.PatientLastName, v.DoctorName = names[0].String, names[1].String, names[2].String
		out = append(out, v)
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

func (t *Tx) prescriptions(q queue, limit int, args ...any) ([]PrescriptionView, error) {
	rows, err := t.query(prescriptionQuery(q), append(args, limit)...)
	return scanPrescriptions(rows, err, limit)
}

// scanPrescriptions reads the rows of a prescriptionQuery (or the error
// that query returned) and closes them.
func scanPrescriptions(rows *sql.Rows, err error, limit int) ([]PrescriptionView, error) {
	if err != nil {
		return nil, fmt.Errorf("sqlite: prescriptions: %w", err)
	}
	defer rows.Close()
	out := []PrescriptionView{}
	if limit > 0 {
		out = make([]PrescriptionView, 0, min(limit, DefaultLimit))
	}
	s := newViewScanner(prescriptionColumns, 6)
	for rows.Next() {
		var v PrescriptionView
		names, err := s.scan(rows, &v.Prescription)
		if err != nil {
			return nil, fmt.Errorf("sqlite: prescriptions: %w", err)
		}
		v.PatientFirstName, v.PatientLastName, v.DoctorName = names[0].String, names[1].String, names[2].String
		v.NurseName, v.ResultID = names[3].String, names[4].String
		v.ResultAbnormal = names[5].Valid && workflow.LabAbnormal(json.RawMessage(names[5].String))
		out = append(out, v)
	}
	return out, rows.Err()
}

// PatientQuery searches patients. Every word of Name must begin the first
// or the last name (ASCII letters in any case); BirthDate ("2006-01-02")
// must be the birth date. Either may be empty.
type PatientQuery struct {
	Name      string `json:"name"`
	BirthDate string `json:"birthDate"`
	Limit     int    `json:"limit"`
}

// SearchPatients finds patients, ordered by last name, first name.
func (db *DB) SearchPatients(ctx context.Context, q PatientQuery) ([]workflow.Patient, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	var conds []string
	var args []any
	for _, w := range strings.Fields(q.Name) {
		conds = append(conds, `("lastName" LIKE ? ESCAPE '\' OR "firstName" LIKE ? ESCAPE '\')`)
		p := likeEscape(w) + "%"
		args = append(args, p, p)
	}
	if q.BirthDate != "" {
		day, err := time.Parse(time.DateOnly, q.BirthDate)
		if err != nil {
			r := workflow.Reject(workflow.CodeValidationFailed, "Birth date %q is not a date such as 1980-05-12.", q.BirthDate)
			r.Field = "birthDate"
			return nil, r
		}
		conds = append(conds, `"birthDate" >= ? AND "birthDate" < ?`)
		args = append(args, FormatTime(day), FormatTime(day.AddDate(0, 0, 1)))
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	tbl := tables[workflow.TablePatients]
	out := []workflow.Patient{}
	err := db.read(ctx, func(t *Tx) error {
		rows, err := t.query(`SELECT `+tbl.colList+` FROM "patients" `+where+
			` ORDER BY "lastName", "firstName", "id" LIMIT ?`, append(args, q.Limit)...)
		if err != nil {
			return fmt.Errorf("sqlite: search patients: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			raw, err := scanWire(tbl, rows)
			if err != nil {
				return fmt.Errorf("sqlite: search patients: %w", err)
			}
			var p workflow.Patient
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("sqlite: search patients: %w", err)
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	return out, err
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

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
		p, err := readRow[workflow.Patient](t, workflow.TablePatients, patientID)
		if err != nil {
			return err
		}
		tl.Patient = *p
		apps, err := t.appointments(qPatientAppointments, -1, patientID)
		if err != nil {
			return err
		}
		for i := range apps {
			tl.Entries = append(tl.Entries, TimelineEntry{At: apps[i].Date, Kind: "appointment", Appointment: &apps[i]})
		}
		pres, err := t.prescriptions(qPatientPrescriptions, -1, patientID)
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
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", name, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		raw, err := scanWire(tbl, rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", name, err)
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", name, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Row returns one replicated row in wire form (nil when absent); tests and
// diagnostics use it.
func (db *DB) Row(ctx context.Context, table, id string) (json.RawMessage, error) {
	tbl, err := lookupTable(table)
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	err = db.read(ctx, func(t *Tx) error {
		out, err = t.rowJSON(tbl, id)
		return err
	})
	return out, err
}

// PutRows stores server rows directly, outside any page: seeding a test
// replica or importing a snapshot. Rows are in wire form, keyed by id.
func (db *DB) PutRows(ctx context.Context, table string, rows ...json.RawMessage) error {
	tbl, err := lookupTable(table)
	if err != nil {
		return err
	}
	return db.write(ctx, func(t *Tx) error {
		for _, r := range rows {
			var head struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(r, &head); err != nil || head.ID == "" {
				return fmt.Errorf("sqlite: row without id: %s", clip(r))
			}
			if err := t.putWire(tbl, head.ID, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// attachOutboxProvenance gives each timeline entry the queued acts on its
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

// LikelyDuplicates lists the replica's patients born on birthDate
// ("2006-01-02") whose first and last names fold (workflow.NormalizeName)
// to those given: reception's warning that the person may already be
// registered. The birth date index narrows the scan; the folding is done
// here because SQLite's NOCASE knows only ASCII.
func (db *DB) LikelyDuplicates(ctx context.Context, firstName, lastName, birthDate string) ([]workflow.Patient, error) {
	first, last := workflow.NormalizeName(firstName), workflow.NormalizeName(lastName)
	out := []workflow.Patient{}
	day, err := time.Parse(time.DateOnly, strings.TrimSpace(birthDate))
	if err != nil || first == "" || last == "" {
		return out, nil // nothing to compare yet: the form is still being typed
	}
	tbl := tables[workflow.TablePatients]
	err = db.read(ctx, func(t *Tx) error {
		rows, err := t.query(`SELECT `+tbl.colList+` FROM "patients" WHERE "birthDate" >= ? AND "birthDate" < ? ORDER BY "lastName", "firstName", "id"`,
			FormatTime(day), FormatTime(day.AddDate(0, 0, 1)))
		if err != nil {
			return fmt.Errorf("sqlite: likely duplicates: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			raw, err := scanWire(tbl, rows)
			if err != nil {
				return fmt.Errorf("sqlite: likely duplicates: %w", err)
			}
			var p workflow.Patient
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("sqlite: likely duplicates: %w", err)
			}
			if workflow.NormalizeName(p.FirstName) == first && workflow.NormalizeName(p.LastName) == last {
				out = append(out, p)
			}
		}
		return rows.Err()
	})
	return out, err
}
