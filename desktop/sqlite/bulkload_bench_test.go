package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// BenchmarkInitialLoad is a whole initial sync's workstation side, as the
// server pages it: 2,000 patients then 30,000 appointments under random
// UUIDs, each table in id order, pages of 1,000 in one transaction each,
// the last page saying "no more" (the deferred indexes are built then). One
// iteration is one fresh replica.
func BenchmarkInitialLoad(b *testing.B) {
	const patients, appointments, pageSize = 2000, 30000, 1000
	rng := rand.New(rand.NewPCG(1, 2))
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff)
	}
	var changes []syncproto.Change
	pids := make([]string, patients)
	for i := range pids {
		pids[i] = uuid()
	}
	sort.Strings(pids)
	for i, id := range pids {
		changes = append(changes, syncproto.Change{Table: workflow.TablePatients, Op: syncproto.OpUpsert, ID: id,
			Row: patientRow(id, fmt.Sprintf("First%d", i), fmt.Sprintf("Last%d", rng.IntN(5000)), time.Date(1940+rng.IntN(80), 1, 1, 0, 0, 0, 0, time.UTC))})
	}
	aids := make([]string, appointments)
	for i := range aids {
		aids[i] = uuid()
	}
	sort.Strings(aids)
	statuses := workflow.AppointmentStatuses
	for _, id := range aids {
		at := t0.Add(time.Duration(rng.IntN(500*24*60)) * time.Minute)
		changes = append(changes, syncproto.Change{Table: workflow.TableAppointments, Op: syncproto.OpUpsert, ID: id,
			Row: appointmentRow(id, pids[rng.IntN(patients)], doctorID, at, statuses[rng.IntN(len(statuses))],
				obj{"checkedInAt": ts(at), "vitalsEnteredAt": ts(at), "consultedAt": ts(at), "closedAt": ts(at),
					"vitals":              obj{"temperature": 37.2, "bloodPressure": "120/80", "heartRate": 72},
					"consultationNotes":   "Consultation : examen clinique normal, pas de signe de gravité. Contrôle dans un mois.",
					"medicalHistoryNotes": "Antécédents : hypertension artérielle traitée."})})
	}
	ctx := context.Background()
	n := 0
	for b.Loop() {
		n++
		db, err := Open(ctx, filepath.Join(b.TempDir(), fmt.Sprintf("load%d.db", n)), testKey)
		if err != nil {
			b.Fatal(err)
		}
		for from := 0; from < len(changes); from += pageSize {
			to := min(from+pageSize, len(changes))
			page := &syncproto.Changes{Cursor: fmt.Sprint(to), More: to < len(changes), Changes: changes[from:to]}
			if err := db.ApplyChanges(ctx, page, t0); err != nil {
				b.Fatal(err)
			}
		}
		db.Close()
	}
	b.ReportMetric(float64(b.N*len(changes))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReadPage is what the workstation does to a page of 1,000
// appointments before SQLite sees it: decode the frame, then each row into
// its column values. "walked" reads each row as any JSON (a second scan of
// its text, checking its grammar again), "indexed" through the members the
// frame's scan located.
func BenchmarkReadPage(b *testing.B) {
	page := &syncproto.Changes{RequestID: "r", Cursor: "c", More: true}
	notes := obj{"consultationNotes": "Patient stable, à revoir dans 48 h & bilan sanguin", "motif": "Contrôle",
		"vitals": obj{"temperature": 37.5, "bloodPressure": "12/8"}, "billingAmount": "120.5"}
	for i := range syncproto.MaxPullLimit {
		id := fmt.Sprintf("bbbbbbbb-1000-4000-8000-%012d", i)
		page.Changes = append(page.Changes, syncproto.Change{Table: workflow.TableAppointments, Op: syncproto.OpUpsert, ID: id,
			Row: appointmentRow(id, patient1ID, doctorID, t0.Add(time.Duration(i)*time.Minute), workflow.AppointmentCompleted, notes)})
	}
	data, err := syncproto.Encode(page)
	if err != nil {
		b.Fatal(err)
	}
	appts := tables[workflow.TableAppointments]
	for _, indexed := range []bool{false, true} {
		name := map[bool]string{false: "walked", true: "indexed"}[indexed]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var args []any
			for b.Loop() {
				decode := syncproto.Decode
				if indexed {
					decode = syncproto.DecodeFromServer
				}
				f, err := decode(data)
				if err != nil {
					b.Fatal(err)
				}
				p := f.(*syncproto.Changes)
				for i, c := range p.Changes {
					args = args[:0]
					if members, ok := p.RowMembers(i); ok {
						args, err = appendIndexedRow(args, appts, c.ID, c.Row, p.RowText(i), members)
					} else if indexed {
						b.Fatal("row not indexed")
					} else {
						args, err = appendWireRow(args, appts, c.ID, c.Row)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
