package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/desktop/sqlite"
	"wardsync/internal/wardtest"
)

// ---- Settled ----

// settledWhy says why a workstation is not yet done ("" when it is): acts
// still queued or awaiting reflection, a cursor short of the feed's head,
// a replica that differs from PostgreSQL.
func settledWhy(ctx context.Context, pool *pgxpool.Pool, st *station) string {
	c, err := st.replica.Counts(ctx)
	if err != nil {
		return err.Error()
	}
	if c.Pending > 0 || c.Unreflected > 0 {
		return fmt.Sprintf("%s: %d acts await an outcome, %d await a pull", st.CLI.Device, c.Pending, c.Unreflected)
	}
	s, err := st.replica.State(ctx)
	if err != nil {
		return err.Error()
	}
	if why := atHead(ctx, pool, s.Cursor); why != "" {
		return st.CLI.Device + ": " + why
	}
	want, err := wardtest.ReadPGState(ctx, pool, st.roles)
	if err != nil {
		return err.Error()
	}
	got, err := wardtest.SQLiteState(ctx, st.replica, st.roles)
	if err != nil {
		return err.Error()
	}
	if d := wardtest.Diff(got, want); d != "" {
		return st.CLI.Device + " (" + roleList(st.roles) + ") differs from PostgreSQL:\n" + d
	}
	return ""
}

// atHead says why a feed cursor is short of the head ("" when no
// committed change lies after it).
func atHead(ctx context.Context, pool *pgxpool.Pool, cursor string) string {
	// f.<xid>.<id>.<feed tag> (docs/protocol.md, "Cursors").
	parts := strings.Split(cursor, ".")
	if len(parts) != 4 || parts[0] != "f" {
		return fmt.Sprintf("cursor %q is not a feed position", cursor)
	}
	var behind int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sync.changes WHERE (xid, id) > ($1::text::xid8, $2::bigint)`, parts[1], parts[2]).Scan(&behind); err != nil {
		return err.Error()
	}
	if behind > 0 {
		return fmt.Sprintf("cursor %s has %d changes after it", cursor, behind)
	}
	return ""
}

// ---- The audit log and the workstations' books ----

type auditRow struct {
	device, id, name, outcome, code, message string
	seq                                      int64
	targetTable, targetID                    string
	args                                     json.RawMessage
}

func readAudit(ctx context.Context, pool *pgxpool.Pool) ([]auditRow, error) {
	rows, err := pool.Query(ctx, `SELECT device_id, seq, mutation_id, name, outcome, COALESCE(code, ''), COALESCE(message, ''),
		COALESCE(target_table, ''), COALESCE(target_id, ''), args::text FROM sync.mutations ORDER BY device_id, seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var a auditRow
		var args string
		if err := rows.Scan(&a.device, &a.seq, &a.id, &a.name, &a.outcome, &a.code, &a.message, &a.targetTable, &a.targetID, &args); err != nil {
			return nil, err
		}
		a.args = json.RawMessage(args)
		out = append(out, a)
	}
	return out, rows.Err()
}

// accepted is an act a workstation reported accepted (act exit 0).
type accepted struct {
	device, id, name string
	seq              int64
}

