package desktop

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"

	"wardsync/desktop/sqlite"
	"wardsync/workflow"
)

// Need to know on a shared workstation. The server sends a workstation
// every column that any of its roles may read, so a NURSE+DOCTOR desk
// holds consultation notes. What the engine hands the UI is therefore cut
// down again to what the logged-in user's own role may read
// (workflow.VisibleColumns): ForRole zeroes the hidden fields of what the
// engine returns, and MarshalFor, which the Wails adapter uses for every
// read it returns, leaves them out of the JSON altogether, so a column the
// user may not read never crosses the binding. Act arguments (queued and
// rejected acts) are cut by the column each argument writes
// (workflow.RedactArgs).

// rowTables says which table each row type holds.
var rowTables = map[reflect.Type]string{
	reflect.TypeFor[workflow.Patient]():      workflow.TablePatients,
	reflect.TypeFor[workflow.Appointment]():  workflow.TableAppointments,
	reflect.TypeFor[workflow.Prescription](): workflow.TablePrescriptions,
	reflect.TypeFor[workflow.Result]():       workflow.TableResults,
	reflect.TypeFor[workflow.Document]():     workflow.TableDocuments,
}

// derivedColumns are the fields of the list views that copy a column of
// another table (a patient's name beside an appointment).
var derivedColumns = map[reflect.Type]map[string][2]string{
	reflect.TypeFor[sqlite.AppointmentView](): {
		"patientFirstName": {workflow.TablePatients, "firstName"},
		"patientLastName":  {workflow.TablePatients, "lastName"},
		"doctorName":       {workflow.TableUsers, "name"},
	},
	reflect.TypeFor[sqlite.PrescriptionView](): {
		"patientFirstName": {workflow.TablePatients, "firstName"},
		"patientLastName":  {workflow.TablePatients, "lastName"},
		"doctorName":       {workflow.TableUsers, "name"},
		"nurseName":        {workflow.TableUsers, "name"},
		"resultId":         {workflow.TableResults, "id"},
	},
}

// actTypes are the types that carry an act's name and arguments.
var actTypes = map[reflect.Type]bool{
	reflect.TypeFor[PendingAct]():         true,
	reflect.TypeFor[sqlite.RejectedAct](): true,
}

// readable reports whether role may read field of a value of type t.
func readable(role workflow.Role, t reflect.Type, field string) bool {
	if table := rowTables[t]; table != "" && isColumn(table, field) {
		return workflow.CanRead([]workflow.Role{role}, table, field)
	}
	if tc, ok := derivedColumns[t][field]; ok {
		return workflow.CanRead([]workflow.Role{role}, tc[0], tc[1])
	}
	return true
}

func isColumn(table, column string) bool {
	for _, c := range workflow.Columns(table) {
		if c == column {
			return true
		}
	}
	return false
}

// VisibleArgs is an act's arguments as role may see them: each argument
// whose column role may not read replaced by the sentence saying so.
func VisibleArgs(role workflow.Role, name string, args json.RawMessage) json.RawMessage {
	if len(args) == 0 {
		return args
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(args)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		b, _ := json.Marshal(workflow.HiddenArg(role, name, "(arguments)"))
		return b
	}
	b, err := json.Marshal(workflow.RedactArgs(role, name, m))
	if err != nil {
		return nil
	}
	return b
}

// MarshalFor encodes v as JSON with only what role may read: a hidden
// column is left out (not sent empty), a hidden act argument reads
// "hidden (role … may not read …)".
func MarshalFor(role workflow.Role, v any) ([]byte, error) {
	return json.Marshal(project(role, reflect.ValueOf(v), ""))
}

// ForRole zeroes, in place, every field of *v that role may not read, and
// hides act arguments likewise. v is a pointer to what a read returned.
func ForRole[T any](role workflow.Role, v *T) {
	zero(role, reflect.ValueOf(v).Elem())
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// project turns v into plain JSON values (maps, slices, scalars), leaving
// out what role may not read. It follows encoding/json's rules for the
// types the engine returns: json tags, omitempty, embedded structs,
// Marshalers such as time.Time and json.RawMessage.
//
// act is the name of the act whose fields are being projected (inside a
// queued or rejected act): a rejection's sentence there is cut like the
// argument it quotes (workflow.RedactMessage).
func project(role workflow.Role, v reflect.Value, act string) any {
	if !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if v.Kind() == reflect.Pointer && v.Type().Implements(marshalerType) && !rowOrView(v.Elem().Type()) {
			return marshalled(v)
		}
		return project(role, v.Elem(), act)
	}
	if v.Type().Implements(marshalerType) {
		return marshalled(v)
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == rejectionType && act != "" {
			r := v.Interface().(workflow.Rejection)
			r.Message = workflow.RedactMessage(role, act, r.Field, r.Message)
			v = reflect.ValueOf(r)
		}
		out := map[string]any{}
		projectFields(role, v, out)
		return out
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		fallthrough
	case reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = project(role, v.Index(i), act)
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			out[it.Key().String()] = project(role, it.Value(), act)
		}
		return out
	default:
		return v.Interface()
	}
}

func rowOrView(t reflect.Type) bool {
	_, view := derivedColumns[t]
	return rowTables[t] != "" || view || actTypes[t]
}

func marshalled(v reflect.Value) any {
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return nil
	}
	return json.RawMessage(b)
}

