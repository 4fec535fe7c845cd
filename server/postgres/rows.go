package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"wardsync/workflow"
)

// Column lists per table, cast so that enums and decimals scan as text.
const (
	userCols         = `id, name, email, password, role::text, "createdAt", "updatedAt"`
	patientCols      = `id, "firstName", "lastName", "birthDate", sex, phone, address, "emergencyContact", insurance, "idNumber", "consentMedicalData", "consentContact", "medicalHistory", "createdAt", "updatedAt"`
	appointmentCols  = `id, date, motif, status::text, vitals, "medicalHistoryNotes", "consultationNotes", "checkedInAt", "vitalsEnteredAt", "consultedAt", "closedAt", "vitalsEnteredBy", "consultedBy", "closedBy", "billingAmount"::text, "billingStatus"::text, "createdAt", "updatedAt", "patientId", "doctorId"`
	prescriptionCols = `id, text, status::text, "sampleCollectedAt", "analysisStartedAt", "analysisCompletedAt", "createdAt", "updatedAt", "patientId", "doctorId", "nurseId"`
	resultCols       = `id, data, text, "validatedBy", "validatedAt", "reviewedBy", "reviewedAt", interpretation, "createdAt", "updatedAt", "prescriptionId"`
	documentCols     = `id, name, type, url, "uploadedBy", "createdAt", "updatedAt", "patientId"`
)

var tableCols = map[string]string{
	workflow.TableUsers:         userCols,
	workflow.TablePatients:      patientCols,
	workflow.TableAppointments:  appointmentCols,
	workflow.TablePrescriptions: prescriptionCols,
	workflow.TableResults:       resultCols,
	workflow.TableDocuments:     documentCols,
}

func scanUser(r pgx.Row) (any, error) {
	var u workflow.User
	err := r.Scan(&u.ID, &u.Name, &u.Email, &u.Password, &u.Role, &u.CreatedAt, &u.UpdatedAt)
	return &u, err
}

func scanPatient(r pgx.Row) (any, error) {
	var p workflow.Patient
	err := r.Scan(&p.ID, &p.FirstName, &p.LastName, &p.BirthDate, &p.Sex, &p.Phone, &p.Address, &p.EmergencyContact,
		&p.Insurance, &p.IDNumber, &p.ConsentMedicalData, &p.ConsentContact, &p.MedicalHistory, &p.CreatedAt, &p.UpdatedAt)
	return &p, err
}

func scanAppointment(r pgx.Row) (any, error) {
	var a workflow.Appointment
	err := r.Scan(&a.ID, &a.Date, &a.Motif, &a.Status, &a.Vitals, &a.MedicalHistoryNotes, &a.ConsultationNotes,
		&a.CheckedInAt, &a.VitalsEnteredAt, &a.ConsultedAt, &a.ClosedAt, &a.VitalsEnteredBy, &a.ConsultedBy, &a.ClosedBy,
		&a.BillingAmount, &a.BillingStatus, &a.CreatedAt, &a.UpdatedAt, &a.PatientID, &a.DoctorID)
	return &a, err
}

func scanPrescription(r pgx.Row) (any, error) {
	var p workflow.Prescription
	err := r.Scan(&p.ID, &p.Text, &p.Status, &p.SampleCollectedAt, &p.AnalysisStartedAt, &p.AnalysisCompletedAt,
		&p.CreatedAt, &p.UpdatedAt, &p.PatientID, &p.DoctorID, &p.NurseID)
	return &p, err
}

func scanResult(r pgx.Row) (any, error) {
	var x workflow.Result
	err := r.Scan(&x.ID, &x.Data, &x.Text, &x.ValidatedBy, &x.ValidatedAt, &x.ReviewedBy, &x.ReviewedAt,
		&x.Interpretation, &x.CreatedAt, &x.UpdatedAt, &x.PrescriptionID)
	return &x, err
}

func scanDocument(r pgx.Row) (any, error) {
	var d workflow.Document
	err := r.Scan(&d.ID, &d.Name, &d.Type, &d.URL, &d.UploadedBy, &d.CreatedAt, &d.UpdatedAt, &d.PatientID)
	return &d, err
}

