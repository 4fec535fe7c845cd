package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"wardsync/desktop/sqlite/cryptvfs"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Fixed ids keep failure messages readable.
const (
	secretaryID = "11111111-1111-4111-8111-111111111111"
	nurseID     = "22222222-2222-4222-8222-222222222222"
	doctorID    = "33333333-3333-4333-8333-333333333333"
	biologistID = "44444444-4444-4444-8444-444444444444"
	doctor2ID   = "55555555-5555-4555-8555-555555555555"
	patient1ID  = "aaaaaaaa-0000-4000-8000-000000000001"
	patient2ID  = "aaaaaaaa-0000-4000-8000-000000000002"
	patient3ID  = "aaaaaaaa-0000-4000-8000-000000000003"
	appt1ID     = "bbbbbbbb-0000-4000-8000-000000000001"
	appt2ID     = "bbbbbbbb-0000-4000-8000-000000000002"
	appt3ID     = "bbbbbbbb-0000-4000-8000-000000000003"
	presc1ID    = "cccccccc-0000-4000-8000-000000000001"
	presc2ID    = "cccccccc-0000-4000-8000-000000000002"
	result1ID   = "dddddddd-0000-4000-8000-000000000001"
	doc1ID      = "eeeeeeee-0000-4000-8000-000000000001"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

var (
	secretary = Author{ID: secretaryID, Name: "Secrétaire Test", Role: workflow.RoleSecretary, SessionID: "ses-sec"}
	nurse     = Author{ID: nurseID, Name: "Infirmier Test", Role: workflow.RoleNurse, SessionID: "ses-nurse"}
	doctor    = Author{ID: doctorID, Name: "Dr Test", Role: workflow.RoleDoctor, SessionID: "ses-doc"}
	biologist = Author{ID: biologistID, Name: "Bio Test", Role: workflow.RoleBiologist, SessionID: "ses-bio"}
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "replica.db"), testKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type obj = map[string]any

func js(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func ts(t time.Time) string { return FormatTime(t) }

func userRow(id, name string, role workflow.Role) json.RawMessage {
	return js(obj{"id": id, "name": name, "role": role, "createdAt": ts(t0.AddDate(0, -1, 0)), "updatedAt": ts(t0.AddDate(0, -1, 0))})
}

func patientRow(id, first, last string, birth time.Time) json.RawMessage {
	return js(obj{"id": id, "firstName": first, "lastName": last, "birthDate": ts(birth), "sex": "F",
		"emergencyContact": "", "consentMedicalData": true, "createdAt": ts(t0.AddDate(0, 0, -7)), "updatedAt": ts(t0.AddDate(0, 0, -7))})
}

func appointmentRow(id, patient, doc string, date time.Time, status workflow.AppointmentStatus, extra obj) json.RawMessage {
	m := obj{"id": id, "date": ts(date), "motif": "Consultation", "status": status, "patientId": patient, "doctorId": doc,
		"createdAt": ts(t0.AddDate(0, 0, -1)), "updatedAt": ts(t0.AddDate(0, 0, -1)), "billingStatus": "PENDING"}
	for k, v := range extra {
		if v == absent {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return js(m)
}

// absent removes a member from a row built by a helper.
const absent = "<absent>"

func prescriptionRow(id, patient, doc string, status workflow.PrescriptionStatus, extra obj) json.RawMessage {
	m := obj{"id": id, "text": "CBC", "status": status, "patientId": patient, "doctorId": doc,
		"createdAt": ts(t0.AddDate(0, 0, -1)), "updatedAt": ts(t0.AddDate(0, 0, -1))}
	for k, v := range extra {
		m[k] = v
	}
	return js(m)
}

// seed fills a replica as a ward workstation would hold it.
func seed(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	must(t, db.PutRows(ctx, workflow.TableUsers,
		userRow(secretaryID, "Secrétaire Test", workflow.RoleSecretary),
		userRow(nurseID, "Infirmier Test", workflow.RoleNurse),
		userRow(doctorID, "Dr Test", workflow.RoleDoctor),
		userRow(doctor2ID, "Dr Autre", workflow.RoleDoctor),
		userRow(biologistID, "Bio Test", workflow.RoleBiologist)))
	must(t, db.PutRows(ctx, workflow.TablePatients,
		patientRow(patient1ID, "Marie", "Curie", time.Date(1967, 11, 7, 0, 0, 0, 0, time.UTC)),
		patientRow(patient2ID, "Louis", "Pasteur", time.Date(1982, 12, 27, 0, 0, 0, 0, time.UTC)),
		patientRow(patient3ID, "Pierre", "Curie", time.Date(1959, 5, 15, 0, 0, 0, 0, time.UTC))))
	must(t, db.PutRows(ctx, workflow.TableAppointments,
		appointmentRow(appt1ID, patient1ID, doctorID, t0.Add(5*time.Hour), workflow.AppointmentScheduled, nil),
		appointmentRow(appt2ID, patient2ID, doctorID, t0.Add(6*time.Hour), workflow.AppointmentScheduled, nil),
		appointmentRow(appt3ID, patient3ID, doctorID, t0.Add(7*time.Hour), workflow.AppointmentCheckedIn,
			obj{"checkedInAt": ts(t0.Add(-time.Hour))})))
	must(t, db.PutRows(ctx, workflow.TablePrescriptions,
		prescriptionRow(presc1ID, patient1ID, doctorID, workflow.PrescriptionSentToLab, nil),
		prescriptionRow(presc2ID, patient2ID, doctorID, workflow.PrescriptionSampleCollected,
			obj{"nurseId": nurseID, "sampleCollectedAt": ts(t0.Add(-2 * time.Hour))})))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var mutationN = 0

// newID returns a fresh lowercase v4-shaped UUID for a mutation.
func newID() string {
	mutationN++
	return "ffffffff-0000-4000-8000-" + leftPad(mutationN)
}

func leftPad(n int) string {
	s := []byte("000000000000")
	for i := len(s) - 1; n > 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}

func act(t *testing.T, db *DB, who Author, name string, args obj, at time.Time) (int64, error) {
	t.Helper()
	return db.Act(context.Background(), NewAct{ID: newID(), Name: name, Args: js(args), OccurredAt: at, Author: who})
}

func mustAct(t *testing.T, db *DB, who Author, name string, args obj, at time.Time) int64 {
	t.Helper()
	seq, err := act(t, db, who, name, args, at)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return seq
}

// column reads one column of a replicated row through its wire form.
func column(t *testing.T, db *DB, table, id, col string) any {
	t.Helper()
	raw, err := db.Row(context.Background(), table, id)
	must(t, err)
	if raw == nil {
		return "<no row>"
	}
	var m map[string]any
	must(t, json.Unmarshal(raw, &m))
	return m[col]
}

func counts(t *testing.T, db *DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range append(append([]string{}, workflow.Tables...), "outbox", "rejected", "rebase_base", "local_credentials") {
		var n int
		must(t, db.SQL().QueryRow(`SELECT COUNT(*) FROM "`+tbl+`"`).Scan(&n))
		out[tbl] = n
	}
	var s string
	must(t, db.SQL().QueryRow(`SELECT lastSeq || '/' || ackedSeq || '/' || reflectedSeq || '/' || cursor FROM sync_state`).Scan(&s))
	out["state:"+s] = 1
	return out
}

func outboxSeqs(t *testing.T, db *DB) []int64 {
	t.Helper()
	entries, err := db.Outbox(context.Background(), 0, 0)
	must(t, err)
	var seqs []int64
	for _, e := range entries {
		seqs = append(seqs, e.Seq)
	}
	return seqs
}

func page(cursor string, last int64, changes ...syncproto.Change) *syncproto.Changes {
	return &syncproto.Changes{RequestID: "r", Cursor: cursor, LastMutationSeq: last, Changes: changes}
}

func upsert(table string, row json.RawMessage) syncproto.Change {
	var head struct{ ID string }
	if err := json.Unmarshal(row, &head); err != nil {
		panic(err)
	}
	return syncproto.Change{Table: table, Op: syncproto.OpUpsert, ID: head.ID, Row: row}
}

func del(table, id string) syncproto.Change {
	return syncproto.Change{Table: table, Op: syncproto.OpDelete, ID: id}
}

// testKey is the data key the package's tests seal their replicas with.
var testKey = []byte("wardsync-test-key-32-bytes-long!")

// rawOpen opens an encrypted replica file with a bare connection (no
// migrations, no checkpointer), as a second process would.
func rawOpen(t testing.TB, path string) *sql.DB {
	t.Helper()
	v, err := cryptvfs.Register(testKey)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", DSN(path)+"&vfs="+v.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		raw.Close()
		if err := v.Close(); err != nil {
			t.Error(err)
		}
	})
	return raw
}