// projectFields puts the visible fields of struct v into out: embedded
// structs first, so that the outer fields win as in encoding/json.
func projectFields(role workflow.Role, v reflect.Value, out map[string]any) {
	t := v.Type()
	act := ""
	if actTypes[t] {
		act = v.FieldByName("Name").String()
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _ := jsonName(f)
		if !f.Anonymous || name != "" || name == "-" {
			continue
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		if fv.Kind() == reflect.Struct {
			projectFields(role, fv, out)
		}
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, omitEmpty := jsonName(f)
		if name == "-" || !f.IsExported() || (f.Anonymous && name == "") {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fv := v.Field(i)
		if omitEmpty && emptyValue(fv) {
			continue
		}
		if !readable(role, t, name) {
			continue
		}
		out[name] = project(role, fv, act)
	}
	if actTypes[t] {
		if args, ok := out["args"].(json.RawMessage); ok && string(args) != "null" {
			out["args"] = VisibleArgs(role, v.FieldByName("Name").String(), args)
		}
	}
}

// zero clears what role may not read, walking v like project.
func zero(role workflow.Role, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			zero(role, v.Elem())
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes (json.RawMessage) are a value, not rows
		}
		for i := 0; i < v.Len(); i++ {
			zero(role, v.Index(i))
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			name, _ := jsonName(f)
			if name == "" {
				name = f.Name
			}
			if !f.Anonymous && !readable(role, t, name) {
				fv.SetZero()
				continue
			}
			zero(role, fv)
		}
		if actTypes[t] {
			name := v.FieldByName("Name").String()
			args := v.FieldByName("Args")
			args.SetBytes(VisibleArgs(role, name, args.Bytes()))
			for i := 0; i < t.NumField(); i++ {
				redactRejection(role, name, v.Field(i))
			}
		}
	}
}

// emptyValue is encoding/json's omitempty test.
func emptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

var rejectionType = reflect.TypeFor[workflow.Rejection]()

// redactRejection cuts the sentence of a rejection of act name (a field
// of a queued or rejected act) as workflow.RedactMessage says.
func redactRejection(role workflow.Role, name string, fv reflect.Value) {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return
		}
		fv = fv.Elem()
	}
	if fv.Type() != rejectionType || !fv.CanAddr() {
		return
	}
	r := fv.Addr().Interface().(*workflow.Rejection)
	r.Message = workflow.RedactMessage(role, name, r.Field, r.Message)
}

func jsonName(f reflect.StructField) (name string, omitEmpty bool) {
	tag := f.Tag.Get("json")
	name, opts, _ := strings.Cut(tag, ",")
	for _, o := range strings.Split(opts, ",") {
		if o == "omitempty" {
			omitEmpty = true
		}
	}
	return name, omitEmpty
}

// viewer is the role whose eyes a read is for: the role of userID's
// session on this workstation.
func (e *Engine) viewer(ctx context.Context, userID string) (workflow.Role, error) {
	c, err := e.db.CredentialByUser(ctx, userID)
	if sqlite.IsNotFound(err) {
		return "", rejection(workflow.CodeUnauthenticated, MsgNotLoggedIn)
	}
	if err != nil {
		return "", err
	}
	return c.Role, nil
}

// MsgNotLoggedIn refuses a read for someone who has not logged in here.
const MsgNotLoggedIn = "Nobody with that user id has logged in on this workstation; log in first."

// The reads of the UI, each as userID may see it (ForRole). The engine's
// plain reads (Dashboard aside) serve the workstation's own code and
// tests; the Wails adapter calls only these.

// SearchPatientsFor is SearchPatients as userID may see it.
func (e *Engine) SearchPatientsFor(ctx context.Context, userID string, q PatientQuery) ([]workflow.Patient, error) {
	role, err := e.viewer(ctx, userID)
	if err != nil {
		return nil, err
	}
	out, err := e.db.SearchPatients(ctx, q)
	ForRole(role, &out)
	return out, err
}

// LikelyDuplicatesFor is LikelyDuplicates as userID may see it.
func (e *Engine) LikelyDuplicatesFor(ctx context.Context, userID, firstName, lastName, birthDate string) ([]workflow.Patient, error) {
	role, err := e.viewer(ctx, userID)
	if err != nil {
		return nil, err
	}
	out, err := e.db.LikelyDuplicates(ctx, firstName, lastName, birthDate)
	ForRole(role, &out)
	return out, err
}

// PendingFor is Pending as userID may see it: other users' acts are
// listed, their arguments only as far as userID's role may read them.
func (e *Engine) PendingFor(ctx context.Context, userID string) ([]PendingAct, error) {
	role, err := e.viewer(ctx, userID)
	if err != nil {
		return nil, err
	}
	out, err := e.Pending(ctx)
	ForRole(role, &out)
	return out, err
}

// RejectedFor is Rejected as userID may see it.
func (e *Engine) RejectedFor(ctx context.Context, userID string, includeResolved bool) ([]RejectedAct, error) {
	role, err := e.viewer(ctx, userID)
	if err != nil {
		return nil, err
	}
	out, err := e.Rejected(ctx, includeResolved)
	ForRole(role, &out)
	return out, err
}

// CopyRejectedFor is CopyRejected as userID may see it.
func (e *Engine) CopyRejectedFor(ctx context.Context, userID, id string) (name string, args json.RawMessage, err error) {
	role, err := e.viewer(ctx, userID)
	if err != nil {
		return "", nil, err
	}
	name, args, err = e.CopyRejected(ctx, id)
	return name, VisibleArgs(role, name, args), err
}

// ViewerRole is the role userID reads with on this workstation.
func (e *Engine) ViewerRole(ctx context.Context, userID string) (workflow.Role, error) {
	return e.viewer(ctx, userID)
}