var scanners = map[string]func(pgx.Row) (any, error){
	workflow.TableUsers:         scanUser,
	workflow.TablePatients:      scanPatient,
	workflow.TableAppointments:  scanAppointment,
	workflow.TablePrescriptions: scanPrescription,
	workflow.TableResults:       scanResult,
	workflow.TableDocuments:     scanDocument,
}

// How a push transaction locks what the workflow reads. The rows whose
// state a workflow step depends on and changes (appointments,
// prescriptions, results) are locked FOR UPDATE so that two devices racing
// on one appointment serialise and the loser sees the winner's state.
// Patients are only referred to (schedule, prescribe, attach) or patched
// field by field (patient.update, whose outcome does not depend on the
// row's state), so FOR KEY SHARE is enough: it keeps the patient from being
// deleted under us without serialising every act on that patient. Users
// and documents are read plain.
const (
	lockNone     = ""
	lockUpdate   = ` FOR UPDATE`
	lockKeyShare = ` FOR KEY SHARE`
)

// txReader is the workflow.Reader of one push transaction, locking as above.
type txReader struct {
	tx pgx.Tx
}

func (r txReader) one(ctx context.Context, table, where, lock, arg string) (any, error) {
	q := `SELECT ` + tableCols[table] + ` FROM ` + pgx.Identifier{table}.Sanitize() + ` WHERE ` + where + ` = $1` + lock
	v, err := scanners[table](r.tx.QueryRow(ctx, q, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, workflow.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", table, arg, err)
	}
	return v, nil
}

func (r txReader) User(ctx context.Context, id string) (*workflow.User, error) {
	v, err := r.one(ctx, workflow.TableUsers, "id", lockNone, id)
	if err != nil {
		return nil, err
	}
	return v.(*workflow.User), nil
}

func (r txReader) Patient(ctx context.Context, id string) (*workflow.Patient, error) {
	v, err := r.one(ctx, workflow.TablePatients, "id", lockKeyShare, id)
	if err != nil {
		return nil, err
	}
	return v.(*workflow.Patient), nil
}

func (r txReader) Appointment(ctx context.Context, id string) (*workflow.Appointment, error) {
	v, err := r.one(ctx, workflow.TableAppointments, "id", lockUpdate, id)
	if err != nil {
		return nil, err
	}
	return v.(*workflow.Appointment), nil
}

func (r txReader) Prescription(ctx context.Context, id string) (*workflow.Prescription, error) {
	v, err := r.one(ctx, workflow.TablePrescriptions, "id", lockUpdate, id)
	if err != nil {
		return nil, err
	}
	return v.(*workflow.Prescription), nil
}

func (r txReader) Result(ctx context.Context, id string) (*workflow.Result, error) {
	v, err := r.one(ctx, workflow.TableResults, "id", lockUpdate, id)
	if err != nil {
		return nil, err
	}
	return v.(*workflow.Result), nil
}

func (r txReader) ResultByPrescription(ctx context.Context, prescriptionID string) (*workflow.Result, error) {
	v, err := r.one(ctx, workflow.TableResults, `"prescriptionId"`, lockUpdate, prescriptionID)
	if err != nil {
		return nil, err
	}
	return v.(*workflow.Result), nil
}

func (r txReader) Document(ctx context.Context, id string) (*workflow.Document, error) {
	v, err := r.one(ctx, workflow.TableDocuments, "id", lockNone, id)
	if err != nil {
		return nil, err
	}
	return v.(*workflow.Document), nil
}

// PatientRecords locks the patient FOR UPDATE, which conflicts with the
// KEY SHARE lock a new appointment, prescription or document takes on its
// patient: once this returns, nothing can be added to the patient until the
// caller commits, and (READ COMMITTED) the list includes whatever was added
// by transactions that committed while we waited. patient.merge relies on
// it: a record added after the list would go with the loser's delete.
func (r txReader) PatientRecords(ctx context.Context, patientID string) (*workflow.PatientRecords, error) {
	var id string
	err := r.tx.QueryRow(ctx, `SELECT id FROM patients WHERE id = $1 FOR UPDATE`, patientID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, workflow.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("lock patient %s: %w", patientID, err)
	}
	out := &workflow.PatientRecords{}
	err = r.tx.QueryRow(ctx, `SELECT
		ARRAY(SELECT id FROM appointments WHERE "patientId" = $1 ORDER BY id),
		ARRAY(SELECT id FROM prescriptions WHERE "patientId" = $1 ORDER BY id),
		ARRAY(SELECT id FROM documents WHERE "patientId" = $1 ORDER BY id)`, patientID).
		Scan(&out.Appointments, &out.Prescriptions, &out.Documents)
	if err != nil {
		return nil, fmt.Errorf("records of patient %s: %w", patientID, err)
	}
	return out, nil
}

// enumType names the PostgreSQL enum behind a column, so a string value is
// cast explicitly rather than left to inference.
var enumType = map[string]string{
	"users.role":                 `"Role"`,
	"appointments.status":        `"AppointmentStatus"`,
	"appointments.billingStatus": `"BillingStatus"`,
	"prescriptions.status":       `"PrescriptionStatus"`,
}

func sqlValue(table, col string, v any) (any, string) {
	cast := ""
	if t, ok := enumType[table+"."+col]; ok {
		cast = "::" + t
	}
	switch x := v.(type) {
	case workflow.Decimal:
		return string(x), "::numeric"
	case time.Time:
		// TIMESTAMP(3) holds UTC wall time.
		return x.UTC(), cast
	case json.RawMessage:
		if x == nil {
			return nil, "::jsonb"
		}
		return string(x), "::jsonb"
	}
	return v, cast
}

// writeOp applies one workflow Op with the columns it names; Op values are
// restricted by the workflow to nil, string, bool, time.Time,
// json.RawMessage and Decimal.
func writeOp(ctx context.Context, tx pgx.Tx, op workflow.Op) error {
	q, args, err := opSQL(op)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return err
	}
	return checkOpTag(op, tag)
}

