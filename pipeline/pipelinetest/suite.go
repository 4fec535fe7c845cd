// Package pipelinetest is the conformance suite of pipeline.Store: every
// act, in every state its row can be in, for every role, run through a
// store's own pipeline. Each store package calls Run with a Harness over
// the real thing (PostgreSQL for the server, a SQLite file for the
// workstation). Every outcome must be the one the workflow's tables say
// (applied, waiting, or refused with the expected code), and its code and
// sentence must be the very ones in testdata/outcomes.golden, which every
// store is held to: the same act in the same state gets the same answer on
// the workstation and on the server. go test -run Conformance
// -pipelinetest.update rewrites the golden file from the store under test.
package pipelinetest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"wardsync/workflow"
)

var update = flag.Bool("pipelinetest.update", false, "rewrite pipeline/pipelinetest/testdata/outcomes.golden from the store under test")

// T0 is when each case's first act occurs; its acts follow a minute apart,
// so that the times its sentences give are the same on every store.
var T0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Users are the people of the suite, one per role and a second doctor; a
// harness gives its store exactly these ids and names.
var Users = []workflow.User{
	{ID: "11111111-1111-4111-8111-111111111111", Name: "Secrétaire Test", Email: "secretaire@test.example", Role: workflow.RoleSecretary},
	{ID: "22222222-2222-4222-8222-222222222222", Name: "Infirmier Test", Email: "infirmier@test.example", Role: workflow.RoleNurse},
	{ID: "33333333-3333-4333-8333-333333333333", Name: "Dr Test", Email: "docteur@test.example", Role: workflow.RoleDoctor},
	{ID: "44444444-4444-4444-8444-444444444444", Name: "Bio Test", Email: "biologiste@test.example", Role: workflow.RoleBiologist},
	{ID: "66666666-6666-4666-8666-666666666666", Name: "Admin Test", Email: "admin@test.example", Role: workflow.RoleAdmin},
}

// Result is an act's outcome as the suite compares it.
type Result struct {
	Status     string // "applied", "waiting" or "rejected"
	Code       workflow.Code
	Message    string
	Field      string
	WaitingFor string
}

func (r Result) String() string {
	switch r.Status {
	case "waiting":
		return "waiting\t" + r.WaitingFor
	case "rejected":
		return "rejected\t" + string(r.Code) + "\t" + r.Field + "\t" + r.Message
	}
	return r.Status
}

// Env is one store under test, holding Users.
type Env interface {
	// Do performs one act through the store's pipeline, as user, at the
	// moment at, and says what became of it.
	Do(t *testing.T, user workflow.User, name string, args json.RawMessage, at time.Time) Result
}

// Harness opens the stores the suite runs on.
type Harness interface {
	// Open returns a store holding Users and no other row.
	Open(t *testing.T) Env
}

// userOf returns the suite's user of a role.
func userOf(r workflow.Role) workflow.User {
	for _, u := range Users {
		if u.Role == r {
			return u
		}
	}
	panic("pipelinetest: no user of role " + string(r))
}

// id is a fixed UUID for a case's row, so that sentences naming rows are
// the same on every store.
func id(key, what string) string {
	h := sha256.Sum256([]byte(key + "/" + what))
	s := hex.EncodeToString(h[:16])
	return s[0:8] + "-" + s[8:12] + "-4" + s[13:16] + "-8" + s[17:20] + "-" + s[20:32]
}

type obj = map[string]any

func args(v obj) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

const vitals = `{"weight":70,"height":170,"temperature":37,"bloodPressure":{"systolic":120,"diastolic":80},"heartRate":72}`

// rows are one case's row ids.
type rows struct{ patient, appt, rx, result, fresh string }

func rowsOf(key string) rows {
	return rows{patient: id(key, "patient"), appt: id(key, "appointment"), rx: id(key, "prescription"),
		result: id(key, "result"), fresh: id(key, "fresh")}
}

// step is one act a case performs: by whom, with which arguments.
type step struct {
	name string
	role workflow.Role
	args func(r rows) json.RawMessage
}

