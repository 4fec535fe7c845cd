package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// The review queue of rejected acts through the real server: a workstation
// closes one of its rejected acts with a reason (the bookkeeping act
// rejected.close), re-issues one (reissueOf), an administrator resolves one
// on the dashboard; every resolution reaches the workstation once, in the
// changes frame, and nothing rejected is ever deleted.

// reviewFixture is a server, a nurse on the demo workstation, an
// administrator's dashboard token, and a helper that makes a rejected act.
type reviewFixture struct {
	env   *wardtest.Server
	c     *wardtest.Client
	nurse string
	admin string
}

func newReviewFixture(t *testing.T) *reviewFixture {
	env := wardtest.StartServer(t, wardtest.Options{})
	f := &reviewFixture{env: env, nurse: env.Login(t, workflow.RoleNurse, demo),
		admin: wardtest.LoginAs(t, env.URL(), "admin@hospital.com", "admin123", "")}
	f.c = env.Connect(t, f.nurse, demo)
	return f
}

// rejected pushes an act the nurse may not do and returns it.
func (f *reviewFixture) rejected(t *testing.T) syncproto.Mutation {
	t.Helper()
	m := f.c.Mut("appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, f.nurse, ms(time.Now()))
	if res := f.c.Push(t, m)[0]; res.Status != syncproto.StatusRejected || res.Code != workflow.CodeForbidden {
		t.Fatalf("setup: %+v", res)
	}
	return m
}

func (f *reviewFixture) close(id, reason string, at time.Time) syncproto.Mutation {
	return f.c.Mut(workflow.CloseRejected, map[string]any{"id": id, "reason": reason}, f.nurse, at)
}

func (f *reviewFixture) resolve(t *testing.T, seq int64, note any) (int, map[string]any) {
	t.Helper()
	return wardtest.PostJSON(t, fmt.Sprintf("%s/api/v1/admin/rejected/%s/%d/resolve", f.env.URL(), demo, seq), f.admin, map[string]any{"note": note})
}

// pullResolutions pulls the feed to its end from cursor and returns the
// resolutions handed out, and the new cursor.
func (f *reviewFixture) pullResolutions(t *testing.T, cursor string) ([]syncproto.Resolution, string) {
	t.Helper()
	var out []syncproto.Resolution
	for {
		ch := f.c.Pull(t, cursor, 0)
		out = append(out, ch.Resolutions...)
		cursor = ch.Cursor
		if !ch.More {
			return out, cursor
		}
	}
}

// awaitResolutions pulls from cursor, following the cursor, until n
// resolutions have come (the horizon is cluster-wide: on a loaded machine
// another database's open transaction may hold a fresh commit back for a
// moment), then returns them and the cursor.
func (f *reviewFixture) awaitResolutions(t *testing.T, cursor string, n int) ([]syncproto.Resolution, string) {
	t.Helper()
	var out []syncproto.Resolution
	wardtest.Eventually(t, 30*time.Second, func() string {
		got, next := f.pullResolutions(t, cursor)
		out, cursor = append(out, got...), next
		if len(out) < n {
			return fmt.Sprintf("%d of %d resolutions so far", len(out), n)
		}
		return ""
	})
	return out, cursor
}

type auditItem struct {
	Seq        int64  `json:"seq"`
	MutationID string `json:"mutationId"`
	Name       string `json:"name"`
	Outcome    string `json:"outcome"`
	Resolution *struct {
		At    time.Time `json:"at"`
		By    string    `json:"by"`
		Note  string    `json:"note"`
		Kind  string    `json:"kind"`
		BySeq *int64    `json:"bySeq"`
	} `json:"resolution"`
	ReissueOf *struct {
		MutationID string `json:"mutationId"`
		Seq        *int64 `json:"seq"`
	} `json:"reissueOf"`
}

func (f *reviewFixture) audit(t *testing.T, query string) []auditItem {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.env.URL()+"/api/v1/admin/"+query, nil)
	req.Header.Set("Authorization", "Bearer "+f.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct{ Items []auditItem }
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", query, resp.StatusCode, err)
	}
	return page.Items
}

