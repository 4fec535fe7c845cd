package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// act is one row of the act table (docs/architecture.md, the rule table).
type act struct {
	name  string
	roles []Role // who may perform it, in the order the FORBIDDEN sentence names them
	does  string // completes "A NURSE cannot …"
	table string // the primary row's table (Targets)
	// to is the status the act leaves its row in (the row of path.table,
	// or of table for an act without a path); empty for an act that moves
	// no status: patient acts, document.attach, and appointment.recordPayment,
	// which moves the bill only.
	to string
	// online: performed only on the server (see Online).
	online bool
	// creates: the act inserts its own row of table, whose id its
	// arguments name ("id"); a workstation draws that id.
	creates bool
	// target is the argument holding the primary row's id ("id" when empty).
	target string
	args   []string
	run    func(e *env, o *obj) (Effect, error)
	// path, for an act that moves a row along its status path, says which
	// states it applies in, which earlier ones it waits in, and which it
	// can never come back from; nil for an act with no state to wait for.
	path *path
}

// path is an act's place on its row's status path. Every status of the
// row's table is in exactly one of want, waits and never (a test checks
// it), so that the refusal of every state is decided by this table alone.
type path struct {
	table string   // the row whose status counts (appointments or prescriptions)
	want  []string // the act applies in these
	// waits lists the earlier states: the act came before its predecessor
	// and waits for it; sentence names that predecessor for the nurse.
	waits    []string
	sentence string
	// never lists the states past want, and CANCELLED: the act cannot
	// apply any more, whatever happens next.
	never []string
}

// Path describes where the named act's row must stand: the states it
// applies in, those it waits in (with the sentence shown while it waits)
// and those it can never come back from. ok is false for an act with no
// state rule (inserts, patient.update).
func Path(name string) (table string, want, waits, never []string, sentence string, ok bool) {
	a := acts[name]
	if a == nil || a.path == nil {
		return "", nil, nil, nil, "", false
	}
	p := a.path
	return p.table, append([]string(nil), p.want...), append([]string(nil), p.waits...),
		append([]string(nil), p.never...), p.sentence, true
}

var acts = map[string]*act{}

// declared lists the acts in the order their files declare them (a
// status's buttons are shown in that order: the act that moves the row on
// before the one that stops it).
var declared []*act

func register(a *act) {
	if _, dup := acts[a.name]; dup {
		panic("workflow: act registered twice: " + a.name)
	}
	acts[a.name] = a
	declared = append(declared, a)
}