// checkDelivery: every reported act is in the audit log exactly once, under
// its device and seq; each device's seqs run 1..last without a hole; the
// workstation's outbox is empty; its rejected list is exactly the audit
// log's rejections, with the same code and message; the server's count of
// the device's seqs matches. It returns problems, one per line.
func checkDelivery(ctx context.Context, pool *pgxpool.Pool, stations []*station, reported []accepted, audit []auditRow) []string {
	var bad []string
	byID := map[string][]auditRow{}
	byDevice := map[string][]auditRow{}
	for _, a := range audit {
		byID[a.id] = append(byID[a.id], a)
		byDevice[a.device] = append(byDevice[a.device], a)
	}
	for id, as := range byID {
		if len(as) != 1 {
			bad = append(bad, fmt.Sprintf("mutation %s is in the audit log %d times", id, len(as)))
		}
	}
	for _, r := range reported {
		as := byID[r.id]
		switch {
		case len(as) == 0:
			bad = append(bad, fmt.Sprintf("%s: act %s (%s, seq %d) was accepted but never reached the audit log", r.device, r.id, r.name, r.seq))
		case as[0].device != r.device || as[0].seq != r.seq || as[0].name != r.name:
			bad = append(bad, fmt.Sprintf("%s: act %s (%s, seq %d) is audited as %s seq %d %s", r.device, r.id, r.name, r.seq, as[0].device, as[0].seq, as[0].name))
		}
	}
	for _, st := range stations {
		s, err := st.replica.State(ctx)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		as := byDevice[st.CLI.Device]
		for i, a := range as {
			if a.seq != int64(i+1) {
				bad = append(bad, fmt.Sprintf("%s: audit seq %d where %d was due", st.CLI.Device, a.seq, i+1))
				break
			}
		}
		if int64(len(as)) != s.LastSeq || s.AckedSeq != s.LastSeq {
			bad = append(bad, fmt.Sprintf("%s: the replica assigned seqs up to %d (outcomes known up to %d), the audit log has %d",
				st.CLI.Device, s.LastSeq, s.AckedSeq, len(as)))
		}
		var serverLast int64
		if err := pool.QueryRow(ctx, `SELECT last_mutation_seq FROM sync.clients WHERE device_id = $1`, st.CLI.Device).Scan(&serverLast); err != nil {
			bad = append(bad, err.Error())
		} else if serverLast != int64(len(as)) {
			bad = append(bad, fmt.Sprintf("%s: sync.clients says last seq %d, the audit log has %d", st.CLI.Device, serverLast, len(as)))
		}
		queued, err := st.replica.Outbox(ctx, 0, 0)
		if err != nil {
			bad = append(bad, err.Error())
		} else if len(queued) > 0 {
			bad = append(bad, fmt.Sprintf("%s: %d acts still in the outbox (first: seq %d %s)", st.CLI.Device, len(queued), queued[0].Seq, queued[0].Name))
		}
		rejected, err := st.replica.Rejected(ctx, true)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		local := map[string]sqlite.RejectedAct{}
		for _, r := range rejected {
			local[r.ID] = r
		}
		for _, a := range as {
			r, isRejected := local[a.id]
			switch {
			case a.outcome == "rejected" && !isRejected:
				bad = append(bad, fmt.Sprintf("%s: seq %d %s was rejected (%s) but is not in the workstation's rejected list", st.CLI.Device, a.seq, a.name, a.code))
			case a.outcome == "applied" && isRejected:
				bad = append(bad, fmt.Sprintf("%s: seq %d %s was applied but the workstation lists it rejected (%s)", st.CLI.Device, a.seq, a.name, r.Rejection.Code))
			case isRejected && (string(r.Rejection.Code) != a.code || r.Rejection.Message != a.message || r.Seq != a.seq):
				bad = append(bad, fmt.Sprintf("%s: seq %d %s: the workstation says %s %q, the audit log %s %q", st.CLI.Device, a.seq, a.name,
					r.Rejection.Code, r.Rejection.Message, a.code, a.message))
			}
			delete(local, a.id)
		}
		for id, r := range local {
			bad = append(bad, fmt.Sprintf("%s: rejected act %s (seq %d %s) is not in the audit log", st.CLI.Device, id, r.Seq, r.Name))
		}
	}
	return bad
}

// ---- What the workflow forbids ----

