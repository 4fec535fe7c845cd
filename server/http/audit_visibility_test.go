package http_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"wardsync/workflow"
)

// The audit API never shows ADMIN an argument whose column ADMIN may not
// read: every act, with every argument it takes, is pushed (most are
// refused, and a refused act's arguments are recorded too), and each
// argument of each entry is checked against workflow.VisibleColumns.
func TestAuditShowsOnlyReadableArgs(t *testing.T) {
	e := startDashboard(t)
	doc := e.roleToken(workflow.RoleDoctor)
	ws := e.Connect(e.t, doc, e.device)
	names := append(workflow.Names(), workflow.CloseRejected)
	sent := map[string]map[string]any{}
	for _, name := range names {
		args := map[string]any{}
		for _, arg := range workflow.ArgNames(name) {
			args[arg] = "secret-" + arg
		}
		if name == workflow.CloseRejected {
			args = map[string]any{"id": "secret-id", "reason": "secret-reason"}
		}
		ws.PushEach(t, doc, name, args)
		sent[name] = args
	}

	admin := workflow.RoleAdmin
	st, body := e.do("GET", "/api/v1/admin/audit?limit=500&device="+url.QueryEscape(e.device), e.admin, nil)
	if st != 200 {
		t.Fatalf("audit: %d %v", st, body)
	}
	seen := map[string]bool{}
	hidden, hiddenMsgs := 0, 0
	for _, it := range body["items"].([]any) {
		entry := it.(map[string]any)
		name := entry["name"].(string)
		want, ok := sent[name]
		if !ok {
			continue
		}
		seen[name] = true
		// A refusal's sentence may quote the refused value: it is hidden
		// like the argument it is about.
		if field, _ := entry["field"].(string); field != "" {
			arg, _, _ := strings.Cut(strings.SplitN(field, "[", 2)[0], ".")
			if !workflow.CanReadArg(admin, name, arg) {
				hiddenMsgs++
				if entry["message"] != workflow.HiddenArg(admin, name, arg) {
					t.Errorf("%s refused on %s: ADMIN reads the sentence %v", name, field, entry["message"])
				}
			}
		}
		got, _ := entry["args"].(map[string]any)
		for arg, v := range want {
			table, column, mapped := workflow.ArgColumn(name, arg)
			readable := name == workflow.CloseRejected || (mapped && slices.Contains(workflow.VisibleColumns([]workflow.Role{admin}, table), column))
			switch {
			case readable && got[arg] != v:
				t.Errorf("%s.%s (%s.%s) readable by ADMIN but shown as %v", name, arg, table, column, got[arg])
			case !readable && got[arg] != "hidden (role ADMIN may not read "+table+"."+column+")":
				t.Errorf("%s.%s (%s.%s) not readable by ADMIN but shown as %v", name, arg, table, column, got[arg])
			case !readable:
				hidden++
			}
		}
	}
	for _, name := range names {
		if !seen[name] {
			t.Errorf("no audit entry of %s", name)
		}
	}
	if hidden == 0 {
		t.Fatal("no argument was hidden: the test proves nothing")
	}
	t.Logf("%d acts, %d arguments and %d refusal sentences hidden from ADMIN", len(seen), hidden, hiddenMsgs)
}
