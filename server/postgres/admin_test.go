package postgres

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/internal/pgtest"
	"wardsync/workflow"
)

func admOpen(t *testing.T) (*DB, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, pgtest.NewDatabase(t, true), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(ctx) })
	if _, err := db.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	return db, db.Pool
}

// admRecord writes audit rows as a push would (the trigger keeps the
// counters).
func admRecord(t *testing.T, pool *pgxpool.Pool, device string, seq int64, outcome, code, target string, args any) {
	t.Helper()
	b, _ := json.Marshal(args)
	var c, tgt any
	if code != "" {
		c = code
	}
	if target != "" {
		tgt = target
	}
	if _, err := pool.Exec(context.Background(), `
		INSERT INTO sync.mutations (device_id, seq, mutation_id, name, args, occurred_at, received_at, outcome, code, message, target_id)
		VALUES ($1, $2, $3, 'x.y', $4, now(), now(), $5, $6, 'm', $7)`, device, seq, uuid.NewString(), string(b), outcome, c, tgt); err != nil {
		t.Fatal(err)
	}
}

// The counters the status page and the scrape read agree with the audit log
// they summarise.
func TestMutationCountsFollowTheAuditLog(t *testing.T) {
	db, pool := admOpen(t)
	ctx := context.Background()
	a, _ := db.AddDevice(ctx, "", "A", []workflow.Role{workflow.RoleNurse})
	b, _ := db.AddDevice(ctx, "", "B", []workflow.Role{workflow.RoleNurse})
	outcomes := []struct{ outcome, code string }{{"applied", ""}, {"rejected", "NOT_FOUND"}, {"applied", ""}, {"rejected", "NOT_FOUND"}, {"rejected", "FORBIDDEN"}}
	for i, o := range outcomes {
		admRecord(t, pool, a.ID, int64(i+1), o.outcome, o.code, "", map[string]any{})
	}
	admRecord(t, pool, b.ID, 1, "rejected", "CLOCK_SKEW", "", map[string]any{})

	var mismatches int
	if err := pool.QueryRow(ctx, `
		SELECT count(*) FROM (
		  SELECT device_id, outcome, COALESCE(code, '') AS code, count(*) AS n FROM sync.mutations GROUP BY 1, 2, 3) m
		  FULL JOIN sync.mutation_counts c USING (device_id, outcome, code)
		 WHERE m.n IS DISTINCT FROM c.n`).Scan(&mismatches); err != nil {
		t.Fatal(err)
	}
	if mismatches != 0 {
		t.Fatalf("%d counter rows disagree with sync.mutations", mismatches)
	}
	_, devs, err := db.SyncHealth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.ID == a.ID && (d.AppliedTotal != 2 || d.RejectedTotal != 3 || d.AppliedLastHour != 2 || d.RejectedLastHour != 3 || d.UnresolvedRejected != 3) {
			t.Errorf("A: %+v", d)
		}
	}
	if err := db.ResolveRejection(ctx, a.ID, 2, "", "re-entered"); err != nil {
		t.Fatal(err)
	}
	byCode, err := db.UnresolvedRejectedByCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if byCode["NOT_FOUND"] != 1 || byCode["FORBIDDEN"] != 1 || byCode["CLOCK_SKEW"] != 1 {
		t.Fatalf("unresolved by code: %v", byCode)
	}
	if err := db.ResolveRejection(ctx, a.ID, 1, "", ""); err == nil {
		t.Fatal("an applied act was resolved")
	}
}

func TestAuditByPatientReachesEveryRowOfThePatient(t *testing.T) {
	db, pool := admOpen(t)
	ctx := context.Background()
	dev, _ := db.AddDevice(ctx, "", "A", []workflow.Role{workflow.RoleNurse})
	p1 := SeedID("patient:1")
	// Patient 1's rows in the seed: an appointment, a prescription with a
	// result to come; add a document and a result.
	rx := SeedID("rx:sent")
	resID, docID := uuid.NewString(), uuid.NewString()
	if _, err := pool.Exec(ctx, `INSERT INTO results (id, text, "prescriptionId", "createdAt", "updatedAt") VALUES ($1, 'TSH 2.1', $2, now(), now())`, resID, rx); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO documents (id, name, type, url, "patientId", "createdAt", "updatedAt") VALUES ($1, 'scan', 'pdf', 'u', $2, now(), now())`, docID, p1); err != nil {
		t.Fatal(err)
	}
	targets := []string{p1, SeedID("a:scheduled"), rx, resID, docID, SeedID("a:checkedin") /* patient 2 */}
	for i, tg := range targets {
		admRecord(t, pool, dev.ID, int64(i+1), "applied", "", tg, map[string]any{"id": tg})
	}
	// A refused insert for patient 1 has no row to join: found by its args.
	admRecord(t, pool, dev.ID, 7, "rejected", "VALIDATION_FAILED", uuid.NewString(), map[string]any{"patientId": p1})
	// Arguments that are not an object do not break the search.
	admRecord(t, pool, dev.ID, 8, "rejected", "VALIDATION_FAILED", "", []int{1})

	got, next, err := db.Audit(ctx, AuditFilter{PatientID: p1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || next != "" {
		t.Fatalf("patient 1: %d entries", len(got))
	}
	for _, e := range got {
		if e.TargetID == SeedID("a:checkedin") {
			t.Fatal("patient 2's appointment listed for patient 1")
		}
	}
}

func TestRegistrationCodes(t *testing.T) {
	db, _ := admOpen(t)
	ctx := context.Background()
	seen := map[string]bool{}
	re := regexp.MustCompile(`^[A-HJ-KM-NP-Z2-9]{4}-[A-HJ-KM-NP-Z2-9]{4}-[A-HJ-KM-NP-Z2-9]{4}$`)
	for i := 0; i < 200; i++ {
		c := newRegistrationCode()
		if !re.MatchString(c) || seen[c] {
			t.Fatalf("code %q (seen before: %v)", c, seen[c])
		}
		seen[c] = true
	}
	d, code, until, err := db.RegisterDevice(ctx, "Ward", []workflow.Role{workflow.RoleNurse})
	if err != nil || time.Until(until) < 23*time.Hour {
		t.Fatal(err, until)
	}
	other, _, _, _ := db.RegisterDevice(ctx, "Other", []workflow.Role{workflow.RoleNurse})
	if _, err := db.RedeemRegistrationCode(ctx, other.ID, code, nil); err == nil {
		t.Fatal("a code redeemed another workstation")
	}
	if err := db.RevokeDevice(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RedeemRegistrationCode(ctx, d.ID, code, nil); err == nil {
		t.Fatal("a revoked workstation redeemed its code")
	}
	if _, _, err := db.IssueRegistrationCode(ctx, d.ID); err == nil {
		t.Fatal("a revoked workstation got a new code")
	}
	revoked, err := db.RevokedAmong(ctx, []string{d.ID, other.ID})
	if err != nil || len(revoked) != 1 || revoked[0] != d.ID {
		t.Fatalf("RevokedAmong: %v %v", revoked, err)
	}
}

func TestSearchPatientsTreatsWildcardsAsText(t *testing.T) {
	db, _ := admOpen(t)
	ctx := context.Background()
	for q, want := range map[string]int{"dupont": 1, "Martin Jean": 1, "a": 3, "%": 0, "_": 0, "": 0} {
		got, err := db.SearchPatients(ctx, q, 0)
		if err != nil || len(got) != want {
			t.Errorf("%q: %d matches (%v), want %d", q, len(got), err, want)
		}
	}
}
