package postgres

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// insertPatient writes a patient as another program would: detection is a
// trigger, so it flags whoever writes.
func insertPatient(t *testing.T, pool *pgxpool.Pool, first, last, birth string, idNumber any) string {
	t.Helper()
	id := uuid.NewString()
	if _, err := pool.Exec(context.Background(), `INSERT INTO patients (id, "firstName", "lastName", "birthDate", "idNumber", "updatedAt")
		VALUES ($1, $2, $3, $4::timestamp, $5, now())`, id, first, last, birth, idNumber); err != nil {
		t.Fatal(err)
	}
	return id
}

func pairReason(t *testing.T, pool *pgxpool.Pool, a, b string) string {
	t.Helper()
	var reason string
	err := pool.QueryRow(context.Background(), `SELECT reason FROM sync.duplicate_candidates WHERE patient_a = least($1, $2) AND patient_b = greatest($1, $2)`, a, b).Scan(&reason)
	if err != nil {
		return ""
	}
	return reason
}

func TestDuplicateDetection(t *testing.T) {
	t.Parallel()
	_, pool := openSeeded(t)
	cases := []struct {
		name        string
		a, b        [3]string // first, last, birth date
		idA, idB    any
		wantReason  string
		description string
	}{
		{"case, accents, spaces", [3]string{"Hélène", "Dupré-Martin", "1980-05-12"}, [3]string{"  HELENE ", "dupre  martin", "1980-05-12"}, nil, nil, "name_birth_date", ""},
		{"apostrophe and ligature", [3]string{"Zoë", "O'Brien-Lætitia", "1990-01-02"}, [3]string{"zoe", "o brien laetitia", "1990-01-02"}, nil, nil, "name_birth_date", ""},
		{"birth date differs", [3]string{"Jean", "Ngoma", "1970-03-04"}, [3]string{"Jean", "Ngoma", "1970-03-05"}, nil, nil, "", ""},
		{"same id number, other names", [3]string{"Paul", "Amah", "1960-01-01"}, [3]string{"Paulo", "Amah Kodjo", "1961-01-01"}, "ab 123-456", "AB123456", "id_number", ""},
		{"empty id numbers do not match", [3]string{"Ama", "Bio", "1961-02-01"}, [3]string{"Afi", "Bio", "1962-02-01"}, "", " ", "", ""},
		{"both", [3]string{"Kofi", "Mensah", "1955-06-07"}, [3]string{"kofi", "MENSAH", "1955-06-07"}, "X9", "x9", "name_birth_date+id_number", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := insertPatient(t, pool, c.a[0], c.a[1], c.a[2], c.idA)
			b := insertPatient(t, pool, c.b[0], c.b[1], c.b[2], c.idB)
			if got := pairReason(t, pool, a, b); got != c.wantReason {
				t.Fatalf("reason %q, want %q", got, c.wantReason)
			}
		})
	}
	t.Run("an edit that makes a match", func(t *testing.T) {
		a := insertPatient(t, pool, "Yao", "Koffi", "1999-09-09", nil)
		b := insertPatient(t, pool, "Yao", "Kofi", "1999-09-09", nil)
		if pairReason(t, pool, a, b) != "" {
			t.Fatal("flagged before the edit")
		}
		if _, err := pool.Exec(context.Background(), `UPDATE patients SET "lastName" = 'Koffi' WHERE id = $1`, b); err != nil {
			t.Fatal(err)
		}
		if got := pairReason(t, pool, a, b); got != "name_birth_date" {
			t.Fatalf("after the edit: %q", got)
		}
	})
}

