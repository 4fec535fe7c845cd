package postgres

// The workflow board's read model: counts per status, the waiting queues
// and the acts per hour of one day.

import (
	"context"
	"strings"
	"time"

	"wardsync/workflow"

	"github.com/jackc/pgx/v5"
)

// StatusCount is how many rows are in one status.
type StatusCount struct {
	Status string
	Total  int64 // all rows in that status
	Today  int64 // appointments dated today (prescriptions: same as Total)
}

// QueueHead is one workflow queue: the rows waiting for the next act, and
// the one waiting longest.
type QueueHead struct {
	Table         string
	Status        string
	Count         int64
	OldestID      string
	OldestSince   *time.Time
	OldestPatient string
}

// BoardData is the raw material of the workflow board for one day.
type BoardData struct {
	Appointments  []StatusCount
	Prescriptions []StatusCount
	Queues        []QueueHead
	// ActsByHour counts applied acts by name and hour since the day's start
	// (clinical time: occurredAt).
	ActsByHour map[string][]int64
}

// Board reads the workflow board for the day [dayStart, dayEnd): appointment
// and prescription counts per status, the waiting queues (today's
// appointments in an open status or awaiting payment; every open
// prescription) with their oldest item, and the applied acts per hour.
func (db *DB) Board(ctx context.Context, dayStart, dayEnd time.Time) (*BoardData, error) {
	// Seed timestamps are TIMESTAMP(3) holding UTC: compare in UTC.
	from, to := dayStart.UTC(), dayEnd.UTC()
	b := &BoardData{ActsByHour: map[string][]int64{}}
	err := db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		b.Appointments, b.Prescriptions, b.Queues = nil, nil, nil
		clear(b.ActsByHour)
		rows, err := tx.Query(ctx, `
			SELECT status::text, count(*), count(*) FILTER (WHERE date >= $1 AND date < $2)
			  FROM appointments GROUP BY 1`, from, to)
		if err != nil {
			return err
		}
		b.Appointments, err = scanCounts(rows)
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT status::text, count(*), count(*) FROM prescriptions GROUP BY 1`)
		if err != nil {
			return err
		}
		b.Prescriptions, err = scanCounts(rows)
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, boardQueuesSQL, from, to)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h QueueHead
			if err := rows.Scan(&h.Table, &h.Status, &h.Count, &h.OldestID, &h.OldestSince, &h.OldestPatient); err != nil {
				rows.Close()
				return err
			}
			b.Queues = append(b.Queues, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		hours := int(dayEnd.Sub(dayStart) / time.Hour)
		if hours <= 0 || hours > 25 {
			hours = 24
		}
		// An act is received at most MaxSkew before it occurred, so the
		// received_at index bounds the scan.
		rows, err = tx.Query(ctx, `
			SELECT name, floor(extract(epoch FROM occurred_at - $1::timestamptz) / 3600)::int, count(*)
			  FROM sync.mutations
			 WHERE outcome = 'applied' AND occurred_at >= $1 AND occurred_at < $2 AND received_at >= $3
			 GROUP BY 1, 2`, dayStart, dayEnd, dayStart.Add(-db.Config.MaxSkew-time.Minute))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var h int
			var n int64
			if err := rows.Scan(&name, &h, &n); err != nil {
				return err
			}
			if h < 0 || h >= hours {
				continue
			}
			if b.ActsByHour[name] == nil {
				b.ActsByHour[name] = make([]int64, hours)
			}
			b.ActsByHour[name][h] += n
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func scanCounts(rows pgx.Rows) ([]StatusCount, error) {
	return pgx.AppendRows([]StatusCount(nil), rows, pgx.RowToStructByPos[StatusCount])
}

// boardQueuesSQL reads the board's queues (workflow.BoardQueues) with the
// row waiting longest in each: today's appointments and every open
// prescription. Which statuses wait, since when and for what is
// workflow's; this writes it as one statement.
var boardQueuesSQL = boardQueuesQuery(workflow.BoardQueues())

func boardQueuesQuery(queues []workflow.Queue) string {
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	var since = map[string][]string{}
	var open = map[string][]string{}
	var unpaid []string
	for _, q := range queues {
		alias := "a"
		if q.Table == workflow.TablePrescriptions {
			alias = "p"
		}
		since[q.Table] = append(since[q.Table], "WHEN "+lit(q.Status)+" THEN "+alias+"."+pgx.Identifier{q.Since}.Sanitize())
		if q.Unpaid {
			unpaid = append(unpaid, "(a.status = "+lit(q.Status)+` AND a."billingStatus" IS DISTINCT FROM `+lit(string(workflow.BillingPaid))+")")
		} else {
			open[q.Table] = append(open[q.Table], lit(q.Status))
		}
	}
	apptWhere := append([]string{"a.status IN (" + strings.Join(open[workflow.TableAppointments], ", ") + ")"}, unpaid...)
	return `
			WITH q AS (
			  SELECT 'appointments' AS tbl, a.id, a.status::text AS status, a."patientId",
			         CASE a.status ` + strings.Join(since[workflow.TableAppointments], " ") + ` END AS since
			    FROM appointments a
			   WHERE a.date >= $1 AND a.date < $2
			     AND (` + strings.Join(apptWhere, " OR ") + `)
			  UNION ALL
			  SELECT 'prescriptions', p.id, p.status::text, p."patientId",
			         CASE p.status ` + strings.Join(since[workflow.TablePrescriptions], " ") + ` END
			    FROM prescriptions p WHERE p.status IN (` + strings.Join(open[workflow.TablePrescriptions], ", ") + `))
			SELECT DISTINCT ON (q.tbl, q.status) q.tbl, q.status, count(*) OVER (PARTITION BY q.tbl, q.status),
			       q.id, q.since, COALESCE(pt."firstName" || ' ' || pt."lastName", '')
			  FROM q LEFT JOIN patients pt ON pt.id = q."patientId"
			 ORDER BY q.tbl, q.status, q.since ASC NULLS LAST, q.id`
}
