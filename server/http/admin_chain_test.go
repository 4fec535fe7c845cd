package http_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"

	"github.com/google/uuid"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestAdminChainBreaks: an act whose hash does not match its content is
// refused CHAIN_BROKEN, and the dashboard sees it: the audit search filters
// it and shows every act's link, the status counts it per workstation and in
// the totals, and /metrics exports it.
func TestAdminChainBreaks(t *testing.T) {
	e := startDashboard(t)
	sec := e.roleToken(workflow.RoleSecretary)
	ws := e.Connect(e.t, sec, e.device)
	if r := ws.PushEach(t, sec, "patient.register", admPatient("Chaine"))[0]; r.Status != syncproto.StatusApplied {
		t.Fatalf("%+v", r)
	}

	// The next act, its args edited after it was hashed.
	ws.Seq++
	m := []syncproto.Mutation{{Seq: ws.Seq, ID: uuid.NewString(), Name: "patient.register", Args: mustMarshal(t, admPatient("Honnete")),
		OccurredAt: time.Now().UTC().Truncate(time.Millisecond), SessionID: sec}}
	if err := wardtest.Author(ws.Chain, m); err != nil {
		t.Fatal(err)
	}
	m[0].Args = mustMarshal(t, admPatient("Falsifie"))
	raw, err := syncproto.Encode(&syncproto.Push{RequestID: "tampered", Mutations: m})
	if err != nil {
		t.Fatal(err)
	}
	ws.SendRaw(t, raw) // as it is: SendFrame would author it again
	r := ws.WaitFor(t, "tampered").F.(*syncproto.PushResult).Results[0]
	want := "Act 2's content does not match its hash (modified after it was written)."
	if r.Status != syncproto.StatusRejected || r.Code != workflow.CodeChainBroken || r.Message != want {
		t.Fatalf("tampered act: %+v", r)
	}

	var page struct {
		Items []httpserver.AuditEntryJSON `json:"items"`
	}
	e.getInto("/api/v1/admin/audit?chain=broken", e.admin, &page)
	if len(page.Items) != 1 {
		t.Fatalf("chain=broken: %+v", page.Items)
	}
	b := page.Items[0]
	if b.Seq != 2 || b.Code != "CHAIN_BROKEN" || b.Message != want || b.Chain.Status != "broken-content" || b.Chain.Hash != m[0].Hash ||
		b.Chain.PrevHash != m[0].PrevHash || b.Chain.ClaimedAuthor != m[0].AuthorID || b.DeviceName == "" || b.ReceivedAt.IsZero() || b.OccurredAt.IsZero() {
		t.Fatalf("broken entry: %+v", b)
	}
	e.getInto("/api/v1/admin/audit", e.admin, &page)
	if len(page.Items) != 2 || page.Items[1].Chain.Status != "ok" || len(page.Items[1].Chain.Hash) != 64 || page.Items[1].Author == nil {
		t.Fatalf("audit: %+v", page.Items)
	}
	if st, body := e.do("GET", "/api/v1/admin/audit?chain=maybe", e.admin, nil); st != http.StatusBadRequest || body["code"] != "VALIDATION_FAILED" ||
		body["message"] != `chain must be "broken" or left out.` {
		t.Fatalf("chain=maybe: %d %v", st, body)
	}

	status := e.status()
	if d := status.device(e.device); d.Mutations.ChainBreaks != 1 || status.Totals.ChainBreaks != 1 {
		t.Fatalf("status: device %+v totals %+v", d.Mutations, status.Totals)
	}
	if got, ok := admValue(e.scrape(), "wardsync_device_chain_breaks_total", map[string]string{"device": e.device}); !ok || got != 1 {
		t.Fatalf("wardsync_device_chain_breaks_total = %v (%v)", got, ok)
	}
}

func mustMarshal(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return json.RawMessage(strings.TrimSpace(string(b)))
}
