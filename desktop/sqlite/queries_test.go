package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"wardsync/workflow"
)

func dashboardSeed(t *testing.T, db *DB) {
	t.Helper()
	seed(t, db)
	ctx := context.Background()
	id := func(prefix string, n int) string { return fmt.Sprintf("%s-0000-4000-8000-%012d", prefix, n) }
	day := t0.Truncate(24 * time.Hour)
	must(t, db.PutRows(ctx, workflow.TableAppointments,
		// today, SCHEDULED, out of date order
		appointmentRow(id("bbbbbbbb", 10), patient2ID, doctorID, day.Add(16*time.Hour), workflow.AppointmentScheduled, nil),
		appointmentRow(id("bbbbbbbb", 11), patient3ID, doctorID, day.Add(8*time.Hour), workflow.AppointmentScheduled, nil),
		// tomorrow and yesterday: not today's
		appointmentRow(id("bbbbbbbb", 12), patient3ID, doctorID, day.Add(24*time.Hour), workflow.AppointmentScheduled, nil),
		appointmentRow(id("bbbbbbbb", 13), patient3ID, doctorID, day.Add(-time.Minute), workflow.AppointmentScheduled, nil),
		appointmentRow(id("bbbbbbbb", 14), patient1ID, doctorID, day, workflow.AppointmentConsultationCompleted,
			obj{"consultedAt": ts(day.Add(10 * time.Hour)), "consultedBy": doctorID}),
		appointmentRow(id("bbbbbbbb", 15), patient1ID, doctorID, day, workflow.AppointmentCompleted,
			obj{"closedAt": ts(day.Add(11 * time.Hour)), "billingStatus": "PARTIALLY_PAID", "billingAmount": "10.00"}),
		appointmentRow(id("bbbbbbbb", 16), patient1ID, doctorID, day, workflow.AppointmentCompleted,
			obj{"closedAt": ts(day.Add(9 * time.Hour)), "billingStatus": "PAID", "billingAmount": "10.00"}),
		appointmentRow(id("bbbbbbbb", 17), patient2ID, doctorID, day, workflow.AppointmentCompleted,
			obj{"closedAt": ts(day.Add(8 * time.Hour)), "billingStatus": absent}),
		appointmentRow(id("bbbbbbbb", 18), patient2ID, doctorID, day, workflow.AppointmentCheckedIn,
			obj{"checkedInAt": ts(day.Add(7 * time.Hour))}),
		appointmentRow(id("bbbbbbbb", 19), patient2ID, doctorID, day, workflow.AppointmentInConsultation,
			obj{"vitalsEnteredAt": ts(day.Add(9 * time.Hour)), "vitalsEnteredBy": nurseID}),
		appointmentRow(id("bbbbbbbb", 20), patient3ID, doctorID, day, workflow.AppointmentInConsultation,
			obj{"vitalsEnteredAt": ts(day.Add(8 * time.Hour)), "vitalsEnteredBy": nurseID}),
		appointmentRow(id("bbbbbbbb", 21), patient3ID, doctor2ID, day, workflow.AppointmentInConsultation,
			obj{"vitalsEnteredAt": ts(day.Add(7 * time.Hour))}),
	))
	must(t, db.PutRows(ctx, workflow.TablePrescriptions,
		prescriptionRow(id("cccccccc", 10), patient3ID, doctorID, workflow.PrescriptionResultsAvailable,
			obj{"analysisCompletedAt": ts(day.Add(9 * time.Hour)), "nurseId": nurseID}),
		prescriptionRow(id("cccccccc", 11), patient3ID, doctor2ID, workflow.PrescriptionResultsAvailable,
			obj{"analysisCompletedAt": ts(day.Add(8 * time.Hour))}),
		prescriptionRow(id("cccccccc", 12), patient1ID, doctorID, workflow.PrescriptionInProgress,
			obj{"analysisStartedAt": ts(day.Add(8 * time.Hour))}),
		prescriptionRow(id("cccccccc", 13), patient2ID, doctorID, workflow.PrescriptionSampleCollected,
			obj{"sampleCollectedAt": ts(day.Add(-3 * time.Hour))}),
	))
	must(t, db.PutRows(ctx, workflow.TableResults, js(obj{"id": result1ID, "prescriptionId": id("cccccccc", 10), "text": "OK",
		"validatedBy": biologistID, "validatedAt": ts(day.Add(9 * time.Hour)), "createdAt": ts(day.Add(9 * time.Hour)),
		"updatedAt": ts(day.Add(9 * time.Hour))})))
}