// checkOpTag refuses an update or delete that found no row: another writer
// removed it after the mutator read it.
func checkOpTag(op workflow.Op, tag pgconn.CommandTag) error {
	if op.Kind != workflow.OpInsert && tag.RowsAffected() != 1 {
		return workflow.Reject(workflow.CodeNotFound, "The %s %s no longer exists.", strings.TrimSuffix(op.Table, "s"), op.ID)
	}
	return nil
}

// opSQL is the statement and arguments that write op (writeOp, or a batch).
func opSQL(op workflow.Op) (string, []any, error) {
	if _, ok := tableCols[op.Table]; !ok {
		return "", nil, fmt.Errorf("effect names unknown table %q", op.Table)
	}
	if op.Kind == workflow.OpDelete {
		return `DELETE FROM ` + pgx.Identifier{op.Table}.Sanitize() + ` WHERE id = $1`, []any{op.ID}, nil
	}
	cols := make([]string, 0, len(op.Values))
	for c := range op.Values {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	args := make([]any, 0, len(cols)+1)
	var q strings.Builder
	switch op.Kind {
	case workflow.OpInsert:
		q.WriteString(`INSERT INTO ` + pgx.Identifier{op.Table}.Sanitize() + ` (`)
		var vals strings.Builder
		for i, c := range cols {
			if i > 0 {
				q.WriteString(", ")
				vals.WriteString(", ")
			}
			v, cast := sqlValue(op.Table, c, op.Values[c])
			args = append(args, v)
			q.WriteString(pgx.Identifier{c}.Sanitize())
			fmt.Fprintf(&vals, "$%d%s", len(args), cast)
		}
		q.WriteString(`) VALUES (` + vals.String() + `)`)
	case workflow.OpUpdate:
		q.WriteString(`UPDATE ` + pgx.Identifier{op.Table}.Sanitize() + ` SET `)
		for i, c := range cols {
			if i > 0 {
				q.WriteString(", ")
			}
			v, cast := sqlValue(op.Table, c, op.Values[c])
			args = append(args, v)
			fmt.Fprintf(&q, "%s = $%d%s", pgx.Identifier{c}.Sanitize(), len(args), cast)
		}
		args = append(args, op.ID)
		fmt.Fprintf(&q, " WHERE id = $%d", len(args))
	default:
		return "", nil, fmt.Errorf("effect has unknown op kind %q", op.Kind)
	}
	return q.String(), args, nil
}
