package http_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	httpserver "wardsync/server/http"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"wardsync/workflow"
)

// The shipped alert rules (deploy/prometheus/wardsync-alerts.yml, tested
// by promtool on hand-written series) and the Grafana dashboard beside them
// use only series this server really writes: every wardsync_* name in them
// is in a real scrape, or is one the server writes only when there is
// something to say (the first parked act's expiry).
func TestAlertRulesUseRealMetrics(t *testing.T) {
	used := map[string]bool{}
	for _, f := range []string{"../../deploy/prometheus/wardsync-alerts.yml", "../../deploy/grafana/wardsync-dashboard.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`\bwardsync_[a-z_]+`).FindAll(b, -1) {
			used[strings.TrimSuffix(string(m), "_bucket")] = true
		}
	}
	if len(used) < 15 {
		t.Fatalf("only %d series names found in the rules: %v", len(used), used)
	}
	e := startDashboard(t)
	tok := e.roleToken(workflow.RoleSecretary)
	w := e.Connect(e.t, tok, e.device)
	w.PushEach(t, tok, "patient.register", admPatient("Metrics"))
	// A rejected act, so that the per-code series exist.
	if r := w.PushEach(t, tok, "appointment.checkIn", map[string]any{"id": uuid.NewString()}); r[0].Status != "rejected" {
		t.Fatalf("check-in of no appointment: %+v", r[0])
	}
	have := map[string]bool{}
	for name := range e.scrape() {
		have[name] = true
	}
	descs := make(chan *prometheus.Desc, 16)
	httpserver.NewOpsCollector(e.HTTP).Describe(descs)
	close(descs)
	descName := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range descs {
		if m := descName.FindStringSubmatch(d.String()); m != nil {
			have[m[1]] = true
		}
	}
	var missing []string
	for name := range used {
		if !have[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the alert rules use series the server does not write: %v", missing)
	}
}
