package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
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
	err := db.read(ctx, func(t *Tx) error {
		var err error
		switch role {
		case workflow.RoleSecretary, workflow.RoleAdmin:
			if d.ToCheckIn, err = t.appointments(qToCheckIn, limit, FormatTime(dayStart), FormatTime(dayEnd)); err != nil {
				return err
			}
			if d.ToClose, err = t.appointments(qToClose, limit); err != nil {
				return err
			}
			d.Unpaid, err = t.appointments(qUnpaid, limit)
		case workflow.RoleNurse:
			if d.ToPrepare, err = t.appointments(qToPrepare, limit); err != nil {
				return err
			}
			if d.Expected, err = t.appointments(qExpected, limit, FormatTime(dayStart), FormatTime(dayEnd)); err != nil {
				return err
			}
			d.ToCollect, err = t.prescriptions(qToCollect, limit)
		case workflow.RoleDoctor:
			if d.Consultations, err = t.appointments(qConsultations, limit, userID); err != nil {
				return err
			}
			d.ToReview, err = t.prescriptions(qToReview, limit, userID)
		case workflow.RoleBiologist:
			if d.SamplesReceived, err = t.prescriptions(qSamples, limit); err != nil {
				return err
			}
			d.InProgress, err = t.prescriptions(qInProgress, limit)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Statement is one SQL statement with its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// DashboardSQL returns the statements DashboardFor runs for role, in
// order, exactly as it runs them. It exists for the benchmarks' baseline
// (bench/), which times the same SQL on a bare connection without this
// package's scanning and decoding.
func DashboardSQL(role workflow.Role, userID string, dayStart, dayEnd time.Time, limit int) []Statement {
	if limit <= 0 {
		limit = DefaultLimit
	}
	a := func(q queue, args ...any) Statement { return Statement{appointmentQuery(q), append(args, limit)} }
	p := func(q queue, args ...any) Statement { return Statement{prescriptionQuery(q), append(args, limit)} }
	switch role {
	case workflow.RoleSecretary, workflow.RoleAdmin:
		return []Statement{a(qToCheckIn, FormatTime(dayStart), FormatTime(dayEnd)), a(qToClose), a(qUnpaid)}
	case workflow.RoleNurse:
		return []Statement{a(qToPrepare), p(qToCollect)}
	case workflow.RoleDoctor:
		return []Statement{a(qConsultations, userID), p(qToReview, userID)}
	case workflow.RoleBiologist:
		return []Statement{p(qSamples), p(qInProgress)}
	}
	return nil
}

func aliased(tbl *table, alias string) string {
	cols := make([]string, len(tbl.columns))
	for i, c := range tbl.columns {
		cols[i] = alias + "." + quote(c)
	}
	return strings.Join(cols, ", ")
}

// scanWithExtras scans a row of tbl's columns followed by len(extras)
// text columns.
func scanWithExtras(tbl *table, rows *sql.Rows, extras []*sql.NullString) (json.RawMessage, error) {
	n := len(tbl.columns)
	vals := make([]any, n)
	ptrs := make([]any, n+len(extras))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for i, e := range extras {
		ptrs[n+i] = e
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	b := []byte{'{'}
	for i, c := range tbl.columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, c...)
		b = append(b, '"', ':')
		var err error
		if b, err = appendWire(b, tbl.kinds[c], vals[i]); err != nil {
			return nil, fmt.Errorf("column %s: %w", c, err)
		}
	}
	return append(b, '}'), nil
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
	tbl := tables[workflow.TableAppointments]
	rows, err := t.query(appointmentQuery(q), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: appointments: %w", err)
	}
	defer rows.Close()
	out := []AppointmentView{}
	for rows.Next() {
		var first, last, doctor sql.NullString
		raw, err := scanWithExtras(tbl, rows, []*sql.NullString{&first, &last, &doctor})
		if err != nil {
			return nil, fmt.Errorf("sqlite: appointments: %w", err)
		}
		v := AppointmentView{PatientFirstName: first.String, PatientLastName: last.String, DoctorName: doctor.String}
		if err := json.Unmarshal(raw, &v.Appointment); err != nil {
			return nil, fmt.Errorf("sqlite: appointments: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func prescriptionQuery(q queue) string {
	where, orderBy := q.where, q.orderBy
	return `SELECT ` + aliased(tables[workflow.TablePrescriptions], "p") + `, pa."firstName", pa."lastName", d."name", n."name",
			(SELECT r."id" FROM "results" r WHERE r."prescriptionId" = p."id" ORDER BY r."createdAt", r."id" LIMIT 1)
		FROM "prescriptions" p
		LEFT JOIN "patients" pa ON pa."id" = p."patientId"
		LEFT JOIN "users" d ON d."id" = p."doctorId"
		LEFT JOIN "users" n ON n."id" = p."nurseId"
		WHERE ` + where + ` ORDER BY ` + orderBy + `, p."id" LIMIT ?`
}

func (t *Tx) prescriptions(q queue, limit int, args ...any) ([]PrescriptionView, error) {
	tbl := tables[workflow.TablePrescriptions]
	rows, err := t.query(prescriptionQuery(q), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: prescriptions: %w", err)
	}
	defer rows.Close()
	out := []PrescriptionView{}
	for rows.Next() {
		var first, last, doctor, nurse, result sql.NullString
		raw, err := scanWithExtras(tbl, rows, []*sql.NullString{&first, &last, &doctor, &nurse, &result})
		if err != nil {
			return nil, fmt.Errorf("sqlite: prescriptions: %w", err)
		}
		v := PrescriptionView{PatientFirstName: first.String, PatientLastName: last.String, DoctorName: doctor.String,
			NurseName: nurse.String, ResultID: result.String}
		if err := json.Unmarshal(raw, &v.Prescription); err != nil {
			return nil, fmt.Errorf("sqlite: prescriptions: %w", err)
		}
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