func (f *reviewFixture) auditSeq(t *testing.T, seq int64) auditItem {
	t.Helper()
	for _, it := range f.audit(t, "audit?device="+demo+"&limit=500") {
		if it.Seq == seq {
			return it
		}
	}
	t.Fatalf("seq %d not in the audit log", seq)
	return auditItem{}
}

func TestReviewCloseFromWorkstation(t *testing.T) {
	t.Parallel()
	f := newReviewFixture(t)
	_, cursor := f.pullResolutions(t, "")
	r := f.rejected(t)
	closedAt := ms(time.Now().Add(-time.Minute)) // closed offline a minute before it was sent
	closing := f.close(r.ID, "Patient went home; reception will reschedule.", closedAt)
	if res := f.c.Push(t, closing)[0]; res.Status != syncproto.StatusApplied {
		t.Fatalf("close: %+v", res)
	}

	// The audit log: who closed it, when (the workstation's moment) and why,
	// and the closing act itself as an applied bookkeeping act.
	it := f.auditSeq(t, r.Seq)
	if it.Resolution == nil || it.Resolution.By != "Infirmier Test" || it.Resolution.Note != "Patient went home; reception will reschedule." ||
		it.Resolution.Kind != "closed" || !it.Resolution.At.Equal(closedAt) || it.Resolution.BySeq == nil || *it.Resolution.BySeq != closing.Seq {
		t.Fatalf("resolution: %+v", it.Resolution)
	}
	if c := f.auditSeq(t, closing.Seq); c.Name != workflow.CloseRejected || c.Outcome != "applied" {
		t.Fatalf("closing act: %+v", c)
	}
	for _, u := range f.audit(t, "rejected?unresolved=true&device="+demo) {
		if u.Seq == r.Seq {
			t.Fatal("a closed act is still listed unresolved")
		}
	}

	// The workstation learns it once, along the feed.
	got, cursor := f.awaitResolutions(t, cursor, 1)
	if len(got) != 1 || got[0].ID != r.ID || got[0].Seq != r.Seq || got[0].Kind != syncproto.ResolutionClosed ||
		got[0].ResolvedBy != "Infirmier Test" || got[0].Note != "Patient went home; reception will reschedule." || got[0].ReissuedAs != "" {
		t.Fatalf("resolutions: %+v", got)
	}
	if again, _ := f.pullResolutions(t, cursor); len(again) != 0 {
		t.Fatalf("delivered twice: %+v", again)
	}
	// A fresh replica (empty cursor) learns it with its snapshot.
	if snap, _ := f.awaitResolutions(t, "", 1); len(snap) != 1 || snap[0].ID != r.ID {
		t.Fatalf("snapshot resolutions: %+v", snap)
	}
}

