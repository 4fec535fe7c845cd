package http_test

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"wardsync/syncproto"
	"wardsync/version"
	"wardsync/workflow"
)

// A server with a minimum release refuses an older workstation at hello
// with UPGRADE_REQUIRED and the sentence IT acts on, closes the socket
// (1008), and records the release, the queue and the sentence for the
// dashboard; the same workstation updated is welcomed, and the dashboard
// shows its new release. /metrics names the server's build.
func TestMinimumWorkstationVersion(t *testing.T) {
	e := startDashboard(t)
	min, err := syncproto.ParseVersion("1.3.0")
	if err != nil {
		t.Fatal(err)
	}
	e.HTTP.SetMinWorkstationVersion(&min)
	tok := e.roleToken(workflow.RoleNurse)
	oldest := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)

	w := e.Dial(t, tok, e.device)
	w.SendFrame(t, &syncproto.Hello{RequestID: "h1", Protocol: syncproto.Version, DeviceID: e.device, Pending: 3, OldestPendingAt: &oldest, ClientVersion: "1.2.0"})
	r := w.Next(t)
	refusal, ok := r.F.(*syncproto.Error)
	if !ok {
		t.Fatalf("hello of 1.2.0 answered with %s", r.Raw)
	}
	const sentence = "this workstation runs 1.2.0; the server needs 1.3.0 or later: ask IT to update it"
	if refusal == nil || refusal.Code != workflow.CodeUpgradeRequired || refusal.Message != sentence || !refusal.Fatal || refusal.RequestID != "h1" {
		t.Fatalf("refusal: %+v; want fatal UPGRADE_REQUIRED: %s", refusal, sentence)
	}
	if code := w.WaitClosed(t); code != websocket.ClosePolicyViolation {
		t.Errorf("close code %d, want %d", code, websocket.ClosePolicyViolation)
	}
	st := e.status()
	d := st.device(e.device)
	if d == nil || d.ClientVersion != "1.2.0" || d.Pending != 3 || d.LastError != sentence {
		t.Fatalf("dashboard after the refusal: %+v", d)
	}
	if st.Instance.MinWorkstationVersion != "1.3.0" || st.Instance.Version != version.Version {
		t.Errorf("instance: %+v", st.Instance)
	}

	// Updated: welcomed, and the table shows the new release.
	e.Dial(t, tok, e.device).Say(t, syncproto.Hello{Pending: 3, OldestPendingAt: &oldest, ClientVersion: "1.3.0-2-gabcdef0"})
	if d := e.status().device(e.device); d == nil || d.ClientVersion != "1.3.0-2-gabcdef0" {
		t.Errorf("dashboard after the update: %+v", d)
	}

	mf := e.scrape()
	if v, ok := admValue(mf, "wardsync_build_info", map[string]string{"version": version.Version, "commit": version.CommitOrVCS()}); !ok || v != 1 {
		t.Errorf("wardsync_build_info: %v %v", v, ok)
	}
	if v, ok := admValue(mf, "wardsync_ready", nil); !ok || v != 1 {
		t.Errorf("wardsync_ready: %v %v", v, ok)
	}
}