// Two registrations of one person pushed from two desks: both kept, one
// open pair listed with what tells them apart.
func TestDuplicateCandidatesList(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	devB, _ := db.AddDevice(ctx, "", "Reception B", []workflow.Role{workflow.RoleSecretary})
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := []string{uuid.NewString(), uuid.NewString()}
	for i, dev := range []string{DemoDeviceID, devB.ID} {
		tok := mustLogin(t, db, workflow.RoleSecretary, dev)
		res, err := db.Push(ctx, dev, chained(t, db, dev, []syncproto.Mutation{{Seq: 1, ID: uuid.NewString(), Name: "patient.register", OccurredAt: now, SessionID: tok,
			Args: json.RawMessage(`{"id":"` + ids[i] + `","firstName":"Awa","lastName":"Traoré","birthDate":"1984-02-03T00:00:00Z","phone":"07` + string(rune('0'+i)) + `"}`)}}))
		if err != nil || res[0].Status != syncproto.StatusApplied {
			t.Fatalf("register on %s: %+v %v", dev, res, err)
		}
	}
	pairs, err := db.DuplicateCandidates(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 1 {
		t.Fatalf("pairs: %+v", pairs)
	}
	p := pairs[0]
	byID := map[string]DuplicatePatient{p.A.ID: p.A, p.B.ID: p.B}
	if p.Reason != "name_birth_date" || byID[ids[0]].RegisteredOn != "Demo workstation" || byID[ids[1]].RegisteredOn != "Reception B" ||
		byID[ids[1]].Phone != "071" || byID[ids[0]].LastName != "Traoré" || p.A.ID > p.B.ID {
		t.Fatalf("pair: %+v", p)
	}
	if n, err := db.OpenDuplicates(ctx); err != nil || n != 1 {
		t.Fatalf("open: %d %v", n, err)
	}
	if scalar[int64](t, pool, `SELECT count(*) FROM patients WHERE id = ANY($1)`, ids) != 2 {
		t.Fatal("a registration was lost")
	}
}

func TestDismissDuplicate(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	admin := scalar[string](t, pool, `SELECT id FROM users WHERE role = 'ADMIN' LIMIT 1`)
	a := insertPatient(t, pool, "Ali", "Sow", "1977-07-07", nil)
	b := insertPatient(t, pool, "ali", "sow", "1977-07-07", nil)
	lo, hi := min(a, b), max(a, b)
	other := uuid.NewString()
	cases := []struct {
		name, a, b, note string
		code             workflow.Code
		field, msg       string
	}{
		{"bad id", "x", b, "twins", workflow.CodeValidationFailed, "patientA", `patientA "x" is not a patient id.`},
		{"bad second id", a, "", "twins", workflow.CodeValidationFailed, "patientB", `patientB "" is not a patient id.`},
		{"no reason", a, b, "  ", workflow.CodeValidationFailed, "note", "Say why these are not the same person (the note is kept with the pair)."},
		{"not flagged", a, other, "twins", workflow.CodeNotFound, "", "Patients " + min(a, other) + " and " + max(a, other) + " are not flagged as possible duplicates."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := db.DismissDuplicate(ctx, c.a, c.b, admin, c.note)
			r, ok := workflow.AsRejection(err)
			if !ok || r.Code != c.code || r.Field != c.field || r.Message != c.msg {
				t.Fatalf("got %v", err)
			}
		})
	}
	if err := db.DismissDuplicate(ctx, b, a, admin, "Twins: different mothers' names."); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.OpenDuplicates(ctx); n != 0 {
		t.Fatalf("still open: %d", n)
	}
	t.Run("twice", func(t *testing.T) {
		db.Now = func() time.Time { return time.Now() }
		err := db.DismissDuplicate(ctx, a, b, admin, "again")
		r, ok := workflow.AsRejection(err)
		when := scalar[time.Time](t, pool, `SELECT resolved_at FROM sync.duplicate_candidates WHERE patient_a = $1`, lo).UTC().Format("2006-01-02 15:04")
		if !ok || r.Code != workflow.CodeInvalidTransition || r.Message != "Patients "+lo+" and "+hi+" were already dismissed on "+when+" by Admin Test." {
			t.Fatalf("got %v", err)
		}
	})
	// A later edit does not raise a dismissed pair again.
	if _, err := pool.Exec(ctx, `UPDATE patients SET "firstName" = 'ALI' WHERE id = $1`, a); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.OpenDuplicates(ctx); n != 0 {
		t.Fatalf("raised again: %d", n)
	}
}