// steps are the acts of the workflow, each with arguments that are valid
// wherever its row stands.
var steps = map[string]step{
	"patient.register": {"patient.register", workflow.RoleSecretary, func(r rows) json.RawMessage {
		return args(obj{"id": r.patient, "firstName": "Marie", "lastName": "Curie", "birthDate": "1967-11-07T00:00:00Z"})
	}},
	"appointment.schedule": {"appointment.schedule", workflow.RoleSecretary, func(r rows) json.RawMessage {
		return args(obj{"id": r.appt, "patientId": r.patient, "doctorId": userOf(workflow.RoleDoctor).ID,
			"date": "2026-01-06T09:30:00Z", "motif": "Première consultation"})
	}},
	"appointment.checkIn": {"appointment.checkIn", workflow.RoleSecretary, func(r rows) json.RawMessage { return args(obj{"id": r.appt}) }},
	"appointment.recordVitals": {"appointment.recordVitals", workflow.RoleNurse, func(r rows) json.RawMessage {
		return args(obj{"id": r.appt, "vitals": json.RawMessage(vitals), "medicalHistoryNotes": "Asthme"})
	}},
	"appointment.completeConsultation": {"appointment.completeConsultation", workflow.RoleDoctor, func(r rows) json.RawMessage {
		return args(obj{"id": r.appt, "consultationNotes": "Examen normal."})
	}},
	"appointment.close": {"appointment.close", workflow.RoleSecretary, func(r rows) json.RawMessage {
		return args(obj{"id": r.appt, "billingAmount": "25.00", "billingStatus": "PENDING"})
	}},
	"appointment.recordPayment": {"appointment.recordPayment", workflow.RoleSecretary, func(r rows) json.RawMessage {
		return args(obj{"id": r.appt, "billingStatus": "PAID"})
	}},
	"appointment.cancel": {"appointment.cancel", workflow.RoleSecretary, func(r rows) json.RawMessage { return args(obj{"id": r.appt}) }},
	"prescription.create": {"prescription.create", workflow.RoleDoctor, func(r rows) json.RawMessage {
		return args(obj{"id": r.rx, "patientId": r.patient, "text": "Lipid Panel"})
	}},
	"prescription.sendToLab":     {"prescription.sendToLab", workflow.RoleDoctor, func(r rows) json.RawMessage { return args(obj{"id": r.rx}) }},
	"prescription.collectSample": {"prescription.collectSample", workflow.RoleNurse, func(r rows) json.RawMessage { return args(obj{"id": r.rx}) }},
	"prescription.startAnalysis": {"prescription.startAnalysis", workflow.RoleBiologist, func(r rows) json.RawMessage { return args(obj{"id": r.rx}) }},
	"result.create": {"result.create", workflow.RoleBiologist, func(r rows) json.RawMessage {
		return args(obj{"id": r.result, "prescriptionId": r.rx, "text": "Hémoglobine 14 g/dL", "data": obj{"hb": 14}})
	}},
	"document.attach": {"document.attach", workflow.RoleNurse, func(r rows) json.RawMessage {
		return args(obj{"id": r.fresh, "patientId": r.patient, "name": "radio.png", "type": "radio", "url": "files/radio.png"})
	}},
	"result.review": {"result.review", workflow.RoleDoctor, func(r rows) json.RawMessage {
		return args(obj{"id": r.result, "interpretation": "Normal."})
	}},
}

