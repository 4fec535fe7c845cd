package workflow

import (
	"encoding/json"
	"strings"
	"time"
)

// Duplicate patients: two offline reception desks may register the same
// person. Both registrations are kept until an administrator merges them
// with patient.merge: everything that referred to the loser (appointments,
// prescriptions, documents; results follow their prescription) moves to the
// survivor, and the loser's row is deleted. The server keeps the loser's
// last row and who merged it (sync.patient_merges), so nothing is lost.
// Which pairs are candidates is decided by the database (docs/duplicates.md).

func init() {
	register(&act{
		name:   "patient.merge",
		roles:  []Role{RoleAdmin},
		does:   "merge two patients' records",
		table:  TablePatients,
		target: "survivorId",
		args:   []string{"survivorId", "loserId"},
		run:    mergePatients,
		online: true,
	})
}

// Online reports whether the named act is performed only on the server,
// through the admin dashboard: its effect depends on rows that no
// workstation's need-to-know replica holds in full (patient.merge moves
// prescriptions, which an ADMIN workstation never receives), so it cannot
// be applied optimistically and queued.
func Online(name string) bool {
	a := acts[name]
	return a != nil && a.online
}

// OnlineOnly is the refusal of an online act sent by a workstation.
func OnlineOnly(name string) *Rejection {
	return Reject(CodeForbidden, "%s is done online from the admin dashboard, not from a workstation: a workstation does not hold every record it changes.", quote(name))
}

func mergePatients(e *env, o *obj) (Effect, error) {
	survivorID := o.id("survivorId", "The surviving patient's id")
	loserID := o.id("loserId", "The merged patient's id")
	if o.err != nil {
		return Effect{}, o.err
	}
	if survivorID == loserID {
		return Effect{}, invalid("loserId", "A patient cannot be merged into itself: survivorId and loserId are both %s.", loserID)
	}
	if _, err := load(e, e.r.Patient, "patient", survivorID, "survivorId"); err != nil {
		return Effect{}, err
	}
	if _, err := load(e, e.r.Patient, "patient", loserID, "loserId"); err != nil {
		return Effect{}, err
	}
	recs, err := e.r.PatientRecords(e.ctx, loserID)
	if err != nil || recs == nil {
		if err == nil || isNotFound(err) {
			return Effect{}, notFound("patient", loserID, "loserId")
		}
		return Effect{}, wrapRead("records of patient", loserID, err)
	}
	var ops []Op
	move := func(table string, ids []string) {
		for _, id := range ids {
			ops = append(ops, e.update(table, id, map[string]any{"patientId": survivorID}))
		}
	}
	move(TableAppointments, recs.Appointments)
	move(TablePrescriptions, recs.Prescriptions)
	move(TableDocuments, recs.Documents)
	ops = append(ops, Op{Kind: OpDelete, Table: TablePatients, ID: loserID})
	return effect(ops...), nil
}

// PatientArg is an argument of an act that names an existing patient.
type PatientArg struct {
	Field string
	// Follows: when the patient was merged away, the act still means the
	// same for the survivor (a new appointment, prescription or document
	// for the person) and is applied to it; otherwise (an edit of the
	// merged record, merging it again) it is refused with MergedAway.
	Follows bool
}

// patientRefs: the arguments of each act that names an existing patient.
var patientRefs = map[string][]PatientArg{
	"appointment.schedule": {{Field: "patientId", Follows: true}},
	"prescription.create":  {{Field: "patientId", Follows: true}},
	"document.attach":      {{Field: "patientId", Follows: true}},
	"patient.update":       {{Field: "id"}},
	// Merging into a record that was itself merged means merging into
	// where it went; merging away a record already merged is too late.
	"patient.merge": {{Field: "survivorId", Follows: true}, {Field: "loserId"}},
}

// PatientArgs lists the arguments of the named act that name an existing
// patient (nil when it names none).
func PatientArgs(name string) []PatientArg {
	return append([]PatientArg(nil), patientRefs[name]...)
}

// Merge is a recorded patient.merge, as acts that arrive later naming the
// loser see it.
type Merge struct {
	LoserID    string
	SurvivorID string
	At         time.Time
	ByName     string
}

// MergedAway is the refusal of an act that names a merged patient in an
// argument that does not follow the merge.
func MergedAway(name string, arg PatientArg, m Merge) *Rejection {
	r := Reject(CodeNotFound, "Patient %s was merged into %s on %s by %s; this %s was meant for the merged record and was not applied: redo it on patient %s if it still applies.",
		m.LoserID, m.SurvivorID, m.At.UTC().Format("2006-01-02 15:04"), m.ByName, actNoun(name), m.SurvivorID)
	r.Field = arg.Field
	return r
}

// Repointed is the audit log's sentence for an act applied to the
// survivor instead of the merged patient it named.
func Repointed(m Merge) string {
	return "Patient " + m.LoserID + " was merged into " + m.SurvivorID + " on " + m.At.UTC().Format("2006-01-02 15:04") +
		" by " + m.ByName + "; this act was applied to " + m.SurvivorID + "."
}

func actNoun(name string) string {
	switch name {
	case "patient.update":
		return "change"
	case "patient.merge":
		return "merge"
	}
	return "act"
}

// WithArg returns args with the top-level text field set to v and the
// other fields' values as sent. It is how an act is re-pointed to a
// merge's survivor.
func WithArg(args json.RawMessage, field string, v string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(args, &m); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	m[field] = b
	return json.Marshal(m)
}

// The name folding of duplicate detection. The server's copy is
// sync.normalize_name (migration 00014), which flags pairs whoever writes;
// this one serves the workstation's "a patient with the same name and
// birth date exists" warning, offline. testdata/normalize_cases.json holds
// the cases both must fold alike (checked here and against PostgreSQL in
// server/postgres).
const (
	foldFrom = "àáâãäåāăąçćĉčďđèéêëēĕėęěĝğģĥìíîïĩīĭįıĵķĺļľłñńņňòóôõöøōŏőŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżž-‐–'’."
	foldTo   = "aaaaaaaaaccccddeeeeeeeeeggghiiiiiiiiijkllllnnnnooooooooorrrsssstttuuuuuuuuuuwyyyzzz      "
)

var foldMap = func() map[rune]rune {
	from, to := []rune(foldFrom), []rune(foldTo)
	if len(from) != len(to) {
		panic("workflow: fold tables differ in length")
	}
	m := make(map[rune]rune, len(from))
	for i, r := range from {
		m[r] = to[i]
	}
	return m
}()

// NormalizeName folds a name for duplicate detection: lower case, common
// Latin accents and ligatures removed, hyphens, apostrophes and dots as
// spaces, runs of spaces as one, no surrounding spaces.
func NormalizeName(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer("æ", "ae", "œ", "oe", "ß", "ss").Replace(s)
	s = strings.Map(func(r rune) rune {
		if f, ok := foldMap[r]; ok {
			return f
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
