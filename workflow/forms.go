package workflow

import (
	"fmt"
	"strings"
)

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

// sentences are the refusals a form repeats as the user types, as
// templates with {name} placeholders. The mutators fill them (say); the
// generated frontend rules carry the templates, so that the form and the
// act word a refusal alike.
var sentences = map[string]string{
	"required":                  "{label} must be given.",
	"aboveExclusiveMin":         "{label} {value} {unit} must be above {bound} {unit}.",
	"belowMin":                  "{label} {value} {unit} is below {bound} {unit}.",
	"aboveMax":                  "{label} {value} {unit} is above {bound} {unit}.",
	"diastolicNotBelowSystolic": "Diastolic blood pressure {value} mmHg must be lower than systolic blood pressure {bound} mmHg.",
	"textEmpty":                 "{label} must not be empty.",
	"textTooShort":              "{label} must be at least {bound} characters long (got {n}).",
	"textTooLong":               "{label} must be at most {bound} characters long (got {n}).",
}

// Sentences returns the templates of sentences, keyed by name.
func Sentences() map[string]string {
	out := make(map[string]string, len(sentences))
	for k, v := range sentences {
		out[k] = v
	}
	return out
}

// say fills the sentence named key; kv alternates placeholder names and
// values. Values are inserted as they are: a value holding "{label}" is
// not filled again.
func say(key string, kv ...string) string {
	t, ok := sentences[key]
	if !ok {
		panic("workflow: no sentence " + key)
	}
	pairs := make([]string, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, "{"+kv[i]+"}", kv[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(t)
}

// MaxBillingAmount is MaxBillingCents written as the decimal a form shows.
func MaxBillingAmount() string {
	return fmt.Sprintf("%d.%02d", MaxBillingCents/100, MaxBillingCents%100)
}