func adminActor(t *testing.T, pool *pgxpool.Pool, role workflow.Role) workflow.Actor {
	t.Helper()
	var a workflow.Actor
	if err := pool.QueryRow(context.Background(), `SELECT id, name, role::text FROM users WHERE role = $1::"Role" LIMIT 1`, string(role)).Scan(&a.ID, &a.Name, &a.Role); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestMergePatients(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	admin := adminActor(t, pool, workflow.RoleAdmin)
	survivor := insertPatient(t, pool, "Fatou", "Diallo", "1988-08-08", "ID-1")
	loser := insertPatient(t, pool, "fatou", "diallo", "1988-08-08", nil)
	doctor := scalar[string](t, pool, `SELECT id FROM users WHERE role = 'DOCTOR' LIMIT 1`)
	appt, rx, res, doc := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	for _, q := range []string{
		`INSERT INTO appointments (id, date, motif, "patientId", "doctorId", "updatedAt") VALUES ('` + appt + `', now(), 'Suivi', '` + loser + `', '` + doctor + `', now())`,
		`INSERT INTO prescriptions (id, text, "patientId", "doctorId", "updatedAt") VALUES ('` + rx + `', 'NFS', '` + loser + `', '` + doctor + `', now())`,
		`INSERT INTO results (id, text, "prescriptionId", "updatedAt") VALUES ('` + res + `', 'Hb 14', '` + rx + `', now())`,
		`INSERT INTO documents (id, name, type, url, "patientId", "updatedAt") VALUES ('` + doc + `', 'scan', 'pdf', 'u', '` + loser + `', now())`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	before := scalar[int64](t, pool, `SELECT COALESCE(max(id), 0) FROM sync.changes`)

	t.Run("rejections write nothing", func(t *testing.T) {
		missing := uuid.NewString()
		secretary := adminActor(t, pool, workflow.RoleSecretary)
		cases := []struct {
			name      string
			actor     workflow.Actor
			surv, los string
			code      workflow.Code
			field     string
			msg       string
		}{
			{"wrong role", secretary, survivor, loser, workflow.CodeForbidden, "", "A SECRETARY cannot merge two patients' records; an administrator (ADMIN) does that."},
			{"same ids", admin, survivor, survivor, workflow.CodeValidationFailed, "loserId", "A patient cannot be merged into itself: survivorId and loserId are both " + survivor + "."},
			{"unknown survivor", admin, missing, loser, workflow.CodeNotFound, "survivorId", "Patient " + missing + " was not found."},
			{"unknown loser", admin, survivor, missing, workflow.CodeNotFound, "loserId", "Patient " + missing + " was not found."},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := db.MergePatients(ctx, c.actor, c.surv, c.los)
				r, ok := workflow.AsRejection(err)
				if !ok || r.Code != c.code || r.Field != c.field || r.Message != c.msg {
					t.Fatalf("got %v", err)
				}
			})
		}
		if n := scalar[int64](t, pool, `SELECT count(*) FROM sync.changes WHERE id > $1`, before); n != 0 {
			t.Fatalf("a refused merge wrote %d changes", n)
		}
		if n := scalar[int64](t, pool, `SELECT count(*) FROM sync.patient_merges`); n != 0 {
			t.Fatalf("a refused merge was recorded")
		}
	})

	out, err := db.MergePatients(ctx, admin, survivor, loser)
	if err != nil {
		t.Fatal(err)
	}
	if out.Appointments != 1 || out.Prescriptions != 1 || out.Documents != 1 {
		t.Fatalf("moved: %+v", out)
	}
	for _, c := range []struct{ q, want string }{
		{`SELECT "patientId" FROM appointments WHERE id = '` + appt + `'`, survivor},
		{`SELECT "patientId" FROM prescriptions WHERE id = '` + rx + `'`, survivor},
		{`SELECT "patientId" FROM documents WHERE id = '` + doc + `'`, survivor},
		{`SELECT "prescriptionId" FROM results WHERE id = '` + res + `'`, rx},
		{`SELECT count(*)::text FROM patients WHERE id = '` + loser + `'`, "0"},
		{`SELECT survivor_id || ' ' || merged_by || ' ' || (loser_row->>'firstName') FROM sync.patient_merges WHERE loser_id = '` + loser + `'`, survivor + " " + admin.ID + " fatou"},
		{`SELECT resolution FROM sync.duplicate_candidates WHERE patient_a = least('` + survivor + `', '` + loser + `')`, "merged"},
		// The feed carries the moves and the delete to every workstation.
		{`SELECT string_agg(tbl || ':' || op, ',' ORDER BY tbl, op) FROM sync.changes WHERE id > ` + itoa(before), "appointments:update,documents:update,patients:delete,prescriptions:update"},
	} {
		if got := scalar[string](t, pool, c.q); got != c.want {
			t.Errorf("%s\n got %q\nwant %q", c.q, got, c.want)
		}
	}
	if n, _ := db.OpenDuplicates(ctx); n != 0 {
		t.Fatalf("still open: %d", n)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// An act queued offline on the loser arrives after the merge: a new record
// follows the merge to the survivor (and the re-pointing is recorded); an
// edit of the merged record is refused with the sentence saying why; a
// workstation cannot merge at all.
func TestActOnMergedPatient(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	admin := adminActor(t, pool, workflow.RoleAdmin)
	survivor := insertPatient(t, pool, "Moussa", "Keita", "1970-01-01", nil)
	loser := insertPatient(t, pool, "Moussa", "Keïta", "1970-01-01", nil)
	// The workstation's author logged in before the merge (offline since).
	tok := mustLogin(t, db, workflow.RoleSecretary, DemoDeviceID)
	adminTok := mustLogin(t, db, workflow.RoleAdmin, DemoDeviceID)
	occurred := time.Now().UTC().Truncate(time.Millisecond)
	mergedAt := occurred.Add(time.Second)
	db.Now = func() time.Time { return mergedAt }
	if _, err := db.MergePatients(ctx, admin, survivor, loser); err != nil {
		t.Fatal(err)
	}
	db.Now = time.Now
	doctor := scalar[string](t, pool, `SELECT id FROM users WHERE role = 'DOCTOR' LIMIT 1`)
	appt := uuid.NewString()
	muts := []syncproto.Mutation{
		{Seq: 1, ID: uuid.NewString(), Name: "appointment.schedule", OccurredAt: occurred, SessionID: tok,
			Args: json.RawMessage(`{"id":"` + appt + `","patientId":"` + loser + `","doctorId":"` + doctor + `","date":"2030-01-02T09:00:00Z","motif":"Suivi"}`)},
		{Seq: 2, ID: uuid.NewString(), Name: "patient.update", OccurredAt: occurred, SessionID: tok,
			Args: json.RawMessage(`{"id":"` + loser + `","phone":"0700"}`)},
		{Seq: 3, ID: uuid.NewString(), Name: "patient.merge", OccurredAt: occurred, SessionID: adminTok,
			Args: json.RawMessage(`{"survivorId":"` + survivor + `","loserId":"` + uuid.NewString() + `"}`)},
	}
	res, err := db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, muts))
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != syncproto.StatusApplied {
		t.Fatalf("schedule: %+v", res[0])
	}
	if got := scalar[string](t, pool, `SELECT "patientId" FROM appointments WHERE id = $1`, appt); got != survivor {
		t.Fatalf("appointment went to %s", got)
	}
	if got := scalar[string](t, pool, `SELECT from_patient || '>' || to_patient || ' ' || field FROM sync.merge_repoints WHERE device_id = $1 AND seq = 1`, DemoDeviceID); got != loser+">"+survivor+" patientId" {
		t.Fatalf("re-point record: %q", got)
	}
	if got := scalar[string](t, pool, `SELECT args->>'patientId' FROM sync.mutations WHERE device_id = $1 AND seq = 1`, DemoDeviceID); got != loser {
		t.Fatalf("the audit log keeps the args as sent, got %q", got)
	}
	want := "Patient " + loser + " was merged into " + survivor + " on " + mergedAt.Format("2006-01-02 15:04") +
		" by Admin Test; this change was meant for the merged record and was not applied: redo it on patient " + survivor + " if it still applies."
	if r := res[1]; r.Status != syncproto.StatusRejected || r.Code != workflow.CodeNotFound || r.Field != "id" || r.Message != want {
		t.Fatalf("update:\n got %+v\nwant %s", r, want)
	}
	if r := res[2]; r.Status != syncproto.StatusRejected || r.Code != workflow.CodeForbidden ||
		r.Message != `"patient.merge" is done online from the admin dashboard, not from a workstation: a workstation does not hold every record it changes.` {
		t.Fatalf("merge from a workstation: %+v", r)
	}
	// Chains: the survivor merged in turn; the loser's act follows both.
	third := insertPatient(t, pool, "M.", "Keita", "1970-01-01", nil)
	if _, err := db.MergePatients(ctx, admin, third, survivor); err != nil {
		t.Fatal(err)
	}
	doc := uuid.NewString()
	res, err = db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, []syncproto.Mutation{{Seq: 4, ID: uuid.NewString(), Name: "document.attach", OccurredAt: occurred, SessionID: tok,
		Args: json.RawMessage(`{"id":"` + doc + `","patientId":"` + loser + `","name":"carte","type":"id","url":"u"}`)}}))
	if err != nil || res[0].Status != syncproto.StatusApplied {
		t.Fatalf("attach: %+v %v", res, err)
	}
	if got := scalar[string](t, pool, `SELECT "patientId" FROM documents WHERE id = $1`, doc); got != third {
		t.Fatalf("document went to %s, want %s", got, third)
	}
}

