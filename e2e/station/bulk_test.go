package station

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// hospital describes what loadHospital put in the database.
type hospital struct {
	appointments, patients, prescriptions int
	day                                   time.Time // the day counted as today (UTC midnight)
}

// loadHospital fills a seeded database with n appointments in bulk
// (INSERT … SELECT generate_series), as a hospital's history looks: most
// appointments closed in the past two years, some cancelled, today's in
// every state of the workflow, and the next weeks scheduled; n/100
// patients, n/10 prescriptions spread over the lab's states with the
// results of those analysed. Ids are UUIDs (md5 of a name), so acts can
// target these rows. The triggers record every row in the change feed, as
// for any writer.
func loadHospital(tb testing.TB, pool *pgxpool.Pool, n int) hospital {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	h := hospital{appointments: n, patients: max(n/100, 10), prescriptions: n / 10,
		day: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)}
	doctor, nurse, secretary, biologist := seedUser[doc], seedUser[nur], seedUser[sec], seedUser[bio]
	vitals := `{"weight":70,"height":170,"temperature":37.0,"bloodPressure":{"systolic":120,"diastolic":80},"heartRate":72}`
	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO patients (id, "firstName", "lastName", "birthDate", sex, phone, address, "consentMedicalData", "medicalHistory", "createdAt", "updatedAt")
		  SELECT md5('patient:' || g)::uuid::text, 'Prénom' || g, 'Nom' || (g % 997), TIMESTAMP '1940-01-01' + (g % 25000) * interval '1 day',
		         CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END, '+33 1 ' || lpad((g % 100000000)::text, 8, '0'), g || ' rue de la Santé', true,
		         '{"allergies":[]}'::jsonb, $2::timestamp - interval '800 days', $2::timestamp - interval '800 days'
		    FROM generate_series(1, $1) g`, []any{h.patients, h.day}},
		// k = g % 20: 0–11 closed (past), 12–13 cancelled (past), 14 consultation
		// completed, 15 in consultation, 16 checked in (today), 17–19 scheduled
		// (today and the next 29 days).
		{`INSERT INTO appointments (id, date, motif, status, "patientId", "doctorId", "createdAt", "updatedAt",
		         "checkedInAt", "vitalsEnteredAt", "vitalsEnteredBy", vitals, "medicalHistoryNotes",
		         "consultedAt", "consultedBy", "consultationNotes", "closedAt", "closedBy", "billingAmount", "billingStatus")
		  SELECT id, d, 'Motif ' || g, st::"AppointmentStatus", md5('patient:' || (1 + g % $2))::uuid::text, $4, d - interval '1 day', d + interval '1 hour',
		         CASE WHEN k <= 11 OR k BETWEEN 14 AND 16 THEN d - interval '10 minutes' END,
		         CASE WHEN k <= 11 OR k BETWEEN 14 AND 15 THEN d - interval '5 minutes' END,
		         CASE WHEN k <= 11 OR k BETWEEN 14 AND 15 THEN $5 END,
		         CASE WHEN k <= 11 OR k BETWEEN 14 AND 15 THEN $7::jsonb END,
		         CASE WHEN k <= 11 OR k BETWEEN 14 AND 15 THEN 'Antécédents ' || g END,
		         CASE WHEN k <= 11 OR k = 14 THEN d + interval '20 minutes' END,
		         CASE WHEN k <= 11 OR k = 14 THEN $4 END,
		         CASE WHEN k <= 11 OR k = 14 THEN 'Consultation ' || g || ' : examen clinique normal.' END,
		         CASE WHEN k <= 11 THEN d + interval '30 minutes' END,
		         CASE WHEN k <= 11 THEN $6 END,
		         CASE WHEN k <= 11 THEN 25 + (g % 100) END,
		         (CASE WHEN k > 11 THEN 'PENDING' WHEN g % 3 = 0 THEN 'PENDING' ELSE 'PAID' END)::"BillingStatus"
		    FROM (SELECT g, k, md5('appt:' || g)::uuid::text AS id,
		                 CASE WHEN k <= 11 THEN 'COMPLETED' WHEN k <= 13 THEN 'CANCELLED' WHEN k = 14 THEN 'CONSULTATION_COMPLETED'
		                      WHEN k = 15 THEN 'IN_CONSULTATION' WHEN k = 16 THEN 'CHECKED_IN' ELSE 'SCHEDULED' END AS st,
		                 CASE WHEN k <= 13 THEN $3::timestamp - (1 + (g / 20) % 700) * interval '1 day' + (480 + g % 600) * interval '1 minute'
		                      WHEN k <= 16 THEN $3::timestamp + (480 + g % 600) * interval '1 minute'
		                      ELSE $3::timestamp + ((g / 20) % 30) * interval '1 day' + (480 + g % 600) * interval '1 minute' END AS d
		            FROM (SELECT g, g % 20 AS k FROM generate_series(1, $1) g) s) a`,
			[]any{n, h.patients, h.day, doctor, nurse, secretary, vitals}},
		// j = g % 6 walks the lab's states: CREATED … COMPLETED.
		{`INSERT INTO prescriptions (id, text, status, "patientId", "doctorId", "createdAt", "updatedAt",
		         "nurseId", "sampleCollectedAt", "analysisStartedAt", "analysisCompletedAt")
		  SELECT md5('rx:' || g)::uuid::text, 'Bilan sanguin ' || g,
		         (ARRAY['CREATED','SENT_TO_LAB','SAMPLE_COLLECTED','IN_PROGRESS','RESULTS_AVAILABLE','COMPLETED'])[1 + g % 6]::"PrescriptionStatus",
		         md5('patient:' || (1 + g % $2))::uuid::text, $3, d, d + interval '2 hours',
		         CASE WHEN g % 6 >= 2 THEN $4 END,
		         CASE WHEN g % 6 >= 2 THEN d + interval '30 minutes' END,
		         CASE WHEN g % 6 >= 3 THEN d + interval '60 minutes' END,
		         CASE WHEN g % 6 >= 4 THEN d + interval '90 minutes' END
		    FROM (SELECT g, $5::timestamp - ((g / 6) % 700) * interval '1 day' + (g % 600) * interval '1 minute' AS d
		            FROM generate_series(1, $1) g) s`, []any{h.prescriptions, h.patients, doctor, nurse, h.day}},
		{`INSERT INTO results (id, data, text, "validatedBy", "validatedAt", "reviewedBy", "reviewedAt", interpretation, "prescriptionId", "createdAt", "updatedAt")
		  SELECT md5('result:' || p.id)::uuid::text, jsonb_build_object('Hb', 12 + (length(p.id) % 5)), 'Hb normale', $1, p."analysisCompletedAt",
		         CASE WHEN p.status = 'COMPLETED' THEN $2 END, CASE WHEN p.status = 'COMPLETED' THEN p."analysisCompletedAt" + interval '1 hour' END,
		         CASE WHEN p.status = 'COMPLETED' THEN 'Normal.' END, p.id, p."analysisCompletedAt", p."analysisCompletedAt"
		    FROM prescriptions p WHERE p.status IN ('RESULTS_AVAILABLE', 'COMPLETED') AND p.id LIKE '%-%-%'
		     AND p.text LIKE 'Bilan sanguin %'`, []any{biologist, doctor}},
	}
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s.q, s.args...); err != nil {
			tb.Fatalf("load: %v\n%s", err, s.q)
		}
	}
	if _, err := pool.Exec(ctx, `ANALYZE`); err != nil {
		tb.Fatal(err)
	}
	return h
}

// rowsVisible counts the rows a device serving every role receives.
func rowsVisible(tb testing.TB, pool *pgxpool.Pool) int64 {
	tb.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM patients) +
		(SELECT count(*) FROM appointments) + (SELECT count(*) FROM prescriptions) + (SELECT count(*) FROM results) +
		(SELECT count(*) FROM documents)`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
