package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

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

func scanUser(r pgx.Row) (string, any, error) {
	var u workflow.User
	err := r.Scan(&u.ID, &u.Name, &u.Email, &u.Password, &u.Role, &u.CreatedAt, &u.UpdatedAt)
	return u.ID, &u, err
}

func scanPatient(r pgx.Row) (string, any, error) {
	var p workflow.Patient
	err := r.Scan(&p.ID, &p.FirstName, &p.LastName, &p.BirthDate, &p.Sex, &p.Phone, &p.Address, &p.EmergencyContact,
		&p.Insurance, &p.IDNumber, &p.ConsentMedicalData, &p.ConsentContact, &p.MedicalHistory, &p.CreatedAt, &p.UpdatedAt)
	return p.ID, &p, err
}

func scanAppointment(r pgx.Row) (string, any, error) {
	var a workflow.Appointment
	err := r.Scan(&a.ID, &a.Date, &a.Motif, &a.Status, &a.Vitals, &a.MedicalHistoryNotes, &a.ConsultationNotes,
		&a.CheckedInAt, &a.VitalsEnteredAt, &a.ConsultedAt, &a.ClosedAt, &a.VitalsEnteredBy, &a.ConsultedBy, &a.ClosedBy,
		&a.BillingAmount, &a.BillingStatus, &a.CreatedAt, &a.UpdatedAt, &a.PatientID, &a.DoctorID)
	return a.ID, &a, err
}

func scanPrescription(r pgx.Row) (string, any, error) {
	var p workflow.Prescription
	err := r.Scan(&p.ID, &p.Text, &p.Status, &p.SampleCollectedAt, &p.AnalysisStartedAt, &p.AnalysisCompletedAt,
		&p.CreatedAt, &p.UpdatedAt, &p.PatientID, &p.DoctorID, &p.NurseID)
	return p.ID, &p, err
}

func scanResult(r pgx.Row) (string, any, error) {
	var x workflow.Result
	err := r.Scan(&x.ID, &x.Data, &x.Text, &x.ValidatedBy, &x.ValidatedAt, &x.ReviewedBy, &x.ReviewedAt,
		&x.Interpretation, &x.CreatedAt, &x.UpdatedAt, &x.PrescriptionID)
	return x.ID, &x, err
}

func scanDocument(r pgx.Row) (string, any, error) {
	var d workflow.Document
	err := r.Scan(&d.ID, &d.Name, &d.Type, &d.URL, &d.UploadedBy, &d.CreatedAt, &d.UpdatedAt, &d.PatientID)
	return d.ID, &d, err
}

// scanners scan a row of each table (its tableCols) into its workflow type,
// and say its id.
var scanners = map[string]func(pgx.Row) (id string, row any, err error){
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
	// st is the store whose acts the reads judge: the first read of an act
	// opens the act's savepoint (queryRow).
	st *pushStore
}

// queryRow sends one read of the mutator. The first of an act carries the
// act's savepoint in its round trip, so the rows it locks are locked by the
// subtransaction that writes them (WriteEffect, effect.go): locked by the
// push's transaction and written by a subtransaction of it, a row would
// need a MultiXact to name both, on every act of a push. The lone act of a
// push (pushStore.bare) has no savepoint to open.
func (r txReader) queryRow(ctx context.Context, q string, args ...any) pgx.Row {
	st := r.st
	if st == nil || st.open || st.bare {
		return r.tx.QueryRow(ctx, q, args...)
	}
	b := &pgx.Batch{}
	b.Queue(savepointAct)
	b.Queue(q, args...)
	st.open = true
	br := r.tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return errRow{err}
	}
	return batchRow{br: br, row: br.QueryRow()}
}

// batchRow is the read of a batch (queryRow's): scanned, it closes the
// batch.
type batchRow struct {
	br  pgx.BatchResults
	row pgx.Row
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// errRow is a read whose batch failed before it.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// readRow reads the row of table whose column where is arg, locked as lock;
// T is the workflow row type of table.
func readRow[T any](ctx context.Context, r txReader, table, where, lock, arg string) (*T, error) {
	if where == "id" && r.st != nil && r.st.written[rowKey{table, arg}] {
		// This transaction wrote the row: no other can change it before
		// the commit, and locking it again from another act's
		// subtransaction would need a MultiXact (the writer's lock stays
		// on the new version of the row).
		lock = lockNone
	}
	q := `SELECT ` + tableCols[table] + ` FROM ` + pgx.Identifier{table}.Sanitize() + ` WHERE ` + where + ` = $1` + lock
	_, v, err := scanners[table](r.queryRow(ctx, q, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, workflow.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", table, arg, err)
	}
	return v.(*T), nil
}

func (r txReader) User(ctx context.Context, id string) (*workflow.User, error) {
	return readRow[workflow.User](ctx, r, workflow.TableUsers, "id", lockNone, id)
}

func (r txReader) Patient(ctx context.Context, id string) (*workflow.Patient, error) {
	return readRow[workflow.Patient](ctx, r, workflow.TablePatients, "id", lockKeyShare, id)
}

func (r txReader) Appointment(ctx context.Context, id string) (*workflow.Appointment, error) {
	return readRow[workflow.Appointment](ctx, r, workflow.TableAppointments, "id", lockUpdate, id)
}

func (r txReader) Prescription(ctx context.Context, id string) (*workflow.Prescription, error) {
	return readRow[workflow.Prescription](ctx, r, workflow.TablePrescriptions, "id", lockUpdate, id)
}

func (r txReader) Result(ctx context.Context, id string) (*workflow.Result, error) {
	return readRow[workflow.Result](ctx, r, workflow.TableResults, "id", lockUpdate, id)
}

func (r txReader) ResultByPrescription(ctx context.Context, prescriptionID string) (*workflow.Result, error) {
	return readRow[workflow.Result](ctx, r, workflow.TableResults, `"prescriptionId"`, lockUpdate, prescriptionID)
}

func (r txReader) Document(ctx context.Context, id string) (*workflow.Document, error) {
	return readRow[workflow.Document](ctx, r, workflow.TableDocuments, "id", lockNone, id)
}

// PatientRecords locks the patient FOR UPDATE, which conflicts with the
// KEY SHARE lock a new appointment, prescription or document takes on its
// patient: once this returns, nothing can be added to the patient until the
// caller commits, and (READ COMMITTED) the list includes whatever was added
// by transactions that committed while we waited. patient.merge relies on
// it: a record added after the list would go with the loser's delete.
func (r txReader) PatientRecords(ctx context.Context, patientID string) (*workflow.PatientRecords, error) {
	var id string
	err := r.queryRow(ctx, `SELECT id FROM patients WHERE id = $1 FOR UPDATE`, patientID).Scan(&id)
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