// The workstation's warning folds names with workflow.NormalizeName; the
// server flags with sync.normalize_name. Both fold the shared cases alike.
func TestNormalizeNameMatchesTheWorkflow(t *testing.T) {
	t.Parallel()
	_, pool := openSeeded(t)
	b, err := os.ReadFile("../../workflow/testdata/normalize_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ In, Out string }
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.In, func(t *testing.T) {
			got := scalar[string](t, pool, `SELECT sync.normalize_name($1)`, c.In)
			if got != c.Out || workflow.NormalizeName(c.In) != c.Out {
				t.Fatalf("sync.normalize_name(%q) = %q, workflow %q, want %q", c.In, got, workflow.NormalizeName(c.In), c.Out)
			}
		})
	}
}

// Two desks' registrations of one person committed by concurrent
// transactions, neither seeing the other's row when it inserts: the pair is
// still flagged (the second waits on the first's detection lock).
func TestConcurrentRegistrationsAreFlagged(t *testing.T) {
	t.Parallel()
	_, pool := openSeeded(t)
	ctx := context.Background()
	first, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx)
	a, b := uuid.NewString(), uuid.NewString()
	if _, err := first.Exec(ctx, `INSERT INTO patients (id, "firstName", "lastName", "birthDate", "updatedAt") VALUES ($1, 'Ines', 'Faye', '1993-04-05', now())`, a); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := pool.Exec(ctx, `INSERT INTO patients (id, "firstName", "lastName", "birthDate", "updatedAt") VALUES ($1, 'INÈS', 'faye', '1993-04-05', now())`, b)
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for scalar[int64](t, pool, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the second registration never waited for the first")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := pairReason(t, pool, a, b); got != "name_birth_date" {
		t.Fatalf("reason %q", got)
	}
}