func TestReviewReissue(t *testing.T) {
	t.Parallel()
	f := newReviewFixture(t)
	_, cursor := f.pullResolutions(t, "")
	r := f.rejected(t)
	// Re-issued adapted: the nurse records vitals instead of a check-in.
	again := f.c.Mut("appointment.recordVitals", map[string]any{"id": seedID("a:checkedin"), "vitals": vitalsArg}, f.nurse, ms(time.Now()))
	again.ReissueOf = r.ID
	if res := f.c.Push(t, again)[0]; res.Status != syncproto.StatusApplied {
		t.Fatalf("reissue: %+v", res)
	}
	orig, next := f.auditSeq(t, r.Seq), f.auditSeq(t, again.Seq)
	note := workflow.ReissueNote(demo, again.Seq)
	if orig.Resolution == nil || orig.Resolution.Kind != "reissued" || orig.Resolution.BySeq == nil || *orig.Resolution.BySeq != again.Seq ||
		orig.Resolution.Note != note || orig.Resolution.By != "Infirmier Test" {
		t.Fatalf("original's resolution: %+v", orig.Resolution)
	}
	if next.ReissueOf == nil || next.ReissueOf.MutationID != r.ID || next.ReissueOf.Seq == nil || *next.ReissueOf.Seq != r.Seq {
		t.Fatalf("re-issue's link: %+v", next.ReissueOf)
	}
	got, _ := f.awaitResolutions(t, cursor, 1)
	if len(got) != 1 || got[0].Kind != syncproto.ResolutionReissued || got[0].ReissuedAs != fmt.Sprintf("%s/%d", demo, again.Seq) || got[0].Note != note {
		t.Fatalf("resolutions: %+v", got)
	}

	// A re-issue that is itself rejected resolves nothing; a link to an act
	// the server never recorded is kept and resolves nothing either: the
	// clinical act is never refused for its link.
	r2 := f.rejected(t)
	bad := f.c.Mut("appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, f.nurse, ms(time.Now()))
	bad.ReissueOf = r2.ID
	f.c.Push(t, bad)
	if it := f.auditSeq(t, r2.Seq); it.Resolution != nil {
		t.Fatalf("resolved by a rejected re-issue: %+v", it.Resolution)
	}
	unknown := uuid.NewString()
	doc := f.c.Mut("document.attach", map[string]any{"id": uuid.NewString(), "patientId": seedID("patient:1"), "name": "scan", "type": "pdf", "url": "u"}, f.nurse, ms(time.Now()))
	doc.ReissueOf = unknown
	if res := f.c.Push(t, doc)[0]; res.Status != syncproto.StatusApplied {
		t.Fatalf("act with a dangling link: %+v", res)
	}
	if it := f.auditSeq(t, doc.Seq); it.ReissueOf == nil || it.ReissueOf.MutationID != unknown || it.ReissueOf.Seq != nil {
		t.Fatalf("dangling link: %+v", it.ReissueOf)
	}
}

func TestReviewAdminResolveReachesWorkstation(t *testing.T) {
	t.Parallel()
	f := newReviewFixture(t)
	_, cursor := f.pullResolutions(t, "")
	r := f.rejected(t)
	if st, body := f.resolve(t, r.Seq, "  Told the ward; nothing to redo.  "); st != 200 {
		t.Fatalf("resolve: %d %v", st, body)
	}
	got, _ := f.awaitResolutions(t, cursor, 1)
	if len(got) != 1 || got[0].ID != r.ID || got[0].ResolvedBy != "Admin Test" || got[0].Note != "Told the ward; nothing to redo." || got[0].Kind != "closed" {
		t.Fatalf("resolutions: %+v", got)
	}
	if it := f.auditSeq(t, r.Seq); it.Resolution == nil || it.Resolution.BySeq != nil || it.Resolution.By != "Admin Test" {
		t.Fatalf("resolution: %+v", it.Resolution)
	}
}

func TestReviewRefusals(t *testing.T) {
	t.Parallel()
	f := newReviewFixture(t)
	r := f.rejected(t)
	applied := f.c.Mut("appointment.recordVitals", map[string]any{"id": seedID("a:checkedin"), "vitals": vitalsArg}, f.nurse, ms(time.Now()))
	f.c.Push(t, applied)
	unknown := uuid.NewString()
	long := strings.Repeat("x", workflow.MaxReasonChars+1)
	emptyMsg := "The reason must not be empty. Say in a few words why this rejected act needs nothing more."

	// From the workstation: each refusal is a rejected result, audited,
	// and the act stays unresolved.
	for _, tc := range []struct {
		name, id, reason string
		code             workflow.Code
		message, field   string
	}{
		{"empty reason", r.ID, "", workflow.CodeValidationFailed, emptyMsg, "reason"},
		{"blank reason", r.ID, " \n\t", workflow.CodeValidationFailed, emptyMsg, "reason"},
		{"reason too long", r.ID, long, workflow.CodeValidationFailed,
			"The reason must be at most 2,000 characters long (got 2,001). Say in a few words why this rejected act needs nothing more.", "reason"},
		{"unknown act", unknown, "done", workflow.CodeNotFound,
			fmt.Sprintf("Workstation %s has no act %s; only an act the server recorded as rejected can be resolved.", demo, unknown), ""},
		{"applied act", applied.ID, "done", workflow.CodeInvalidTransition,
			fmt.Sprintf("Act %d of workstation %s was applied, not rejected; only a rejected act can be resolved.", applied.Seq, demo), ""},
	} {
		t.Run("workstation "+tc.name, func(t *testing.T) {
			res := f.c.Push(t, f.close(tc.id, tc.reason, ms(time.Now())))[0]
			wardtest.CheckRejected(t, res, tc.code, tc.message, tc.field)
			checkAudited(t, f.env, demo, res)
			if it := f.auditSeq(t, r.Seq); it.Resolution != nil {
				t.Fatalf("resolved anyway: %+v", it.Resolution)
			}
		})
	}
	t.Run("workstation unknown field", func(t *testing.T) {
		res := f.c.Push(t, f.c.Mut(workflow.CloseRejected, map[string]any{"id": r.ID, "reason": "ok", "why": "x"}, f.nurse, ms(time.Now())))[0]
		if res.Status != syncproto.StatusRejected || res.Code != workflow.CodeValidationFailed || res.Field != "why" {
			t.Fatalf("%+v", res)
		}
	})

	// From the dashboard.
	for _, tc := range []struct {
		name   string
		seq    int64
		note   any
		status int
		code   workflow.Code
		msg    string
		field  string
	}{
		{"empty note", r.Seq, "", 400, workflow.CodeValidationFailed, emptyMsg, "note"},
		{"no note", r.Seq, nil, 400, workflow.CodeValidationFailed, emptyMsg, "note"},
		{"applied act", applied.Seq, "done", 409, workflow.CodeInvalidTransition,
			fmt.Sprintf("Act %d of workstation %s was applied, not rejected; only a rejected act can be resolved.", applied.Seq, demo), ""},
		{"unknown seq", 999, "done", 404, workflow.CodeNotFound,
			fmt.Sprintf("Workstation %s has no act with seq 999; only an act the server recorded as rejected can be resolved.", demo), ""},
	} {
		t.Run("dashboard "+tc.name, func(t *testing.T) {
			st, body := f.resolve(t, tc.seq, tc.note)
			if st != tc.status || body["code"] != string(tc.code) || body["message"] != tc.msg || (body["field"] != nil && body["field"] != tc.field) || (tc.field != "" && body["field"] != tc.field) {
				t.Fatalf("%d %v", st, body)
			}
		})
	}

	// Twice: the first resolution stands, the second is refused naming it,
	// whichever side comes second.
	closedAt := ms(time.Now())
	if res := f.c.Push(t, f.close(r.ID, "first", closedAt))[0]; res.Status != syncproto.StatusApplied {
		t.Fatalf("first close: %+v", res)
	}
	twice := fmt.Sprintf("Rejected act %d of workstation %s was already resolved by Infirmier Test at %s (%q); a resolution is made once.",
		r.Seq, demo, closedAt.UTC().Format("2006-01-02 15:04 UTC"), "first")
	wardtest.CheckRejected(t, f.c.Push(t, f.close(r.ID, "second", ms(time.Now())))[0], workflow.CodeInvalidTransition, twice, "")
	if st, body := f.resolve(t, r.Seq, "second"); st != 409 || body["code"] != "INVALID_TRANSITION" || body["message"] != twice {
		t.Fatalf("dashboard twice: %d %v", st, body)
	}
	if it := f.auditSeq(t, r.Seq); it.Resolution == nil || it.Resolution.Note != "first" {
		t.Fatalf("first resolution overwritten: %+v", it.Resolution)
	}
}

func TestReviewRejectedNeverDeleted(t *testing.T) {
	t.Parallel()
	f := newReviewFixture(t)
	r := f.rejected(t)
	if st, body := f.resolve(t, r.Seq, "done"); st != 200 {
		t.Fatalf("resolve: %d %v", st, body)
	}
	ctx := context.Background()
	for _, q := range []string{
		`DELETE FROM sync.mutations WHERE outcome = 'rejected'`,
		`DELETE FROM sync.rejection_resolutions`,
	} {
		_, err := f.env.Pool.Exec(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "rejected acts and their resolutions are never deleted") {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if n := wardtest.Count(t, f.env.Pool, `SELECT count(*) FROM sync.mutations m JOIN sync.rejection_resolutions r USING (device_id, seq) WHERE m.mutation_id = $1`, r.ID); n != 1 {
		t.Fatalf("rejected act or its resolution gone: %d", n)
	}
}
