package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// benchReplica holds a ward's busy history: 2,000 patients, 10,000
// appointments spread over statuses and days, 5,000 prescriptions.
func benchReplica(b *testing.B) *DB {
	b.Helper()
	db, err := Open(context.Background(), b.TempDir()+"/bench.db", testKey)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ctx := context.Background()
	statuses := workflow.AppointmentStatuses
	pstatuses := workflow.PrescriptionStatuses
	var users, patients, appts, prescs []json.RawMessage
	users = append(users, userRow(doctorID, "Dr Test", workflow.RoleDoctor), userRow(nurseID, "Infirmier Test", workflow.RoleNurse))
	for i := 0; i < 2000; i++ {
		patients = append(patients, patientRow(fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i), fmt.Sprintf("First%d", i),
			fmt.Sprintf("Last%d", i), time.Date(1950+i%60, 1, 1, 0, 0, 0, 0, time.UTC)))
	}
	for i := 0; i < 10000; i++ {
		at := t0.Add(time.Duration(i-5000) * 17 * time.Minute)
		appts = append(appts, appointmentRow(fmt.Sprintf("bbbbbbbb-0000-4000-8000-%012d", i), fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i%2000),
			doctorID, at, statuses[i%len(statuses)], obj{"checkedInAt": ts(at), "vitalsEnteredAt": ts(at), "consultedAt": ts(at), "closedAt": ts(at)}))
	}
	for i := 0; i < 5000; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		prescs = append(prescs, prescriptionRow(fmt.Sprintf("cccccccc-0000-4000-8000-%012d", i), fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i%2000),
			doctorID, pstatuses[i%len(pstatuses)], obj{"nurseId": nurseID, "sampleCollectedAt": ts(at), "analysisStartedAt": ts(at), "analysisCompletedAt": ts(at)}))
	}
	for _, x := range []struct {
		table string
		rows  []json.RawMessage
	}{{workflow.TableUsers, users}, {workflow.TablePatients, patients}, {workflow.TableAppointments, appts}, {workflow.TablePrescriptions, prescs}} {
		if err := db.PutRows(ctx, x.table, x.rows...); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func BenchmarkDashboard(b *testing.B) {
	db := benchReplica(b)
	ctx := context.Background()
	day := t0.Truncate(24 * time.Hour)
	for _, role := range []workflow.Role{workflow.RoleSecretary, workflow.RoleNurse, workflow.RoleDoctor, workflow.RoleBiologist} {
		b.Run(string(role), func(b *testing.B) {
			for b.Loop() {
				if _, err := db.DashboardFor(ctx, role, doctorID, day, day.Add(24*time.Hour), 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSearchPatients(b *testing.B) {
	db := benchReplica(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := db.SearchPatients(ctx, PatientQuery{Name: "last19"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAct is one act end to end: read, mutator, effect, outbox, commit.
func BenchmarkAct(b *testing.B) {
	db := benchReplica(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		_, err := db.Act(ctx, NewAct{ID: fmt.Sprintf("ffffffff-0000-4000-8000-%012d", i), Name: "patient.update",
			Args: js(obj{"id": fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i%2000), "phone": fmt.Sprint(i)}), OccurredAt: t0, Author: secretary})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyChanges is the initial sync's workstation side: pages of
// 1,000 appointment upserts applied to an empty replica, each page in one
// transaction, no act queued.
func BenchmarkApplyChanges(b *testing.B) {
	db, err := Open(context.Background(), b.TempDir()+"/apply.db", testKey)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ctx := context.Background()
	const pageSize = 1000
	n := 0
	for b.Loop() {
		page := &syncproto.Changes{More: true, Cursor: fmt.Sprint(n)}
		for k := 0; k < pageSize; k++ {
			n++
			at := t0.Add(time.Duration(n) * time.Minute)
			id := fmt.Sprintf("bbbbbbbb-0000-4000-8000-%012d", n)
			page.Changes = append(page.Changes, syncproto.Change{Table: workflow.TableAppointments, Op: syncproto.OpUpsert, ID: id,
				Row: appointmentRow(id, fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", n%2000), doctorID, at, workflow.AppointmentCompleted,
					obj{"checkedInAt": ts(at), "vitalsEnteredAt": ts(at), "consultedAt": ts(at), "closedAt": ts(at),
						"consultationNotes": "Consultation : examen clinique normal.", "medicalHistoryNotes": "Antécédents"})})
		}
		if err := db.ApplyChanges(ctx, page, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*pageSize)/b.Elapsed().Seconds(), "rows/s")
}
