// Package pipelinetest is the conformance suite of pipeline.Store: every
// act, in every state its row can be in, for every role, run through a
// store's own pipeline. Each store package calls Run with a Harness over
// the real thing (PostgreSQL for the server, a SQLite file for the
// workstation). Every outcome must be the one the workflow's tables say
// (applied, waiting, or refused with the expected code), and its code and
// sentence must be the very ones in workflow/testdata/outcomes.golden (the
// rule table's expected answers, kept beside it), which every store is
// held to: the same act in the same state gets the same answer on
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

var update = flag.Bool("pipelinetest.update", false, "rewrite workflow/testdata/outcomes.golden from the store under test")

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

// rows are one case's row ids.
type rows struct{ patient, appt, rx, result, fresh string }

func rowsOf(key string) rows {
	return rows{patient: id(key, "patient"), appt: id(key, "appointment"), rx: id(key, "prescription"),
		result: id(key, "result"), fresh: id(key, "fresh")}
}

// of is the case's row of table (a document is the case's fresh row: no
// case makes two).
func (r rows) of(table string) string {
	byTable := map[string]string{workflow.TablePatients: r.patient, workflow.TableAppointments: r.appt,
		workflow.TablePrescriptions: r.rx, workflow.TableResults: r.result}
	if id, ok := byTable[table]; ok {
		return id
	}
	return r.fresh
}

// ids resolves the rows of an act's example: a new row is the case's row
// of its table, or the fresh id when fresh is set (the act under test
// makes a row of its own, not the one the setup may have made).
func (r rows) ids(fresh bool) func(workflow.Ref) string {
	return func(ref workflow.Ref) string {
		switch {
		case ref.Table == workflow.TableUsers:
			return userOf(ref.Role).ID
		case ref.Other, ref.New && fresh:
			return r.fresh
		}
		return r.of(ref.Table)
	}
}

// step is one act a case performs: by whom, with which arguments.
type step struct {
	name string
	role workflow.Role
	args func(r rows) json.RawMessage
}

// exampleOf is act name's example (workflow.Example) on a case's rows.
func exampleOf(name string, fresh bool) func(r rows) json.RawMessage {
	return func(r rows) json.RawMessage {
		b, _ := workflow.Example(name, r.ids(fresh))
		return b
	}
}

// stepOf is act name as a setup step: its example, by the first role the
// rule table names for it that works on a ward (not ADMIN).
func stepOf(name string) step {
	roles := workflow.AllowedRoles(name)
	role := roles[0]
	for _, r := range roles {
		if r != workflow.RoleAdmin {
			role = r
			break
		}
	}
	return step{name, role, exampleOf(name, false)}
}

// needed lists the tables of the existing rows act name's example names.
func needed(name string) []string {
	var out []string
	for _, ref := range workflow.ExampleRefs(name) {
		if !ref.New && !ref.Other && ref.Table != workflow.TableUsers && !slices.Contains(out, ref.Table) {
			out = append(out, ref.Table)
		}
	}
	return out
}

// makesRow reports whether act name's example makes a new row.
func makesRow(name string) bool {
	return slices.ContainsFunc(workflow.ExampleRefs(name), func(r workflow.Ref) bool { return r.New })
}

// creatorOf names the act whose example makes a new row of table.
func creatorOf(table string) string {
	for _, n := range workflow.Names() {
		for _, ref := range workflow.ExampleRefs(n) {
			if ref.New && ref.Table == table {
				return n
			}
		}
	}
	return ""
}

// reach lists the acts that bring a new row of table to status, read from
// the rule table (workflow.Transitions): the act that creates the row,
// then the shortest run of transitions, in declaration order.
func reach(table, status string) ([]string, error) {
	type node struct {
		status string
		acts   []string
	}
	ts := workflow.Transitions()
	var queue []node
	for _, t := range ts {
		if t.Table == table && len(t.From) == 0 && t.To != "" {
			queue = append(queue, node{t.To, []string{t.Act}})
		}
	}
	seen := map[string]bool{}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n.status] {
			continue
		}
		seen[n.status] = true
		if n.status == status {
			return n.acts, nil
		}
		for _, t := range ts {
			if t.Table == table && t.To != "" && slices.Contains(t.From, n.status) {
				queue = append(queue, node{t.To, append(slices.Clone(n.acts), t.Act)})
			}
		}
	}
	return nil, fmt.Errorf("no run of acts brings a new row of %s to %s", table, status)
}

