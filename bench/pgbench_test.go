package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"wardsync/server/postgres"
)

var errNoPgbench = errors.New("pgbench not found (set WARDSYNC_PGBENCH, or install PostgreSQL's client programs)")

// pgbenchPath finds pgbench: $WARDSYNC_PGBENCH, $PATH, then the newest
// Debian PostgreSQL installation.
func pgbenchPath() (string, error) {
	if p := os.Getenv("WARDSYNC_PGBENCH"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	sort.Slice(found, func(i, j int) bool { return pgVersion(found[i]) > pgVersion(found[j]) })
	if len(found) > 0 {
		return found[0], nil
	}
	return "", errNoPgbench
}

func pgVersion(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// pgbenchRowsPerClient is how many appointments each pgbench client owns,
// as each device owns its batch's appointments (the script's "50").
const pgbenchRowsPerClient = 50

// pgbenchScript is what one applied mutation costs the database, as
// server/postgres issues it: lock the device's client row (joined with
// its device), lock and read the appointment, update it (changing its
// status, so indexes are touched as a workflow step touches them; the
// capture trigger writes sync.changes and the statement trigger notifies),
// insert the audit row, advance the device's seq. One transaction per
// mutation, prepared statements (pgx prepares too).
const pgbenchScript = `\set aid :client_id * 50 + random(1, 50)
BEGIN;
SELECT c.last_mutation_seq AS last FROM sync.clients c JOIN sync.devices d ON d.id = c.device_id
 WHERE c.device_id = 'pgbench-' || :client_id AND d.revoked_at IS NULL FOR UPDATE OF c \gset
SELECT id, date, motif, status::text, vitals, "medicalHistoryNotes", "consultationNotes", "checkedInAt", "vitalsEnteredAt",
       "consultedAt", "closedAt", "vitalsEnteredBy", "consultedBy", "closedBy", "billingAmount"::text, "billingStatus"::text,
       "createdAt", "updatedAt", "patientId", "doctorId"
  FROM appointments WHERE id = 'bbbbbbbb-0000-4000-8000-' || lpad(:aid::text, 12, '0') FOR UPDATE;
UPDATE appointments
   SET status = (CASE WHEN status = 'CHECKED_IN' THEN 'SCHEDULED' ELSE 'CHECKED_IN' END)::"AppointmentStatus",
       "checkedInAt" = now(), "updatedAt" = now()
 WHERE id = 'bbbbbbbb-0000-4000-8000-' || lpad(:aid::text, 12, '0');
INSERT INTO sync.mutations (device_id, seq, mutation_id, name, args, author_id, session_id, occurred_at, received_at,
                            outcome, code, message, field, target_table, target_id)
VALUES ('pgbench-' || :client_id, :last::bigint + 1, gen_random_uuid()::text, 'appointment.checkIn',
        jsonb_build_object('id', 'bbbbbbbb-0000-4000-8000-' || lpad(:aid::text, 12, '0')),
        '` + "%DOCTOR%" + `', 'pgbench-session', now(), now(), 'applied', NULL, NULL, NULL,
        'appointments', 'bbbbbbbb-0000-4000-8000-' || lpad(:aid::text, 12, '0'));
UPDATE sync.clients SET last_mutation_seq = :last::bigint + 1, last_seen = now() WHERE device_id = 'pgbench-' || :client_id;
END;
`

type pgbenchResult struct {
	tps     float64
	command string
	output  string
}

var tpsRE = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
var failedRE = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)

// runPgbench prepares the rows the script touches (one device and 50
// appointments per client) and runs pgbench with clients connections for
// seconds against the benchmark's database.
func runPgbench(b *testing.B, e *env, clients, seconds int) (*pgbenchResult, error) {
	b.Helper()
	bin, err := pgbenchPath()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for c := 0; c < clients; c++ {
		id := "pgbench-" + strconv.Itoa(c)
		if _, err := e.db.Pool.Exec(ctx, `INSERT INTO sync.devices (id, name, roles) VALUES ($1, $1, $2) ON CONFLICT DO NOTHING`,
			id, []string{"SECRETARY", "NURSE", "DOCTOR"}); err != nil {
			return nil, fmt.Errorf("prepare devices: %w", err)
		}
		if _, err := e.db.Pool.Exec(ctx, `INSERT INTO sync.clients (device_id) VALUES ($1) ON CONFLICT DO NOTHING`, id); err != nil {
			return nil, fmt.Errorf("prepare clients: %w", err)
		}
	}
	if _, err := e.db.Pool.Exec(ctx, `
		INSERT INTO appointments (id, date, motif, status, "createdAt", "updatedAt", "patientId", "doctorId", "billingStatus")
		SELECT 'bbbbbbbb-0000-4000-8000-' || lpad(g::text, 12, '0'), now(), 'pgbench', 'SCHEDULED', now(), now(), $1, $2, 'PENDING'
		  FROM generate_series(1, $3::int) g
		ON CONFLICT (id) DO NOTHING`, postgres.SeedID("patient:1"), doctorID, (clients+1)*pgbenchRowsPerClient); err != nil {
		return nil, fmt.Errorf("prepare appointments: %w", err)
	}
	_, _ = e.db.Pool.Exec(ctx, `ANALYZE appointments; ANALYZE sync.clients; ANALYZE sync.devices`)

	script := filepath.Join(b.TempDir(), "mutation.sql")
	if err := os.WriteFile(script, []byte(strings.ReplaceAll(pgbenchScript, "%DOCTOR%", doctorID)), 0o644); err != nil {
		return nil, err
	}
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(2, clients)),
		"-T", strconv.Itoa(seconds), "-f", script}
	cmd := exec.Command(bin, append(args, e.dbURL)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	shown := bin + " " + strings.Join(args, " ") + " $BENCH_DATABASE_URL"
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s%s", shown, err, out.String(), stderr.String())
	}
	m := tpsRE.FindStringSubmatch(out.String())
	if m == nil {
		return nil, fmt.Errorf("no tps in pgbench output:\n%s%s", out.String(), stderr.String())
	}
	if f := failedRE.FindStringSubmatch(out.String()); f != nil && f[1] != "0" {
		return nil, fmt.Errorf("pgbench: %s failed transactions:\n%s%s", f[1], out.String(), stderr.String())
	}
	tps, _ := strconv.ParseFloat(m[1], 64)
	return &pgbenchResult{tps: tps, command: shown, output: out.String()}, nil
}