func appointmentIDs(v []AppointmentView) []string {
	var out []string
	for _, a := range v {
		out = append(out, a.ID[len(a.ID)-2:])
	}
	return out
}

func prescriptionIDs(v []PrescriptionView) []string {
	var out []string
	for _, p := range v {
		out = append(out, p.ID[len(p.ID)-2:])
	}
	return out
}

func TestDashboards(t *testing.T) {
	db := openTest(t)
	dashboardSeed(t, db)
	ctx := context.Background()
	day := t0.Truncate(24 * time.Hour)
	dash := func(role workflow.Role, user string) *Dashboard {
		d, err := db.DashboardFor(ctx, role, user, day, day.Add(24*time.Hour), 0)
		must(t, err)
		return d
	}
	check := func(what string, got []string, want string) {
		t.Helper()
		if strings.Join(got, ",") != want {
			t.Errorf("%s: got %v, want %s", what, got, want)
		}
	}
	// seed(): appt1 (14:00, SCHEDULED), appt2 (15:00, SCHEDULED), appt3 checked in at 08:00.
	d := dash(workflow.RoleSecretary, secretaryID)
	check("to check in", appointmentIDs(d.ToCheckIn), "11,01,02,10")
	check("to close", appointmentIDs(d.ToClose), "14")
	check("unpaid", appointmentIDs(d.Unpaid), "17,15")
	if a := d.ToCheckIn[0]; a.PatientFirstName != "Pierre" || a.PatientLastName != "Curie" || a.DoctorName != "Dr Test" {
		t.Errorf("names not joined: %+v", a)
	}
	if d.ToPrepare != nil || d.SamplesReceived != nil {
		t.Errorf("other roles' queues filled")
	}

	d = dash(workflow.RoleNurse, nurseID)
	check("to prepare", appointmentIDs(d.ToPrepare), "18,03")
	check("to collect", prescriptionIDs(d.ToCollect), "01")

	d = dash(workflow.RoleDoctor, doctorID)
	check("consultations", appointmentIDs(d.Consultations), "20,19")
	check("to review", prescriptionIDs(d.ToReview), "10")
	if p := d.ToReview[0]; p.ResultID != result1ID || p.NurseName != "Infirmier Test" || p.PatientLastName != "Curie" {
		t.Errorf("review item %+v", p)
	}
	d = dash(workflow.RoleDoctor, doctor2ID)
	check("doctor 2 consultations", appointmentIDs(d.Consultations), "21")

	d = dash(workflow.RoleBiologist, biologistID)
	check("samples received", prescriptionIDs(d.SamplesReceived), "13,02")
	check("in progress", prescriptionIDs(d.InProgress), "12")

	// The queued acts show at once: checking in moves an appointment from
	// reception's list to the nurse's.
	mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, day.Add(12*time.Hour))
	check("to check in after an act", appointmentIDs(dash(workflow.RoleSecretary, secretaryID).ToCheckIn), "11,02,10")
	check("to prepare after an act", appointmentIDs(dash(workflow.RoleNurse, nurseID).ToPrepare), "18,03,01")
}

func TestDashboardLimit(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	var rows [][]byte
	for i := 0; i < 120; i++ {
		rows = append(rows, appointmentRow(fmt.Sprintf("bbbbbbbb-0000-4000-8000-%012d", i), patient1ID, doctorID,
			t0.Add(time.Duration(i)*time.Minute), workflow.AppointmentCheckedIn, obj{"checkedInAt": ts(t0.Add(time.Duration(120-i) * time.Minute))}))
	}
	for _, r := range rows {
		must(t, db.PutRows(ctx, workflow.TableAppointments, r))
	}
	d, err := db.DashboardFor(ctx, workflow.RoleNurse, nurseID, t0, t0, 0)
	must(t, err)
	if len(d.ToPrepare) != DefaultLimit || !strings.HasSuffix(d.ToPrepare[0].ID, "119") {
		t.Errorf("%d items, first %s", len(d.ToPrepare), d.ToPrepare[0].ID)
	}
}

