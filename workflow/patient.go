package workflow

import (
	"encoding/json"
	"time"
)

type fieldKind int

const (
	kindText fieldKind = iota
	kindBirthDate
	kindBool
	kindJSON
)

// patientField is one patient column an act may set. The seed limits only
// the names (1–200); the other text limits are ours, generous for a ward
// form, so that one pasted document cannot fill a column every screen shows.
type patientField struct {
	name, label string
	noun        string // completes "A NURSE cannot set …"
	kind        fieldKind
	min, max    int
	nullable    bool
	writers     []Role
	dflt        any // value written by patient.register when not given
}

var (
	frontDesk = []Role{RoleSecretary, RoleAdmin}
	clinical  = []Role{RoleNurse, RoleDoctor}
)

// patientFields are in the seed's column order. Identity, contact and
// consent belong to reception; the medical history to the nurse and the
// doctor, who are the ones allowed to read it.
var patientFields = []patientField{
	{name: "firstName", label: "First name", noun: "the patient's first name", min: 1, max: MaxNameLength, writers: frontDesk},
	{name: "lastName", label: "Last name", noun: "the patient's last name", min: 1, max: MaxNameLength, writers: frontDesk},
	{name: "birthDate", label: "Birth date", noun: "the patient's birth date", kind: kindBirthDate, writers: frontDesk},
	{name: "sex", label: "Sex", noun: "the patient's sex", min: 1, max: 50, writers: frontDesk, dflt: "NON_SPECIFIE"},
	{name: "phone", label: "Phone number", noun: "the patient's phone number", max: 50, writers: frontDesk, dflt: ""},
	{name: "address", label: "Address", noun: "the patient's address", max: 500, writers: frontDesk, dflt: ""},
	{name: "emergencyContact", label: "Emergency contact", noun: "the patient's emergency contact", max: 500, writers: frontDesk, dflt: ""},
	{name: "insurance", label: "Insurance", noun: "the patient's insurance", max: 200, writers: frontDesk, dflt: ""},
	{name: "idNumber", label: "Identity document number", noun: "the patient's identity document number", max: 100, nullable: true, writers: frontDesk},
	{name: "consentMedicalData", label: "Consent to medical data processing", noun: "the patient's consent to medical data processing", kind: kindBool, writers: frontDesk, dflt: false},
	{name: "consentContact", label: "Consent to be contacted", noun: "the patient's consent to be contacted", kind: kindBool, writers: frontDesk, dflt: false},
	{name: "medicalHistory", label: "Medical history", noun: "the patient's medical history", kind: kindJSON, nullable: true, writers: clinical},
}

// PatientFieldWriters tells which roles may set a patient column through
// patient.register and patient.update (nil for a column no act sets).
func PatientFieldWriters(column string) []Role {
	for _, f := range patientFields {
		if f.name == column {
			return append([]Role(nil), f.writers...)
		}
	}
	return nil
}

func patientArgs() []string {
	names := []string{"id"}
	for _, f := range patientFields {
		names = append(names, f.name)
	}
	return names
}

// OldestBirthYears bounds birth dates: a patient born more than 150 years
// before the act is a typing error (1826 for 1926), not a patient.
const OldestBirthYears = 150

// checkFieldRights refuses the first field (in column order) the actor's
// role may not set. It runs before the values are checked: someone who may
// not set a field should not be told how to fix its value first.
func checkFieldRights(e *env, o *obj) error {
	for _, f := range patientFields {
		if o.has(f.name) && !contains(f.writers, e.actor.Role) {
			return forbidden(e.actor.Role, "set "+f.noun, f.writers, f.name)
		}
	}
	return nil
}

