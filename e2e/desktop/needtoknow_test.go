package desktop_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"wardsync/desktop/app"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// Need to know per user: on the demo workstation, which serves all five
// roles and so holds every column, each bound read method, called as each
// role's user, returns (as JSON, as it crosses the Wails binding) no
// column outside that role's workflow.VisibleColumns, and act arguments
// only as far as the role may read their columns. Clinical data is in
// every table: medical history, vitals, consultation notes, billing,
// result interpretations, a document, a queued act and a rejected one.
func TestNeedToKnowPerUser(t *testing.T) {
	defer caught(t)
	w := wardtest.StartServer(t, wardtest.Options{})
	p1, p2, p3 := postgres.SeedID("patient:1"), postgres.SeedID("patient:2"), postgres.SeedID("patient:3")
	wardtest.Exec(t, w.Pool, `UPDATE patients SET "medicalHistory" = '{"allergies":["penicillin"]}'::jsonb, address = '1 rue X', insurance = 'MUT-1' WHERE id = $1`, p1)
	wardtest.Exec(t, w.Pool, `INSERT INTO documents (id, name, type, url, "uploadedBy", "createdAt", "updatedAt", "patientId")
		VALUES ('doc-ntk', 'ECG', 'pdf', 'file:///ecg.pdf', $1, now(), now(), $2)`, postgres.SeedID("user:doctor@hospital.com"), p1)
	a, _ := openApp(t, w, t.TempDir())

	logins := map[workflow.Role][2]string{
		workflow.RoleAdmin: {"admin@hospital.com", "admin123"}, workflow.RoleSecretary: {"secretary@hospital.com", "secretary123"},
		workflow.RoleNurse: {"nurse@hospital.com", "nurse123"}, workflow.RoleDoctor: {"doctor@hospital.com", "doctor123"},
		workflow.RoleBiologist: {"biologist@hospital.com", "biologist123"},
	}
	ids := map[workflow.Role]string{}
	for _, role := range workflow.Roles {
		s := must(a.Login(logins[role][0], logins[role][1]))
		ids[role] = s.User.ID
	}
	waitFor(t, "online and synced", 15*time.Second, func() bool {
		s, _ := a.Status()
		return s.Online && s.LastSyncAt != nil && s.InitialSync == nil
	})

	// A rejected act carrying consultation notes: the doctor completes a
	// consultation offline, which the server meanwhile saw completed.
	w.Stop()
	inConsult := postgres.SeedID("a:inconsult")
	must(act(a, ids[workflow.RoleDoctor], "appointment.completeConsultation", obj{"id": inConsult, "consultationNotes": "NOTES-OF-THE-DOCTOR"}))
	wardtest.Exec(t, w.Pool, `UPDATE appointments SET status = 'CONSULTATION_COMPLETED', "consultationNotes" = 'elsewhere', "consultedAt" = now() WHERE id = $1`, inConsult)
	w.Restart(t)
	must(a.Login(logins[workflow.RoleDoctor][0], logins[workflow.RoleDoctor][1]))
	waitFor(t, "the doctor's act rejected", 20*time.Second, func() bool {
		r, _ := a.Rejected(true)
		return len(r) == 1
	})
	// A queued act carrying vitals and history notes.
	w.Stop()
	must(act(a, ids[workflow.RoleNurse], "appointment.recordVitals", obj{"id": postgres.SeedID("a:checkedin"), "vitals": goodVitals(), "medicalHistoryNotes": "HISTORY-NOTES"}))

	seen := map[string]bool{} // table.column or act.arg shown to some role
	for _, role := range workflow.Roles {
		must(a.Login(logins[role][0], logins[role][1]))
		c := &ntkCheck{t: t, role: role, seen: seen}
		c.object("dashboard", jsonOf(t, must(a.Dashboard(ids[role]))), dashboardTables)
		c.list("search", jsonOf(t, must(a.SearchPatients("", ""))), workflow.TablePatients)
		c.list("duplicates", jsonOf(t, must(a.LikelyDuplicates("Amélie", "Dupont", "1980-02-03"))), workflow.TablePatients)
		for _, p := range []string{p1, p2, p3} {
			tl := jsonOf(t, must(a.Timeline(ids[role], p))).(map[string]any)
			c.row("timeline patient", tl["patient"], workflow.TablePatients)
			for _, en := range tl["entries"].([]any) {
				c.object("timeline entry", en, timelineTables)
			}
		}
		pending := jsonOf(t, must(a.Pending())).([]any)
		rejected := jsonOf(t, must(a.Rejected(true))).([]any)
		if len(pending) != 1 || len(rejected) != 1 {
			t.Fatalf("%s: %d pending, %d rejected, want 1 and 1", role, len(pending), len(rejected))
		}
		c.act("pending", pending[0])
		c.act("rejected", rejected[0])
		c.act("copy", jsonOf(t, must(a.CopyRejected(rejected[0].(map[string]any)["id"].(string)))))
	}
	// The check saw the data it guards, for the roles that may read it.
	for _, k := range []string{"appointments.consultationNotes", "patients.medicalHistory", "appointments.billingAmount",
		"results.interpretation", "documents.url", "appointment.completeConsultation.consultationNotes", "appointment.recordVitals.medicalHistoryNotes"} {
		if !seen[k] {
			t.Errorf("no role was shown %s: the test proves nothing about it", k)
		}
	}

	if _, err := a.Dashboard("not-a-user"); app.Format(err).Code != string(workflow.CodeUnauthenticated) {
		t.Errorf("a read for nobody: %v", err)
	}
	must0(a.Logout(ids[workflow.Roles[len(workflow.Roles)-1]])) // the user logged in last
	if _, err := a.Pending(); app.Format(err).Message != app.MsgLogInFirst {
		t.Errorf("a read after logout: %v", err)
	}
}