// Every queue is read through an index, never by scanning and sorting the
// table: the seed asks for < 150 ms with includes, on any ward's history.
func TestDashboardQueriesUseIndexes(t *testing.T) {
	db := openTest(t)
	queues := map[string]string{
		"patient appointments": appointmentQuery(qPatientAppointments), "patient prescriptions": prescriptionQuery(qPatientPrescriptions),
	}
	for _, wq := range workflow.Queues() {
		if !wq.Home {
			continue
		}
		q, _, _ := homeQueue(wq)
		if wq.Table == workflow.TablePrescriptions {
			queues[wq.Key] = prescriptionQuery(q)
		} else {
			queues[wq.Key] = appointmentQuery(q)
		}
	}
	if len(queues) != 12 {
		t.Fatalf("%d queues, want the 10 home-screen queues and the timeline's 2", len(queues))
	}
	sorts := map[string]bool{}
	for name, q := range queues {
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = "x"
		}
		rows, err := db.SQL().Query("EXPLAIN QUERY PLAN "+q, args...)
		must(t, err)
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			must(t, rows.Scan(&id, &parent, &notused, &detail))
			plan = append(plan, detail)
			// A sort at the top level (not in the result-id subquery)
			// means LIMIT 50 cannot stop early.
			if parent == 0 && strings.Contains(detail, "TEMP B-TREE FOR ORDER BY") && !strings.HasPrefix(name, "patient ") {
				sorts[name] = true
			}
		}
		rows.Close()
		first := plan[0]
		if !strings.Contains(first, "USING INDEX") && !strings.Contains(first, "USING COVERING INDEX") {
			t.Errorf("%s scans appointments/prescriptions: %v", name, plan)
		}
		for _, p := range plan {
			if strings.Contains(p, "SCAN ") && !strings.Contains(p, "USING") {
				t.Errorf("%s has a full scan: %v", name, plan)
			}
		}
		// Most closed visits are paid: the queue reads a partial index of
		// the unpaid ones, not every closed visit.
		if name == "unpaid" && !strings.Contains(first, "appointments_unpaid_idx") {
			t.Errorf("unpaid does not read appointments_unpaid_idx: %v", plan)
		}
		if sorts[name] {
			t.Errorf("%s sorts its rows instead of reading them in index order: %v", name, plan)
		}
	}
}

func TestSearchPatients(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	names := func(ps []workflow.Patient) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.FirstName+" "+p.LastName)
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		q    PatientQuery
		want string
	}{
		{PatientQuery{Name: "curie"}, "Marie Curie,Pierre Curie"},
		{PatientQuery{Name: "CUR"}, "Marie Curie,Pierre Curie"},
		{PatientQuery{Name: "mar"}, "Marie Curie"},
		{PatientQuery{Name: "curie pierre"}, "Pierre Curie"},
		{PatientQuery{Name: "  louis   pasteur "}, "Louis Pasteur"},
		{PatientQuery{Name: "urie"}, ""}, // prefixes only
		{PatientQuery{Name: "%"}, ""},    // LIKE's wildcards are plain characters
		{PatientQuery{Name: "_arie"}, ""},
		{PatientQuery{BirthDate: "1967-11-07"}, "Marie Curie"},
		{PatientQuery{Name: "curie", BirthDate: "1959-05-15"}, "Pierre Curie"},
		{PatientQuery{Name: "pasteur", BirthDate: "1959-05-15"}, ""},
		{PatientQuery{}, "Marie Curie,Pierre Curie,Louis Pasteur"},
		{PatientQuery{Limit: 1}, "Marie Curie"},
	}
	for _, c := range cases {
		got, err := db.SearchPatients(ctx, c.q)
		must(t, err)
		if names(got) != c.want {
			t.Errorf("%+v: got %q, want %q", c.q, names(got), c.want)
		}
	}
	_, err := db.SearchPatients(ctx, PatientQuery{BirthDate: "07/11/1967"})
	if rej, ok := workflow.AsRejection(err); !ok || rej.Field != "birthDate" {
		t.Errorf("bad date: %v", err)
	}
	rows, err := db.SQL().Query(`EXPLAIN QUERY PLAN SELECT "id" FROM "patients" WHERE ("lastName" LIKE 'cu%' ESCAPE '\' OR "firstName" LIKE 'cu%' ESCAPE '\')`)
	must(t, err)
	defer rows.Close()
	for rows.Next() {
		var id, parent, notused int
		var detail string
		must(t, rows.Scan(&id, &parent, &notused, &detail))
		if strings.HasPrefix(detail, "SCAN") {
			t.Errorf("name search scans the table: %s", detail)
		}
	}
}