// readPatientField returns the column value (string, bool, time.Time,
// json.RawMessage or nil) of one field, and whether it was sent.
func readPatientField(e *env, o *obj, f patientField, required bool) (any, bool) {
	switch f.kind {
	case kindText:
		s, p := o.text(f.name, f.label, f.min, f.max, required)
		switch {
		case p == null && f.nullable:
			return nil, true
		case p == null && f.min > 0:
			o.fail(invalid(f.name, "%s", say("textEmpty", "label", f.label)))
		case p == null:
			o.fail(invalid(f.name, "%s cannot be null; send an empty text to clear it.", f.label))
		case p == given:
			return s, true
		}
	case kindBool:
		b, p := o.boolean(f.name, f.label)
		if p == null {
			o.wrongType(f.name, f.label, "true or false", json.RawMessage("null"))
		}
		if p == given {
			return b, true
		}
	case kindJSON:
		v, p := o.jsonValue(f.name, f.label, true)
		if p == null {
			return nil, true
		}
		if p == given {
			if r := CheckMedicalHistory(f.name, v); r != nil {
				o.fail(r)
				return nil, false
			}
			return v, true
		}
	case kindBirthDate:
		t, p := o.timestamp(f.name, f.label, required)
		if p == null {
			o.missing(f.name, f.label)
		}
		if p != given {
			return nil, false
		}
		switch {
		case !t.Before(e.at):
			o.fail(invalid(f.name, "%s %s must be before the time of the act (%s).", f.label, day(t), e.at.Format("2006-01-02 15:04")))
		case t.Before(e.at.AddDate(-OldestBirthYears, 0, 0)):
			o.fail(invalid(f.name, "%s %s is more than %d years ago.", f.label, day(t), OldestBirthYears))
		default:
			return t, true
		}
	}
	return nil, false
}

// day renders a date, with the time only when there is one (birth dates
// usually fall on midnight).
func day(t time.Time) string {
	t = t.UTC()
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format("2006-01-02 15:04")
}

func init() {
	register(&act{
		name:    "patient.register",
		creates: true,
		roles:   frontDesk,
		does:    "register a patient",
		table:   TablePatients,
		args:    patientArgs(),
		run:     registerPatient,
	})
	register(&act{
		name:  "patient.update",
		roles: []Role{RoleSecretary, RoleAdmin, RoleNurse, RoleDoctor},
		does:  "update a patient's record",
		table: TablePatients,
		args:  patientArgs(),
		run:   updatePatient,
	})
}

// readPatient reads the patient id and the fields an act gives, once the
// author's role may write them (err: the first refusal). A new patient
// (isNew) must be given its names and birth date, and its other fields are
// written out with their defaults rather than left to the columns', so
// that the workstation's replica holds the same row as the server.
func readPatient(e *env, o *obj, isNew bool) (id string, values map[string]any, err error) {
	if err := checkFieldRights(e, o); err != nil {
		return "", nil, err
	}
	id = o.id("id", "The patient id")
	values = map[string]any{}
	for _, f := range patientFields {
		required := isNew && (f.name == "firstName" || f.name == "lastName" || f.name == "birthDate")
		if v, ok := readPatientField(e, o, f, required); ok {
			values[f.name] = v
		} else if isNew && f.dflt != nil {
			values[f.name] = f.dflt
		}
	}
	if o.err != nil {
		return "", nil, o.err
	}
	return id, values, nil
}

func registerPatient(e *env, o *obj) (Effect, error) {
	id, values, err := readPatient(e, o, true)
	if err != nil {
		return Effect{}, err
	}
	if err := mustBeNew(e, e.r.Patient, "patient", id); err != nil {
		return Effect{}, err
	}
	return effect(e.insert(TablePatients, id, values)), nil
}

func updatePatient(e *env, o *obj) (Effect, error) {
	id, values, err := readPatient(e, o, false)
	if err != nil {
		return Effect{}, err
	}
	if len(values) == 0 {
		return Effect{}, invalid("", "Nothing to change: give at least one field besides the id.")
	}
	if _, err := load(e, e.r.Patient, "patient", id, "id"); err != nil {
		return Effect{}, err
	}
	return effect(e.update(TablePatients, id, values)), nil
}