var dashboardTables = map[string]string{
	"toCheckIn": workflow.TableAppointments, "toClose": workflow.TableAppointments, "unpaid": workflow.TableAppointments,
	"toPrepare": workflow.TableAppointments, "expected": workflow.TableAppointments, "consultations": workflow.TableAppointments,
	"toCollect": workflow.TablePrescriptions, "toReview": workflow.TablePrescriptions,
	"samplesReceived": workflow.TablePrescriptions, "inProgress": workflow.TablePrescriptions,
}

var timelineTables = map[string]string{
	"appointment": workflow.TableAppointments, "prescription": workflow.TablePrescriptions,
	"result": workflow.TableResults, "document": workflow.TableDocuments,
}

type ntkCheck struct {
	t    *testing.T
	role workflow.Role
	seen map[string]bool
}

// object checks the members of v that hold rows (tables names them).
func (c *ntkCheck) object(what string, v any, tables map[string]string) {
	m, _ := v.(map[string]any)
	for k, table := range tables {
		switch x := m[k].(type) {
		case []any:
			c.list(what+"."+k, x, table)
		case map[string]any:
			c.row(what+"."+k, x, table)
		}
	}
}

func (c *ntkCheck) list(what string, v any, table string) {
	l, _ := v.([]any)
	for _, r := range l {
		c.row(what, r, table)
	}
}

// row fails on any column of table the role may not read.
func (c *ntkCheck) row(what string, v any, table string) {
	m, ok := v.(map[string]any)
	if !ok {
		c.t.Errorf("%s %s: not an object: %v", c.role, what, v)
		return
	}
	visible := workflow.VisibleColumns([]workflow.Role{c.role}, table)
	for k, val := range m {
		if !slices.Contains(workflow.Columns(table), k) {
			continue
		}
		if !slices.Contains(visible, k) {
			c.t.Errorf("%s %s: shows %s.%s = %v, which %s may not read", c.role, what, table, k, val, c.role)
			continue
		}
		if val != nil && val != "" {
			c.seen[table+"."+k] = true
		}
	}
}

// act fails on an argument the role may not read shown as typed.
func (c *ntkCheck) act(what string, v any) {
	m := v.(map[string]any)
	name := m["name"].(string)
	args, _ := m["args"].(map[string]any)
	if len(args) == 0 {
		c.t.Errorf("%s %s %s: no arguments", c.role, what, name)
	}
	for arg, val := range args {
		if !workflow.CanReadArg(c.role, name, arg) {
			if s, _ := val.(string); !strings.HasPrefix(s, "hidden (role "+string(c.role)+" may not read ") {
				c.t.Errorf("%s %s: %s.%s = %v, which %s may not read", c.role, what, name, arg, val, c.role)
			}
			continue
		}
		c.seen[name+"."+arg] = true
	}
}

// jsonOf encodes v as Wails does for the UI and decodes it generically.
func jsonOf(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func must0(err error) {
	if err != nil {
		panic(err)
	}
}
