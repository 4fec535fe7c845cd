package http_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// Two desks register the same person; the dashboard lists the pair, the
// scrape counts it, an administrator merges it, and a later act queued
// offline on the loser follows the merge (or is refused, for an edit).
func TestDuplicatesThroughTheAdminAPI(t *testing.T) {
	e := startDashboard(t)
	sec := e.roleToken(workflow.RoleSecretary)
	ws := e.Connect(e.t, sec, e.device)
	a, b := uuid.NewString(), uuid.NewString()
	res := ws.PushEach(t, sec, "patient.register",
		map[string]any{"id": a, "firstName": "Aïcha", "lastName": "Ba", "birthDate": "1991-03-04T00:00:00Z", "idNumber": "CI-77"},
		map[string]any{"id": b, "firstName": "aicha", "lastName": " BA ", "birthDate": "1991-03-04T00:00:00Z"})
	for _, r := range res {
		if r.Status != syncproto.StatusApplied {
			t.Fatalf("register: %+v", r)
		}
	}

	var list struct {
		Open  int64 `json:"open"`
		Pairs []struct {
			A, B struct {
				ID           string `json:"id"`
				RegisteredOn string `json:"registeredOn"`
				IDNumber     *string
			}
			Reason string `json:"reason"`
		} `json:"pairs"`
	}
	e.getInto("/api/v1/admin/duplicates", e.admin, &list)
	if list.Open != 1 || len(list.Pairs) != 1 || list.Pairs[0].Reason != "name_birth_date" || list.Pairs[0].A.RegisteredOn != "Every role" {
		t.Fatalf("list: %+v", list)
	}
	if v, _ := admValue(e.scrape(), "wardsync_duplicate_patients_open", nil); v != 1 {
		t.Fatalf("gauge %v", v)
	}

	t.Run("errors", func(t *testing.T) {
		nurse := e.roleToken(workflow.RoleNurse)
		missing := uuid.NewString()
		cases := []struct {
			name, method, path, token string
			body                      any
			status                    int
			code                      workflow.Code
			msg                       string
		}{
			{"no token", "GET", "/api/v1/admin/duplicates", "", nil, http.StatusUnauthorized, workflow.CodeUnauthenticated, ""},
			{"not an admin", "POST", "/api/v1/admin/patients/merge", nurse, map[string]any{"survivorId": a, "loserId": b}, http.StatusForbidden, workflow.CodeForbidden,
				"The admin API is for ADMIN accounts; Infirmier Test is a NURSE."},
			{"workstation admin session", "POST", "/api/v1/admin/patients/merge", e.roleToken(workflow.RoleAdmin), map[string]any{"survivorId": a, "loserId": b}, http.StatusForbidden, workflow.CodeForbidden,
				"A workstation session cannot use the admin API; log in at /admin."},
			{"unknown field", "POST", "/api/v1/admin/patients/merge", e.admin, map[string]any{"survivor": a, "loserId": b}, http.StatusBadRequest, workflow.CodeValidationFailed,
				`The request body is not the expected JSON: json: unknown field "survivor".`},
			{"same ids", "POST", "/api/v1/admin/patients/merge", e.admin, map[string]any{"survivorId": a, "loserId": a}, http.StatusBadRequest, workflow.CodeValidationFailed,
				"A patient cannot be merged into itself: survivorId and loserId are both " + a + "."},
			{"unknown loser", "POST", "/api/v1/admin/patients/merge", e.admin, map[string]any{"survivorId": a, "loserId": missing}, http.StatusNotFound, workflow.CodeNotFound,
				"Patient " + missing + " was not found."},
			{"dismiss without a reason", "POST", "/api/v1/admin/duplicates/dismiss", e.admin, map[string]any{"patientA": a, "patientB": b, "note": ""}, http.StatusBadRequest, workflow.CodeValidationFailed,
				"Say why these are not the same person (the note is kept with the pair)."},
			{"dismiss a pair never flagged", "POST", "/api/v1/admin/duplicates/dismiss", e.admin, map[string]any{"patientA": a, "patientB": missing, "note": "x"}, http.StatusNotFound, workflow.CodeNotFound,
				"Patients " + min(a, missing) + " and " + max(a, missing) + " are not flagged as possible duplicates."},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				st, body := e.do(c.method, c.path, c.token, c.body)
				if st != c.status || body["code"] != string(c.code) || (c.msg != "" && body["message"] != c.msg) {
					t.Fatalf("%d %v", st, body)
				}
			})
		}
	})

	st, body := e.do("POST", "/api/v1/admin/patients/merge", e.admin, map[string]any{"survivorId": a, "loserId": b})
	if st != http.StatusOK || body["loserId"] != b || body["appointments"] != float64(0) {
		t.Fatalf("merge: %d %v", st, body)
	}
	e.getInto("/api/v1/admin/duplicates", e.admin, &list)
	if list.Open != 0 || len(list.Pairs) != 0 {
		t.Fatalf("after the merge: %+v", list)
	}
	if v, _ := admValue(e.scrape(), "wardsync_duplicate_patients_open", nil); v != 0 {
		t.Fatalf("gauge %v", v)
	}
	// Merging again: the loser is gone.
	st, body = e.do("POST", "/api/v1/admin/patients/merge", e.admin, map[string]any{"survivorId": a, "loserId": b})
	if st != http.StatusNotFound || body["message"] != "Patient "+b+" was not found." {
		t.Fatalf("second merge: %d %v", st, body)
	}

	// The reception desk that registered b offline now sends an act on it.
	doc := uuid.NewString()
	res = ws.PushEach(t, sec, "document.attach", map[string]any{"id": doc, "patientId": b, "name": "carte", "type": "id", "url": "files/carte"})
	if res[0].Status != syncproto.StatusApplied {
		t.Fatalf("attach on the loser: %+v", res[0])
	}
	res = ws.PushEach(t, sec, "patient.update", map[string]any{"id": b, "phone": "0102"})
	if r := res[0]; r.Status != syncproto.StatusRejected || r.Code != workflow.CodeNotFound || r.Field != "id" ||
		len(r.Message) < 60 || r.Message[:len("Patient "+b+" was merged into "+a)] != "Patient "+b+" was merged into "+a {
		t.Fatalf("update on the loser: %+v", r)
	}
}
