package soak

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/google/uuid"

	"wardsync/workflow"
)

// view is what a workstation's replica shows the driver: enough to pick a
// next step the workflow allows from here.
type view struct {
	patients      []string
	doctors       []string
	appointments  []row // id, status, billingStatus
	prescriptions []row // id, status
	results       []row // id, prescriptionId (status: reviewed or not)
}

type row struct{ id, status, extra string }

func readView(ctx context.Context, db *sql.DB) (*view, error) {
	v := &view{}
	q := func(query string, scan func(*sql.Rows) error) error {
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	ids := func(dst *[]string) func(*sql.Rows) error {
		return func(r *sql.Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			*dst = append(*dst, id)
			return nil
		}
	}
	rowsOf := func(dst *[]row) func(*sql.Rows) error {
		return func(r *sql.Rows) error {
			var x row
			var st, ex sql.NullString
			if err := r.Scan(&x.id, &st, &ex); err != nil {
				return err
			}
			x.status, x.extra = st.String, ex.String
			*dst = append(*dst, x)
			return nil
		}
	}
	for _, s := range []struct {
		q    string
		scan func(*sql.Rows) error
	}{
		{`SELECT "id" FROM "patients" ORDER BY "id"`, ids(&v.patients)},
		{`SELECT "id" FROM "users" WHERE "role" = 'DOCTOR' ORDER BY "id"`, ids(&v.doctors)},
		{`SELECT "id", "status", "billingStatus" FROM "appointments" ORDER BY "id"`, rowsOf(&v.appointments)},
		{`SELECT "id", "status", NULL FROM "prescriptions" ORDER BY "id"`, rowsOf(&v.prescriptions)},
		{`SELECT "id", CASE WHEN "reviewedAt" IS NULL THEN 'open' ELSE 'reviewed' END, "prescriptionId" FROM "results" ORDER BY "id"`, rowsOf(&v.results)},
	} {
		if err := q(s.q, s.scan); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// plan is one act the driver intends.
type plan struct {
	name string
	role workflow.Role
	args map[string]any
}

// driver picks random but legal acts for one workstation.
type driver struct {
	rng   *rand.Rand
	roles []workflow.Role
	n     int // acts planned so far, for readable names
	tag   string
}

func (d *driver) serves(r workflow.Role) bool {
	for _, x := range d.roles {
		if x == r {
			return true
		}
	}
	return false
}

// roleFor picks one of the device's roles that may perform name.
func (d *driver) roleFor(name string) (workflow.Role, bool) {
	var ok []workflow.Role
	for _, r := range workflow.AllowedRoles(name) {
		if d.serves(r) {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		return "", false
	}
	return ok[d.rng.IntN(len(ok))], true
}

// target picks a row among candidates. Most of the time it is one of the
// first two in id order, which every workstation of the ward sees first
// too: they end up acting on the same appointments and prescriptions, and
// some of them lose.
func (d *driver) target(rows []row) row {
	if d.rng.IntN(10) < 6 {
		return rows[d.rng.IntN(min(2, len(rows)))]
	}
	return rows[d.rng.IntN(len(rows))]
}

func withStatus(rows []row, statuses ...string) []row {
	var out []row
	for _, r := range rows {
		for _, s := range statuses {
			if r.status == s {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func (d *driver) pick(v *view, now time.Time) (plan, bool) {
	type option struct {
		weight int
		make   func() (plan, bool)
	}
	d.n++
	n := d.n
	var opts []option
	add := func(weight int, name string, ok bool, args func(workflow.Role) map[string]any) {
		if !ok {
			return
		}
		role, served := d.roleFor(name)
		if !served {
			return
		}
		opts = append(opts, option{weight, func() (plan, bool) { return plan{name, role, args(role)}, true }})
	}
	appt := func(statuses ...string) []row { return withStatus(v.appointments, statuses...) }
	rx := func(statuses ...string) []row { return withStatus(v.prescriptions, statuses...) }
	idOf := func(rows []row) func(workflow.Role) map[string]any {
		return func(workflow.Role) map[string]any { return map[string]any{"id": d.target(rows).id} }
	}

	add(2, "patient.register", len(v.patients) < 40, func(workflow.Role) map[string]any {
		a := map[string]any{"id": uuid.NewString(), "firstName": "Soak", "lastName": fmt.Sprintf("%s-%d", d.tag, n),
			"birthDate": time.Date(1940+d.rng.IntN(80), time.Month(1+d.rng.IntN(12)), 1+d.rng.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.RFC3339)}
		if d.rng.IntN(2) == 0 {
			a["phone"] = fmt.Sprintf("06%08d", d.rng.IntN(100_000_000))
		}
		return a
	})
	add(4, "appointment.schedule", len(v.patients) > 0 && len(v.doctors) > 0 && len(appt("SCHEDULED", "CHECKED_IN")) < 12, func(workflow.Role) map[string]any {
		return map[string]any{"id": uuid.NewString(), "patientId": v.patients[d.rng.IntN(len(v.patients))],
			"doctorId": v.doctors[d.rng.IntN(len(v.doctors))], "date": now.Add(time.Duration(d.rng.IntN(72)) * time.Hour).Format(time.RFC3339),
			"motif": fmt.Sprintf("Soak visit %s-%d", d.tag, n)}
	})
	if rows := appt("SCHEDULED"); len(rows) > 0 {
		add(6, "appointment.checkIn", true, idOf(rows))
	}
	if rows := appt("SCHEDULED", "CHECKED_IN"); len(rows) > 0 {
		add(1, "appointment.cancel", true, idOf(rows))
	}
	if rows := appt("CHECKED_IN"); len(rows) > 0 {
		add(6, "appointment.recordVitals", true, func(workflow.Role) map[string]any {
			a := map[string]any{"id": d.target(rows).id, "vitals": map[string]any{
				"weight": 45 + d.rng.IntN(60), "height": 150 + d.rng.IntN(45), "temperature": 36 + float64(d.rng.IntN(35))/10,
				"bloodPressure": map[string]any{"systolic": 100 + d.rng.IntN(50), "diastolic": 60 + d.rng.IntN(30)}, "heartRate": 55 + d.rng.IntN(50)}}
			if d.rng.IntN(2) == 0 {
				a["medicalHistoryNotes"] = fmt.Sprintf("Noted by %s-%d", d.tag, n)
			}
			return a
		})
	}
	if rows := appt("IN_CONSULTATION"); len(rows) > 0 {
		add(6, "appointment.completeConsultation", true, func(workflow.Role) map[string]any {
			return map[string]any{"id": d.target(rows).id, "consultationNotes": fmt.Sprintf("Examined by %s-%d.", d.tag, n)}
		})
	}
	if rows := appt("CONSULTATION_COMPLETED"); len(rows) > 0 {
		add(6, "appointment.close", true, func(workflow.Role) map[string]any {
			return map[string]any{"id": d.target(rows).id, "billingAmount": fmt.Sprintf("%d.%02d", d.rng.IntN(500), d.rng.IntN(100)),
				"billingStatus": []string{"PENDING", "PARTIALLY_PAID", "PAID"}[d.rng.IntN(3)]}
		})
	}
	var payable []row
	for _, r := range appt("COMPLETED") {
		if r.extra == "PENDING" || r.extra == "PARTIALLY_PAID" {
			payable = append(payable, r)
		}
	}
	if len(payable) > 0 {
		add(3, "appointment.recordPayment", true, func(workflow.Role) map[string]any {
			r := d.target(payable)
			next := "PAID"
			if r.extra == "PENDING" && d.rng.IntN(2) == 0 {
				next = "PARTIALLY_PAID"
			}
			return map[string]any{"id": r.id, "billingStatus": next}
		})
	}
	add(2, "prescription.create", len(v.patients) > 0 && len(rx("CREATED", "SENT_TO_LAB")) < 8, func(workflow.Role) map[string]any {
		return map[string]any{"id": uuid.NewString(), "patientId": v.patients[d.rng.IntN(len(v.patients))], "text": fmt.Sprintf("NFS %s-%d", d.tag, n)}
	})
	if rows := rx("CREATED"); len(rows) > 0 {
		add(5, "prescription.sendToLab", true, idOf(rows))
	}
	if rows := rx("SENT_TO_LAB"); len(rows) > 0 {
		add(5, "prescription.collectSample", true, idOf(rows))
	}
	if rows := rx("SAMPLE_COLLECTED"); len(rows) > 0 {
		add(5, "prescription.startAnalysis", true, idOf(rows))
	}
	resultOf := map[string]row{}
	for _, r := range v.results {
		resultOf[r.extra] = r
	}
	var analysing []row
	for _, r := range rx("IN_PROGRESS") {
		if _, has := resultOf[r.id]; !has {
			analysing = append(analysing, r)
		}
	}
	if len(analysing) > 0 {
		add(5, "result.create", true, func(workflow.Role) map[string]any {
			a := map[string]any{"id": uuid.NewString(), "prescriptionId": d.target(analysing).id, "text": fmt.Sprintf("Hb normal (%s-%d)", d.tag, n)}
			if d.rng.IntN(2) == 0 {
				a["data"] = map[string]any{"hb": 12 + float64(d.rng.IntN(40))/10, "by": d.tag}
			}
			return a
		})
	}
	var reviewable []row
	for _, p := range rx("RESULTS_AVAILABLE") {
		if r, ok := resultOf[p.id]; ok && r.status == "open" {
			reviewable = append(reviewable, r)
		}
	}
	if len(reviewable) > 0 {
		add(5, "result.review", true, func(workflow.Role) map[string]any {
			return map[string]any{"id": d.target(reviewable).id, "interpretation": fmt.Sprintf("Reviewed by %s-%d.", d.tag, n)}
		})
	}
	if len(v.patients) > 0 {
		pt := func() string {
			sorted := append([]string(nil), v.patients...)
			sort.Strings(sorted)
			if d.rng.IntN(2) == 0 {
				return sorted[0]
			}
			return sorted[d.rng.IntN(len(sorted))]
		}
		add(2, "patient.update", true, func(role workflow.Role) map[string]any {
			if role == workflow.RoleNurse || role == workflow.RoleDoctor {
				return map[string]any{"id": pt(), "medicalHistory": map[string]any{"note": fmt.Sprintf("%s-%d", d.tag, n)}}
			}
			return map[string]any{"id": pt(), "phone": fmt.Sprintf("07%08d", d.rng.IntN(100_000_000))}
		})
		add(1, "document.attach", true, func(workflow.Role) map[string]any {
			return map[string]any{"id": uuid.NewString(), "patientId": pt(), "name": fmt.Sprintf("scan-%s-%d.pdf", d.tag, n), "type": "scan",
				"url": fmt.Sprintf("files/%s-%d.pdf", d.tag, n)}
		})
	}
	total := 0
	for _, o := range opts {
		total += o.weight
	}
	if total == 0 {
		return plan{}, false
	}
	x := d.rng.IntN(total)
	for _, o := range opts {
		if x < o.weight {
			return o.make()
		}
		x -= o.weight
	}
	return plan{}, false
}