func TestPatientTimeline(t *testing.T) {
	db := openTest(t)
	dashboardSeed(t, db)
	ctx := context.Background()
	must(t, db.PutRows(ctx, workflow.TableDocuments, js(obj{"id": doc1ID, "patientId": patient3ID, "name": "radio.png", "type": "radio",
		"url": "file:///radio.png", "createdAt": ts(t0.Add(30 * time.Minute)), "updatedAt": ts(t0.Add(30 * time.Minute))})))
	tl, err := db.PatientTimeline(ctx, patient3ID)
	must(t, err)
	if tl.Patient.FirstName != "Pierre" {
		t.Errorf("patient %+v", tl.Patient)
	}
	var got []string
	for i, e := range tl.Entries {
		if i > 0 && e.At.After(tl.Entries[i-1].At) {
			t.Errorf("not newest first at %d", i)
		}
		got = append(got, e.Kind+"@"+e.At.Format("02T15:04"))
	}
	// appointments of patient 3: appt3 (16:00 today), #11 (08:00), #12 (tomorrow 00:00),
	// #13 (yesterday 23:59), #20, #21 (00:00); prescriptions #10, #11 (created yesterday); one result; one document.
	counts := map[string]int{}
	for _, e := range tl.Entries {
		counts[e.Kind]++
	}
	if counts["appointment"] != 6 || counts["prescription"] != 2 || counts["result"] != 1 || counts["document"] != 1 {
		t.Errorf("timeline %v", got)
	}
	if tl.Entries[0].Kind != "appointment" || !tl.Entries[0].At.Equal(t0.Truncate(24*time.Hour).Add(24*time.Hour)) {
		t.Errorf("newest entry %v", got[0])
	}
	for _, e := range tl.Entries {
		if e.Kind == "result" && (e.Result == nil || e.Result.ID != result1ID) {
			t.Errorf("result entry %+v", e)
		}
		if e.Kind == "appointment" && e.Appointment.PatientFirstName != "Pierre" {
			t.Errorf("appointment entry without names")
		}
	}
	if _, err := db.PatientTimeline(ctx, "aaaaaaaa-0000-4000-8000-0000000000ee"); !IsNotFound(err) {
		t.Errorf("unknown patient: %v", err)
	}
}

