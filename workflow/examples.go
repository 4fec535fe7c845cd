package workflow

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Every act carries an example of its arguments, valid wherever its row
// stands, with the ids of the rows it names left open. The conformance
// suite (pipeline/pipelinetest) builds each act's cases from it and the
// rule table, and the hostile tests (e2e/soak) send it with a wrong role:
// a new act is declared, with its example, in this package alone.

// Ref stands, in an example, for the id of a row the caller supplies: a
// user of Role (Table users), the act's own new row of Table (New), the
// row of Table the act refers to, or a second, distinct one (Other).
type Ref struct {
	Table string
	Role  Role
	New   bool
	Other bool
}

func row(table string) Ref      { return Ref{Table: table} }
func newRow(table string) Ref   { return Ref{Table: table, New: true} }
func otherRow(table string) Ref { return Ref{Table: table, Other: true} }
func user(role Role) Ref        { return Ref{Table: TableUsers, Role: role} }

// examples are the acts' example arguments, keyed by act name.
var examples = map[string]map[string]any{
	"patient.register": {"id": newRow(TablePatients), "firstName": "Marie", "lastName": "Curie", "birthDate": "1967-11-07T00:00:00Z"},
	"patient.update":   {"id": row(TablePatients), "phone": "+33 6 00 00 00 00"},
	"patient.merge":    {"survivorId": row(TablePatients), "loserId": otherRow(TablePatients)},
	"appointment.schedule": {"id": newRow(TableAppointments), "patientId": row(TablePatients), "doctorId": user(RoleDoctor),
		"date": "2026-01-06T09:30:00Z", "motif": "Première consultation"},
	"appointment.checkIn": {"id": row(TableAppointments)},
	"appointment.recordVitals": {"id": row(TableAppointments), "medicalHistoryNotes": "Asthme",
		"vitals": map[string]any{"weight": 70, "height": 170, "temperature": 37, "bloodPressure": map[string]any{"systolic": 120, "diastolic": 80}, "heartRate": 72}},
	"appointment.completeConsultation": {"id": row(TableAppointments), "consultationNotes": "Examen normal."},
	"appointment.close":                {"id": row(TableAppointments), "billingAmount": "25.00", "billingStatus": "PENDING"},
	"appointment.recordPayment":        {"id": row(TableAppointments), "billingStatus": "PAID"},
	"appointment.cancel":               {"id": row(TableAppointments)},
	"prescription.create":              {"id": newRow(TablePrescriptions), "patientId": row(TablePatients), "text": "Lipid Panel"},
	"prescription.sendToLab":           {"id": row(TablePrescriptions)},
	"prescription.collectSample":       {"id": row(TablePrescriptions)},
	"prescription.startAnalysis":       {"id": row(TablePrescriptions)},
	"result.create":                    {"id": newRow(TableResults), "prescriptionId": row(TablePrescriptions), "text": "Hémoglobine 14 g/dL", "data": map[string]any{"hb": 14}},
	"result.review":                    {"id": row(TableResults), "interpretation": "Normal."},
	"document.attach":                  {"id": newRow(TableDocuments), "patientId": row(TablePatients), "name": "radio.png", "type": "radio", "url": "files/radio.png"},
}

// Example returns the example arguments of act name with each Ref
// replaced by id(ref); ok is false for an act without one.
func Example(name string, id func(Ref) string) (args json.RawMessage, ok bool) {
	ex, ok := examples[name]
	if !ok {
		return nil, false
	}
	b, err := json.Marshal(fill(ex, id))
	if err != nil {
		panic(fmt.Sprintf("workflow: the example of %s: %v", name, err))
	}
	return b, true
}

func fill(v any, id func(Ref) string) any {
	switch v := v.(type) {
	case Ref:
		return id(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = fill(x, id)
		}
		return out
	}
	return v
}

// ExampleRefs lists the rows act name's example names, by argument in
// sorted order (nested objects hold no row).
func ExampleRefs(name string) []Ref {
	ex := examples[name]
	keys := make([]string, 0, len(ex))
	for k := range ex {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Ref
	for _, k := range keys {
		if r, ok := ex[k].(Ref); ok {
			out = append(out, r)
		}
	}
	return out
}
