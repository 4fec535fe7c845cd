package syncproto

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// bigChanges is a changes frame near both limits: MaxPullLimit rows filling
// most of a MiB, the heaviest frame a workstation decodes.
func bigChanges(b testing.TB) []byte {
	f := &Changes{RequestID: "r", Cursor: "c", More: true}
	notes := strings.Repeat("Patient stable, à revoir <48h> & bilan ", 13)
	for i := range MaxPullLimit {
		id := fmt.Sprintf("5c1d2e3f-0a1b-4c2d-8e3f-%012d", i)
		row, _ := json.Marshal(map[string]any{"id": id, "motif": "Contrôle", "status": "COMPLETED",
			"consultationNotes": notes, "patientId": id, "doctorId": id})
		f.Changes = append(f.Changes, Change{Table: "appointments", Op: OpUpsert, ID: id, Row: row})
	}
	data, err := Encode(f)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"hello", []byte(baseHello)},
		{"push1000", []byte(pushOf(MaxPushMutations, 1))},
		{"changes1000", bigChanges(b)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(bc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeChanges encodes the heaviest page, its rows appended
// plainly (each checked whole) or as the server's projected rows (only
// their nesting checked).
func BenchmarkEncodeChanges(b *testing.B) {
	f, err := Decode(bigChanges(b))
	if err != nil {
		b.Fatal(err)
	}
	projected := &Changes{RequestID: "r", Cursor: "c", More: true}
	for _, c := range f.(*Changes).Changes {
		projected.AddProjected(c.Table, c.ID, c.Row)
	}
	for _, bc := range []struct {
		name string
		f    Frame
	}{{"plain", f}, {"projected", projected}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Encode(bc.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
