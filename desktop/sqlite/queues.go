package sqlite

// The queues of each role's home screen.

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"time"

	"wardsync/workflow"
)

// queue is one list read from the replica: a filter and the order it is
// read in.
type queue struct{ where, orderBy string }

// homeQueue writes a workflow queue as this replica's filter, and says
// which arguments it takes: the day's bounds (today) and the reader's id
// (own), in that order. Which statuses and conditions make a queue is
// workflow's; only their SQL is written here.
func homeQueue(q workflow.Queue) (out queue, today, own bool) {
	alias := "a"
	if q.Table == workflow.TablePrescriptions {
		alias = "p"
	}
	col := func(name string) string { return alias + "." + quote(name) }
	where := col("status") + " = " + sqlString(q.Status)
	if q.Today {
		where += " AND " + col("date") + " >= ? AND " + col("date") + " < ?"
		today = true
	}
	if q.Unpaid {
		// Written as appointments_unpaid_idx's WHERE (migration 00007):
		// SQLite uses a partial index only when the query states its
		// condition.
		where += " AND (" + col("billingStatus") + " IS NULL OR " + col("billingStatus") + " <> " + sqlString(string(workflow.BillingPaid)) + ")"
	}
	if q.Own != "" {
		where += " AND " + col(q.Own) + " = ?"
		own = true
	}
	if q.Ahead {
		// The act already queued and waiting for this row takes it out of
		// the list: its author has done their part.
		where += ` AND NOT EXISTS (SELECT 1 FROM outbox o
		WHERE o.waitingFor IS NOT NULL AND o.name = ` + sqlString(q.Next) + ` AND json_extract(o.args, '$.id') = ` + col("id") + `)`
	}
	return queue{where, col(q.Since)}, today, own
}

// sqlString quotes a constant of the rule table as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

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
				*q.prescriptions, err = prescriptionList.scan(rows, err, limit)
			} else {
				*q.appointments, err = appointmentList.scan(rows, err, limit)
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

// dashboardQueues lists d.Role's queues (workflow.HomeQueues) in the
// order they are read. Both DashboardFor and DashboardSQL read it, so the
// benchmarks' baseline runs the very statements the dashboard runs.
func dashboardQueues(d *Dashboard, userID string, dayStart, dayEnd time.Time) []dashQueue {
	var out []dashQueue
	for _, wq := range workflow.HomeQueues(d.Role) {
		q, today, own := homeQueue(wq)
		dq := dashQueue{q: q}
		if today {
			dq.args = append(dq.args, FormatTime(dayStart), FormatTime(dayEnd))
		}
		if own {
			dq.args = append(dq.args, userID)
		}
		dq.appointments, dq.prescriptions = d.list(wq.Key)
		if dq.appointments == nil && dq.prescriptions == nil {
			panic("sqlite: the home screen has no list for workflow queue " + wq.Key)
		}
		out = append(out, dq)
	}
	return out
}

// list is the field of d that shows the queue named key: the list whose
// JSON name is the key, which is how the UI finds it too.
func (d *Dashboard) list(key string) (*[]AppointmentView, *[]PrescriptionView) {
	i, ok := dashboardLists()[key]
	if !ok {
		return nil, nil
	}
	switch p := reflect.ValueOf(d).Elem().Field(i).Addr().Interface().(type) {
	case *[]AppointmentView:
		return p, nil
	case *[]PrescriptionView:
		return nil, p
	}
	return nil, nil
}

// dashboardLists indexes Dashboard's fields by their JSON names.
var dashboardLists = sync.OnceValue(func() map[string]int {
	t := reflect.TypeFor[Dashboard]()
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out[name] = i
	}
	return out
})

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