// leadsTo lists, for each status of a row, the acts that bring a new row
// there from nothing (after the patient's registration).
var leadsTo = map[string][]string{
	workflow.TableAppointments + "/" + string(workflow.AppointmentScheduled):             {"appointment.schedule"},
	workflow.TableAppointments + "/" + string(workflow.AppointmentCheckedIn):             {"appointment.schedule", "appointment.checkIn"},
	workflow.TableAppointments + "/" + string(workflow.AppointmentInConsultation):        {"appointment.schedule", "appointment.checkIn", "appointment.recordVitals"},
	workflow.TableAppointments + "/" + string(workflow.AppointmentConsultationCompleted): {"appointment.schedule", "appointment.checkIn", "appointment.recordVitals", "appointment.completeConsultation"},
	workflow.TableAppointments + "/" + string(workflow.AppointmentCompleted):             {"appointment.schedule", "appointment.checkIn", "appointment.recordVitals", "appointment.completeConsultation", "appointment.close"},
	workflow.TableAppointments + "/" + string(workflow.AppointmentCancelled):             {"appointment.schedule", "appointment.cancel"},
	workflow.TablePrescriptions + "/" + string(workflow.PrescriptionCreated):             {"prescription.create"},
	workflow.TablePrescriptions + "/" + string(workflow.PrescriptionSentToLab):           {"prescription.create", "prescription.sendToLab"},
	workflow.TablePrescriptions + "/" + string(workflow.PrescriptionSampleCollected):     {"prescription.create", "prescription.sendToLab", "prescription.collectSample"},
	workflow.TablePrescriptions + "/" + string(workflow.PrescriptionInProgress):          {"prescription.create", "prescription.sendToLab", "prescription.collectSample", "prescription.startAnalysis"},
	workflow.TablePrescriptions + "/" + string(workflow.PrescriptionResultsAvailable):    {"prescription.create", "prescription.sendToLab", "prescription.collectSample", "prescription.startAnalysis", "result.create"},
	workflow.TablePrescriptions + "/" + string(workflow.PrescriptionCompleted):           {"prescription.create", "prescription.sendToLab", "prescription.collectSample", "prescription.startAnalysis", "result.create", "result.review"},
}

// Case is one act, in one state, by one role.
type Case struct {
	Key   string // act/state/role
	Name  string
	Role  workflow.Role
	Setup []step
	Args  func(r rows) json.RawMessage
	// Want is the outcome the workflow's tables give: "applied",
	// "waiting", or the code of the refusal.
	Want string
}

func statusesOf(table string) []string {
	var out []string
	if table == workflow.TableAppointments {
		for _, s := range workflow.AppointmentStatuses {
			out = append(out, string(s))
		}
		return out
	}
	for _, s := range workflow.PrescriptionStatuses {
		out = append(out, string(s))
	}
	return out
}

