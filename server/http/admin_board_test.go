package http

import (
	"testing"

	"wardsync/workflow"
)

// The board's tables name real acts.
func TestBoardTablesNameRealActs(t *testing.T) {
	known := map[string]bool{}
	for _, n := range workflow.Names() {
		known[n] = true
	}
	for name := range enteredStatus {
		if !known[name] {
			t.Errorf("enteredStatus names unknown act %s", name)
		}
	}
	for _, q := range boardQueues {
		if !known[q.next] || len(workflow.AllowedRoles(q.next)) == 0 {
			t.Errorf("queue %s/%s: next act %s unknown", q.table, q.status, q.next)
		}
	}
}