// forbiddenStates lists rows PostgreSQL holds in a state no sequence of
// legal acts leads to.
var forbiddenStates = []struct{ what, query string }{
	{"appointment past check-in without checkedInAt",
		`SELECT id FROM appointments WHERE status IN ('CHECKED_IN','IN_CONSULTATION','CONSULTATION_COMPLETED','COMPLETED') AND "checkedInAt" IS NULL`},
	{"SCHEDULED appointment with later steps filled in",
		`SELECT id FROM appointments WHERE status = 'SCHEDULED' AND ("checkedInAt" IS NOT NULL OR vitals IS NOT NULL OR "consultedAt" IS NOT NULL OR "closedAt" IS NOT NULL)`},
	{"IN_CONSULTATION or later without vitals",
		`SELECT id FROM appointments WHERE status IN ('IN_CONSULTATION','CONSULTATION_COMPLETED','COMPLETED')
		   AND (vitals IS NULL OR "vitalsEnteredAt" IS NULL OR "vitalsEnteredBy" IS NULL)`},
	{"vitals on an appointment not past check-in",
		`SELECT id FROM appointments WHERE status IN ('SCHEDULED','CHECKED_IN') AND (vitals IS NOT NULL OR "vitalsEnteredAt" IS NOT NULL)`},
	{"consultation completed without notes, time or doctor",
		`SELECT id FROM appointments WHERE status IN ('CONSULTATION_COMPLETED','COMPLETED')
		   AND ("consultationNotes" IS NULL OR "consultedAt" IS NULL OR "consultedBy" IS NULL)`},
	{"consultation notes on an appointment not past consultation",
		`SELECT id FROM appointments WHERE status IN ('SCHEDULED','CHECKED_IN','IN_CONSULTATION') AND ("consultationNotes" IS NOT NULL OR "consultedAt" IS NOT NULL)`},
	{"a billing amount on an open appointment",
		`SELECT id FROM appointments WHERE status <> 'COMPLETED' AND ("billingAmount" IS NOT NULL OR "closedAt" IS NOT NULL OR "closedBy" IS NOT NULL)`},
	{"COMPLETED appointment without billing",
		`SELECT id FROM appointments WHERE status = 'COMPLETED' AND ("billingAmount" IS NULL OR "billingStatus" IS NULL OR "closedAt" IS NULL OR "closedBy" IS NULL)`},
	{"billing amount out of range",
		`SELECT id FROM appointments WHERE "billingAmount" < 0`},
	{"vitals out of the seed's ranges",
		`SELECT id FROM appointments WHERE vitals IS NOT NULL AND NOT (
		   (vitals->>'temperature')::numeric BETWEEN 30 AND 45 AND (vitals->>'heartRate')::numeric BETWEEN 20 AND 250
		   AND (vitals->'bloodPressure'->>'systolic')::numeric BETWEEN 50 AND 260 AND (vitals->>'weight')::numeric > 0)`},
	{"appointment with a doctor who is not a DOCTOR",
		`SELECT a.id FROM appointments a JOIN users u ON u.id = a."doctorId" WHERE u.role <> 'DOCTOR'`},
	{"a result on a prescription not past IN_PROGRESS",
		`SELECT r.id FROM results r JOIN prescriptions p ON p.id = r."prescriptionId" WHERE p.status NOT IN ('RESULTS_AVAILABLE','COMPLETED')`},
	{"prescription with results available but no result",
		`SELECT p.id FROM prescriptions p WHERE p.status IN ('RESULTS_AVAILABLE','COMPLETED') AND NOT EXISTS (SELECT 1 FROM results r WHERE r."prescriptionId" = p.id)`},
	{"COMPLETED prescription whose result was not reviewed",
		`SELECT p.id FROM prescriptions p JOIN results r ON r."prescriptionId" = p.id WHERE p.status = 'COMPLETED' AND (r."reviewedAt" IS NULL OR r."reviewedBy" IS NULL)`},
	{"result reviewed before its prescription was completed",
		`SELECT p.id FROM prescriptions p JOIN results r ON r."prescriptionId" = p.id WHERE p.status <> 'COMPLETED' AND r."reviewedAt" IS NOT NULL`},
	{"sample collected without nurse or time",
		`SELECT id FROM prescriptions WHERE status IN ('SAMPLE_COLLECTED','IN_PROGRESS','RESULTS_AVAILABLE','COMPLETED') AND ("nurseId" IS NULL OR "sampleCollectedAt" IS NULL)`},
	{"sample data on a prescription not yet collected",
		`SELECT id FROM prescriptions WHERE status IN ('CREATED','SENT_TO_LAB') AND ("nurseId" IS NOT NULL OR "sampleCollectedAt" IS NOT NULL OR "analysisStartedAt" IS NOT NULL)`},
	{"analysis under way or done without its start",
		`SELECT id FROM prescriptions WHERE status IN ('IN_PROGRESS','RESULTS_AVAILABLE','COMPLETED') AND "analysisStartedAt" IS NULL`},
	{"results available without the analysis' end",
		`SELECT id FROM prescriptions WHERE status IN ('RESULTS_AVAILABLE','COMPLETED') AND "analysisCompletedAt" IS NULL`},
	{"a result not validated by a BIOLOGIST",
		`SELECT r.id FROM results r LEFT JOIN users u ON u.id = r."validatedBy" WHERE u.role IS DISTINCT FROM 'BIOLOGIST' OR r."validatedAt" IS NULL`},
	{"two results for one prescription",
		`SELECT "prescriptionId" FROM results GROUP BY 1 HAVING count(*) > 1`},
}

func checkForbidden(ctx context.Context, pool *pgxpool.Pool) []string {
	var bad []string
	for _, f := range forbiddenStates {
		rows, err := pool.Query(ctx, f.query)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", f.what, err))
			continue
		}
		var ids []string
		for rows.Next() {
			var id string
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) > 0 {
			bad = append(bad, fmt.Sprintf("%s: %v", f.what, ids))
		}
	}
	return bad
}