// The view setters follow the table's columns in order (the SELECT lists
// them so).
func TestViewColumns(t *testing.T) {
	names := func(n int, name func(int) string) string {
		var out []string
		for i := range n {
			out = append(out, name(i))
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		table string
		got   string
	}{
		{workflow.TableAppointments, names(len(appointmentColumns), func(i int) string { return appointmentColumns[i].name })},
		{workflow.TablePrescriptions, names(len(prescriptionColumns), func(i int) string { return prescriptionColumns[i].name })},
	}
	for _, c := range cases {
		t.Run(c.table, func(t *testing.T) {
			if want := strings.Join(tables[c.table].columns, ","); c.got != want {
				t.Errorf("setters for %s\n got %s\nwant %s", c.table, c.got, want)
			}
		})
	}
}

// The lists are scanned straight into the view structs; the result must
// be what decoding each row's wire form gives (the route they used to
// take, and the one readRow still takes), column for column, NULLs and
// all.
func TestViewScanMatchesWire(t *testing.T) {
	db := openTest(t)
	dashboardSeed(t, db)
	ctx := context.Background()
	full := func(i int) string { return fmt.Sprintf("bbbbbbbb-0000-4000-8000-%012d", 900+i) }
	must(t, db.PutRows(ctx, workflow.TableAppointments,
		// every column filled
		appointmentRow(full(1), patient3ID, doctorID, t0.Add(90*time.Minute+123*time.Millisecond), workflow.AppointmentCompleted, obj{
			"vitals": obj{"weight": 71.5, "bloodPressure": obj{"systolic": 120, "diastolic": 80}}, "medicalHistoryNotes": "Asthme « léger »\nligne 2",
			"consultationNotes": "RAS", "checkedInAt": ts(t0), "vitalsEnteredAt": ts(t0.Add(time.Minute)), "consultedAt": ts(t0.Add(2 * time.Minute)),
			"closedAt": ts(t0.Add(3 * time.Minute)), "vitalsEnteredBy": nurseID, "consultedBy": doctorID, "closedBy": secretaryID,
			"billingAmount": "120.50", "billingStatus": "PARTIALLY_PAID"}),
		// every nullable column NULL, and empty strings
		appointmentRow(full(2), patient3ID, doctorID, t0, workflow.AppointmentScheduled, obj{"billingStatus": absent, "motif": ""}),
	))
	must(t, db.PutRows(ctx, workflow.TablePrescriptions,
		prescriptionRow("cccccccc-0000-4000-8000-000000000901", patient3ID, doctorID, workflow.PrescriptionCompleted, obj{
			"text": "NFS, CRP", "nurseId": nurseID, "sampleCollectedAt": ts(t0), "analysisStartedAt": ts(t0.Add(time.Hour)),
			"analysisCompletedAt": ts(t0.Add(2 * time.Hour))}),
	))
	// and a row as an act's effect wrote it
	mustAct(t, db, nurse, "appointment.recordVitals", obj{"id": appt3ID, "vitals": vitals, "medicalHistoryNotes": "n"}, t0.Add(time.Minute))

	tl, err := db.PatientTimeline(ctx, patient3ID)
	must(t, err)
	wire := func(table, id string, into any) {
		t.Helper()
		raw, err := db.Row(ctx, table, id)
		must(t, err)
		must(t, json.Unmarshal(raw, into))
	}
	seen := map[string]int{}
	for _, e := range tl.Entries {
		switch {
		case e.Appointment != nil:
			var want workflow.Appointment
			wire(workflow.TableAppointments, e.Appointment.ID, &want)
			if !reflect.DeepEqual(e.Appointment.Appointment, want) {
				t.Errorf("appointment %s\n got %s\nwant %s", want.ID, js(e.Appointment.Appointment), js(want))
			}
			seen["appointments"]++
		case e.Prescription != nil:
			var want workflow.Prescription
			wire(workflow.TablePrescriptions, e.Prescription.ID, &want)
			if !reflect.DeepEqual(e.Prescription.Prescription, want) {
				t.Errorf("prescription %s\n got %s\nwant %s", want.ID, js(e.Prescription.Prescription), js(want))
			}
			seen["prescriptions"]++
		}
	}
	if seen["appointments"] != 8 || seen["prescriptions"] != 3 {
		t.Errorf("compared %v, want 8 appointments and 3 prescriptions", seen)
	}
}

// A stored value the views cannot read fails the list with the column's
// name, as decoding its wire form did; it is never shown half read.
func TestViewScanBadStoredValue(t *testing.T) {
	cases := []struct {
		name, update, want string
	}{
		{"timestamp", `UPDATE "appointments" SET "checkedInAt" = 'yesterday' WHERE "id" = ?`,
			`sqlite: appointments: column checkedInAt: not a timestamp: "yesterday"`},
		{"required timestamp", `UPDATE "appointments" SET "date" = '2026-13-01T00:00:00.000Z' WHERE "id" = ?`,
			`sqlite: appointments: column date: not a timestamp: "2026-13-01T00:00:00.000Z"`},
		{"JSON stored as a blob", `UPDATE "appointments" SET "vitals" = X'7B7D' WHERE "id" = ?`,
			`sqlite: appointments: column vitals: stored JSON of type []uint8`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := openTest(t)
			seed(t, db)
			if _, err := db.SQL().Exec(c.update, appt3ID); err != nil {
				t.Fatal(err)
			}
			d, err := db.DashboardFor(context.Background(), workflow.RoleNurse, nurseID, t0, t0, 0)
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v (dashboard %v), want %s", err, d, c.want)
			}
		})
	}
}

// The dashboards' statements are prepared once per replica and shared by
// concurrent readers (the UI refreshes on every status event while acts
// and pulls go on); each reader still gets its own snapshot's rows.
func TestDashboardsConcurrent(t *testing.T) {
	db := openTest(t)
	dashboardSeed(t, db)
	ctx := context.Background()
	day := t0.Truncate(24 * time.Hour)
	roles := []workflow.Role{workflow.RoleSecretary, workflow.RoleNurse, workflow.RoleDoctor, workflow.RoleBiologist}
	want := map[workflow.Role]string{}
	for _, role := range roles {
		d, err := db.DashboardFor(ctx, role, doctorID, day, day.Add(24*time.Hour), 0)
		must(t, err)
		want[role] = string(js(d))
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 10; i++ {
				role := roles[(g+i)%len(roles)]
				d, err := db.DashboardFor(ctx, role, doctorID, day, day.Add(24*time.Hour), 0)
				if err == nil && string(js(d)) != want[role] {
					err = fmt.Errorf("%s: got %s, want %s", role, js(d), want[role])
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