// Names lists every mutation name, sorted.
func Names() []string {
	out := make([]string, 0, len(acts))
	for n := range acts {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// AllowedRoles lists the roles that may perform the named act at all (for
// patient.update each role is further limited to its own fields). nil for
// an unknown name.
func AllowedRoles(name string) []Role {
	a := acts[name]
	if a == nil {
		return nil
	}
	return append([]Role(nil), a.roles...)
}

// Targets names the primary row an act creates or changes, so that a caller
// can lock it before Apply and name it in a conflict report. Only the "id"
// argument is read; Apply checks everything else.
func Targets(name string, args json.RawMessage) (table, id string, err error) {
	a := acts[name]
	if a == nil {
		return "", "", unknownAct(name)
	}
	// Any keys: Targets only wants the id, and Apply refuses unknown fields anyway.
	o, r := decodeObject(args, "", "The arguments", nil)
	if r != nil {
		return "", "", r
	}
	key := a.target
	if key == "" {
		key = "id"
	}
	id = o.id(key, "The "+key)
	if o.err != nil {
		return "", "", o.err
	}
	return a.table, id, nil
}

// Apply runs the mutator named by m.Name against the rows r returns. It
// returns the effect to write, a *Rejection when the workflow refuses the
// act, or (wrapped, so errors.Is still sees it) any error of r other than
// ErrNotFound, which the caller should treat as transient and retry.
//
// Checks run in a fixed order so that both sides report the same first
// problem: the act's name, the author, the role, whether an online act
// comes from a workstation, the arguments' shape and
// unknown fields, the role's right to each field (patient.*), the values
// (types, ranges; none of this reads a row), the rows (duplicate id,
// missing row or reference), and last the current state.
func Apply(ctx context.Context, r Reader, m Mutation) (Effect, error) {
	a := acts[m.Name]
	if a == nil {
		return Effect{}, unknownAct(m.Name)
	}
	if m.Actor.ID == "" || !m.Actor.Role.Valid() {
		return Effect{}, Reject(CodeUnauthenticated, "The act has no valid author; log in again.")
	}
	if !contains(a.roles, m.Actor.Role) {
		return Effect{}, forbidden(m.Actor.Role, a.does, a.roles, "")
	}
	if a.online && !m.Online {
		return Effect{}, OnlineOnly(m.Name)
	}
	if m.OccurredAt.IsZero() {
		return Effect{}, invalid("occurredAt", "The act has no time of occurrence.")
	}
	if err := ctx.Err(); err != nil {
		return Effect{}, err
	}
	o, rej := decodeObject(m.Args, "", "The arguments", a.args)
	if rej != nil {
		return Effect{}, rej
	}
	e := &env{ctx: ctx, r: r, actor: m.Actor, at: ms(m.OccurredAt), act: a}
	eff, err := a.run(e, o)
	if err != nil {
		return Effect{}, err
	}
	return eff, nil
}

// env is what a mutator works with: the rows, the author, and the instant
// of the act (UTC, milliseconds), which stamps every timestamp it writes.
type env struct {
	ctx   context.Context
	r     Reader
	actor Actor
	at    time.Time
	act   *act
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func wrapRead(kind, id string, err error) error {
	return fmt.Errorf("workflow: reading %s %s: %w", kind, id, err)
}

func notFound(kind, id, field string) *Rejection {
	r := Reject(CodeNotFound, "%s %s was not found.", capitalize(kind), id)
	r.Field = field
	return r
}

// load reads a row that must exist.
func load[T any](e *env, get func(context.Context, string) (*T, error), kind, id, field string) (*T, error) {
	row, err := get(e.ctx, id)
	if err == nil && row != nil {
		return row, nil
	}
	if err == nil || isNotFound(err) {
		return nil, notFound(kind, id, field)
	}
	return nil, wrapRead(kind, id, err)
}

// newOfPatient checks that a new row's id is free and that the patient it
// is for (its patientId) exists.
func newOfPatient[T any](e *env, get func(context.Context, string) (*T, error), kind, id, patientID string) error {
	if err := mustBeNew(e, get, kind, id); err != nil {
		return err
	}
	_, err := load(e, e.r.Patient, "patient", patientID, "patientId")
	return err
}

// mustBeNew checks that an insert's client-generated id is free.
func mustBeNew[T any](e *env, get func(context.Context, string) (*T, error), kind, id string) error {
	row, err := get(e.ctx, id)
	if err == nil && row != nil {
		r := Reject(CodeDuplicateID, "%s %s with id %s already exists.", capitalize(article(kind)), kind, id)
		r.Field = "id"
		return r
	}
	if err == nil || isNotFound(err) {
		return nil
	}
	return wrapRead(kind, id, err)
}

// insert builds an insert that also stamps createdAt and updatedAt.
func (e *env) insert(table, id string, values map[string]any) Op {
	values["id"] = id
	values["createdAt"] = e.at
	values["updatedAt"] = e.at
	return Op{Kind: OpInsert, Table: table, ID: id, Values: values}
}

// update builds a patch that also stamps updatedAt.
func (e *env) update(table, id string, values map[string]any) Op {
	values["updatedAt"] = e.at
	return Op{Kind: OpUpdate, Table: table, ID: id, Values: values}
}

func effect(ops ...Op) Effect { return Effect{Ops: ops} }