// plan is a case's setup: the steps that make the rows its act needs.
type plan struct {
	steps []step
	made  map[string]bool // the tables whose case row exists
	err   error
}

func newPlan() *plan { return &plan{made: map[string]bool{}} }

// add appends act name, after the acts that make the rows it names.
func (p *plan) add(name string) {
	p.needs(name)
	p.steps = append(p.steps, stepOf(name))
	for _, ref := range workflow.ExampleRefs(name) {
		if ref.New {
			p.made[ref.Table] = true
		}
	}
}

// needs makes every existing row act name's example names.
func (p *plan) needs(name string) *plan {
	for _, t := range needed(name) {
		if !p.made[t] {
			p.ensure(t)
		}
	}
	return p
}

// ensure makes the case's row of table: the act that creates it, after
// the run that brings the row that act needs to where it applies.
func (p *plan) ensure(table string) {
	c := creatorOf(table)
	if c == "" {
		p.fail(fmt.Errorf("no act's example makes a row of %s", table))
		return
	}
	if t, want, _, _, _, ok := workflow.Path(c); ok {
		p.reach(t, want[0])
	}
	p.add(c)
}

// reach brings the case's row of table to status.
func (p *plan) reach(table, status string) *plan {
	acts, err := reach(table, status)
	if err != nil {
		p.fail(err)
	}
	for _, a := range acts {
		p.add(a)
	}
	return p
}

func (p *plan) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// lacks reports whether a row act name's example names is not made.
func (p *plan) lacks(name string) bool {
	return slices.ContainsFunc(needed(name), func(t string) bool { return !p.made[t] })
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
// (workflow.Names) with its example's arguments (workflow.Example); every
// state of its row (workflow.Path, each reached by the rule table's
// transitions), or for an act with no path whether its row is new or its
// id taken, or whether the rows it names exist; malformed arguments; and
// every role (workflow.Roles, workflow.AllowedRoles).
func Cases() ([]Case, error) {
	var out []Case
	for _, name := range workflow.Names() {
		if _, ok := workflow.Example(name, func(workflow.Ref) string { return "" }); !ok {
			return nil, fmt.Errorf("act %s has no example in package workflow", name)
		}
		allowed := workflow.AllowedRoles(name)
		table, want, waits, never, _, ok := workflow.Path(name)
		type state struct {
			name string
			plan *plan
			want string
			args func(r rows) json.RawMessage
		}
		var states []state
		switch {
		case ok:
			for _, s := range statusesOf(table) {
				p := newPlan().reach(table, s)
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
				if p.lacks(name) {
					// A row it names exists further along the path only
					// (result.review's result).
					w = string(workflow.CodeNotFound)
				}
				states = append(states, state{s, p, w, exampleOf(name, true)})
			}
		case makesRow(name):
			taken := newPlan()
			taken.add(name)
			states = []state{{"new", newPlan().needs(name), "applied", exampleOf(name, true)},
				{"taken id", taken, string(workflow.CodeDuplicateID), exampleOf(name, false)}}
		default:
			states = []state{{"existing", newPlan().needs(name), "applied", exampleOf(name, true)},
				{"missing", newPlan(), string(workflow.CodeNotFound), exampleOf(name, true)}}
		}
		// Arguments that are not an object: refused before any row is
		// read, after the author's role.
		states = append(states, state{malformed, newPlan(), string(workflow.CodeValidationFailed),
			func(rows) json.RawMessage { return json.RawMessage(`["not", "an", "object"]`) }})
		for _, s := range states {
			if s.plan.err != nil {
				return nil, fmt.Errorf("act %s in state %s: %w", name, s.name, s.plan.err)
			}
			for _, role := range workflow.Roles {
				c := Case{Key: name + "/" + s.name + "/" + string(role), Name: name, Role: role, Setup: s.plan.steps, Want: s.want, Args: s.args}
				may := slices.Contains(allowed, role)
				if name == "patient.update" && s.name != malformed {
					// Each role may set its own fields only (the example
					// sets the phone number).
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
	return filepath.Join(filepath.Dir(file), "..", "..", "workflow", "testdata", "outcomes.golden")
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
