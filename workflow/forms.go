package workflow

import "fmt"

// The limits a form checks as the user types. The mutators apply them, and
// the frontend's rules file is generated from them (go generate), so that
// the form and the act say the same thing in the same words.

// TextRule is the length rule of one free-text field, in characters.
type TextRule struct {
	Label string `json:"label"`
	Min   int    `json:"min"`
	Max   int    `json:"max"`
}

// actTexts are the free texts of the acts, keyed by the name a form gives
// them (the argument name is ambiguous: several acts call theirs "text").
var actTexts = map[string]TextRule{
	"motif":               {"Reason for the visit", 1, MaxMotifLength},
	"medicalHistoryNotes": {"Medical history notes", 0, MaxNotesLength},
	"consultationNotes":   {"Consultation notes", 1, MaxNotesLength},
	"prescriptionText":    {"Prescription text", 1, MaxNotesLength},
	"resultText":          {"Result text", 1, MaxResultTextLength},
	"interpretation":      {"Interpretation", 0, MaxNotesLength},
	"documentName":        {"Document name", 1, MaxDocumentFieldLength},
	"documentType":        {"Document type", 1, MaxDocumentFieldLength},
	"documentUrl":         {"Document location (url)", 1, MaxDocumentURLLength},
}

// TextRules lists every free-text field a form checks: the patient
// record's texts and the acts' texts.
func TextRules() map[string]TextRule {
	out := map[string]TextRule{}
	for _, f := range patientFields {
		if f.kind == kindText {
			out[f.name] = TextRule{f.label, f.min, f.max}
		}
	}
	for k, r := range actTexts {
		out[k] = r
	}
	return out
}

// textOf reads the argument name as the free text key of actTexts.
func (o *obj) textOf(name, key string, required bool) (string, presence) {
	r, ok := actTexts[key]
	if !ok {
		panic("workflow: no text rule " + key)
	}
	return o.text(name, r.Label, r.Min, r.Max, required)
}

// MaxBillingAmount is MaxBillingCents written as the decimal a form shows.
func MaxBillingAmount() string {
	return fmt.Sprintf("%d.%02d", MaxBillingCents/100, MaxBillingCents%100)
}