// ---- Transitions against the audit log ----

// steps maps each transition act to the status it leads to.
var apptSteps = map[string]string{
	"appointment.checkIn": "CHECKED_IN", "appointment.recordVitals": "IN_CONSULTATION",
	"appointment.completeConsultation": "CONSULTATION_COMPLETED", "appointment.close": "COMPLETED", "appointment.cancel": "CANCELLED",
}
var apptOrder = []string{"SCHEDULED", "CHECKED_IN", "IN_CONSULTATION", "CONSULTATION_COMPLETED", "COMPLETED"}

var rxSteps = map[string]string{
	"prescription.sendToLab": "SENT_TO_LAB", "prescription.collectSample": "SAMPLE_COLLECTED",
	"prescription.startAnalysis": "IN_PROGRESS", "result.create": "RESULTS_AVAILABLE", "result.review": "COMPLETED",
}
var rxOrder = []string{"CREATED", "SENT_TO_LAB", "SAMPLE_COLLECTED", "IN_PROGRESS", "RESULTS_AVAILABLE", "COMPLETED"}

// readStatuses is each appointment's and prescription's status, by id.
func readStatuses(ctx context.Context, pool *pgxpool.Pool) (map[string]string, error) {
	rows, err := pool.Query(ctx, `SELECT id, status::text FROM appointments UNION ALL SELECT id, status::text FROM prescriptions`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, s string
		if err := rows.Scan(&id, &s); err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

// checkTransitions: every applied step moved its row exactly one edge,
// each edge at most once, and the row's status in PostgreSQL is where the
// applied steps lead from where it started (initial: the statuses before
// the soak; rows created during it start at the first status).
func checkTransitions(ctx context.Context, pool *pgxpool.Pool, audit []auditRow, initial map[string]string) []string {
	var bad []string
	type rowStatus struct{ status, kind string }
	status := map[string]rowStatus{}
	rows, err := pool.Query(ctx, `SELECT id, status::text, 'a' FROM appointments UNION ALL SELECT id, status::text, 'p' FROM prescriptions`)
	if err != nil {
		return []string{err.Error()}
	}
	for rows.Next() {
		var id, s, k string
		rows.Scan(&id, &s, &k)
		status[id] = rowStatus{s, k}
	}
	rows.Close()
	resultRx := map[string]string{}
	rows, err = pool.Query(ctx, `SELECT id, "prescriptionId" FROM results`)
	if err != nil {
		return []string{err.Error()}
	}
	for rows.Next() {
		var id, p string
		rows.Scan(&id, &p)
		resultRx[id] = p
	}
	rows.Close()

	steps := map[string][]string{} // row → statuses its applied steps lead to
	for _, a := range audit {
		if a.outcome != "applied" {
			continue
		}
		var args struct {
			ID             string `json:"id"`
			PrescriptionID string `json:"prescriptionId"`
		}
		json.Unmarshal(a.args, &args)
		if to, ok := apptSteps[a.name]; ok {
			steps[args.ID] = append(steps[args.ID], to)
		}
		if to, ok := rxSteps[a.name]; ok {
			target := args.ID
			switch a.name {
			case "result.create":
				target = args.PrescriptionID
			case "result.review":
				target = resultRx[args.ID]
			}
			steps[target] = append(steps[target], to)
		}
	}
	rank := func(order []string, s string) int {
		if s == "CANCELLED" {
			return len(order) // last: nothing follows a cancellation
		}
		for i, x := range order {
			if x == s {
				return i
			}
		}
		return -1
	}
	for id, rs := range status {
		order := apptOrder
		if rs.kind == "p" {
			order = rxOrder
		}
		start, ok := initial[id]
		if !ok {
			start = order[0]
		}
		s := steps[id]
		sort.SliceStable(s, func(i, j int) bool { return rank(order, s[i]) < rank(order, s[j]) })
		cur := start
		for _, to := range s {
			switch {
			case to == "CANCELLED" && (cur == "SCHEDULED" || cur == "CHECKED_IN"):
			case to != "CANCELLED" && cur != "CANCELLED" && rank(order, to) == rank(order, cur)+1:
			default:
				bad = append(bad, fmt.Sprintf("%s: an applied act moved it %s → %s (applied steps from %s: %v)", id, cur, to, start, s))
			}
			cur = to
		}
		if cur != rs.status {
			bad = append(bad, fmt.Sprintf("%s is %s in PostgreSQL, but its applied steps from %s lead to %s (%v)", id, rs.status, start, cur, s))
		}
	}
	return bad
}