// Cases generates the matrix from the workflow's tables: every act
// (workflow.Names), every state of its row (workflow.Path; for an act
// with no path, whether its row is new or its id taken) and malformed
// arguments, every role (workflow.Roles, workflow.AllowedRoles).
func Cases() ([]Case, error) {
	var out []Case
	register := steps["patient.register"]
	for _, name := range workflow.Names() {
		allowed := workflow.AllowedRoles(name)
		table, want, waits, never, _, ok := workflow.Path(name)
		type state struct {
			name  string
			setup []step
			want  string
		}
		var states []state
		switch {
		case ok:
			if _, found := steps[name]; !found {
				return nil, fmt.Errorf("act %s has a path but no arguments in the suite", name)
			}
			for _, s := range statusesOf(table) {
				setup := []step{register}
				for _, n := range leadsTo[table+"/"+s] {
					setup = append(setup, steps[n])
				}
				w := ""
				switch {
				case slices.Contains(want, s):
					w = "applied"
				case slices.Contains(waits, s):
					w = "waiting"
				case slices.Contains(never, s):
					w = string(workflow.CodeInvalidTransition)
				default:
					return nil, fmt.Errorf("act %s: state %s is in none of its path's lists", name, s)
				}
				if name == "result.review" && !slices.Contains(leadsTo[table+"/"+s], "result.create") {
					// Its row is the result, which exists from RESULTS_AVAILABLE on.
					w = string(workflow.CodeNotFound)
				}
				states = append(states, state{s, setup, w})
			}
		case name == "patient.merge":
			states = []state{{"two patients", []step{register}, "applied"}}
		case name == "patient.update":
			states = []state{{"existing", []step{register}, "applied"}}
		case name == "patient.register":
			states = []state{{"new", nil, "applied"}, {"taken id", []step{register}, string(workflow.CodeDuplicateID)}}
		case name == "appointment.schedule", name == "prescription.create", name == "document.attach":
			states = []state{{"new", []step{register}, "applied"}, {"taken id", []step{register, steps[name]}, string(workflow.CodeDuplicateID)}}
		default:
			return nil, fmt.Errorf("act %s has no case in the suite", name)
		}
		// Arguments that are not an object: refused before any row is
		// read, after the author's role.
		states = append(states, state{malformed, nil, string(workflow.CodeValidationFailed)})
		for _, s := range states {
			for _, role := range workflow.Roles {
				c := Case{Key: name + "/" + s.name + "/" + string(role), Name: name, Role: role, Setup: s.setup, Want: s.want}
				c.Args = argsFor(name, s.name)
				may := slices.Contains(allowed, role)
				if name == "patient.update" && s.name != malformed {
					// Each role may set its own fields only.
					may = slices.Contains(workflow.PatientFieldWriters("phone"), role)
				}
				if !may || workflow.Online(name) {
					// An act performed on the server only is refused to a
					// workstation before its arguments are read.
					c.Want = string(workflow.CodeForbidden)
				}
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// malformed is the state of a case whose arguments are not an object.
const malformed = "arguments not an object"

// argsFor returns the arguments of the act under test.
func argsFor(name, state string) func(r rows) json.RawMessage {
	if state == malformed {
		return func(rows) json.RawMessage { return json.RawMessage(`["not", "an", "object"]`) }
	}
	switch name {
	case "patient.merge":
		return func(r rows) json.RawMessage { return args(obj{"survivorId": r.patient, "loserId": r.fresh}) }
	case "patient.update":
		return func(r rows) json.RawMessage { return args(obj{"id": r.patient, "phone": "+33 6 00 00 00 00"}) }
	case "document.attach":
		return steps[name].args // its id is the case's fresh one either way
	case "result.create":
		// A new result, whatever result the setup created.
		return func(r rows) json.RawMessage { r.result = r.fresh; return steps[name].args(r) }
	}
	st := steps[name]
	if state != "taken id" && (name == "appointment.schedule" || name == "prescription.create" || name == "patient.register") {
		// A new row: its own id, not the one the setup may have used.
		return func(r rows) json.RawMessage {
			r2 := r
			r2.appt, r2.rx, r2.patient = r.fresh, r.fresh, r.fresh
			if name != "patient.register" {
				r2.patient = r.patient
			}
			return st.args(r2)
		}
	}
	return st.args
}

// Run runs every case on the stores h opens, checks each outcome against
// the workflow's tables, and holds the sentences to the golden file.
func Run(t *testing.T, h Harness) {
	cases, err := Cases()
	if err != nil {
		t.Fatal(err)
	}
	env := h.Open(t)
	got := make(map[string]string, len(cases))
	for _, c := range cases {
		t.Run(c.Key, func(t *testing.T) {
			r := rowsOf(c.Key)
			at := T0
			for _, s := range c.Setup {
				res := env.Do(t, userOf(s.role), s.name, s.args(r), at)
				if res.Status != "applied" {
					t.Fatalf("setup act %s: %s", s.name, res)
				}
				at = at.Add(time.Minute)
			}
			res := env.Do(t, userOf(c.Role), c.Name, c.Args(r), at)
			got[c.Key] = res.String()
			outcome := res.Status
			if outcome == "rejected" {
				outcome = string(res.Code)
			}
			if outcome != c.Want {
				t.Errorf("outcome %s, the workflow's tables say %s", res, c.Want)
			}
		})
	}
	golden(t, cases, got)
}

func goldenPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "outcomes.golden")
}

// golden compares the outcomes with the golden file, line by line.
func golden(t *testing.T, cases []Case, got map[string]string) {
	t.Helper()
	path := goldenPath()
	if *update {
		var b strings.Builder
		for _, c := range cases {
			fmt.Fprintf(&b, "%s\t%s\n", c.Key, got[c.Key])
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -pipelinetest.update to write it)", err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		key, rest, _ := strings.Cut(sc.Text(), "\t")
		want[key] = rest
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		w, ok := want[c.Key]
		switch {
		case !ok:
			t.Errorf("%s: not in %s (run with -pipelinetest.update)", c.Key, path)
		case got[c.Key] == "":
			// The case failed before its act; reported above.
		case got[c.Key] != w:
			t.Errorf("%s:\n got: %s\nwant: %s", c.Key, got[c.Key], w)
		}
	}
	if len(want) != len(cases) {
		t.Errorf("%s holds %d cases, the suite has %d (run with -pipelinetest.update)", path, len(want), len(cases))
	}
}
