package sqlite

// The queues of each role's home screen.

import (
	"context"
	"time"

	"wardsync/workflow"
)

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
