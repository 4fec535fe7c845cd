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
	"strconv"
	"strings"
	"testing"
	"time"

	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
)

var errNoPgbench = errors.New("pgbench not found (set WARDSYNC_PGBENCH, or install PostgreSQL's client programs)")

// pgbenchPath finds pgbench: $WARDSYNC_PGBENCH, the newest Debian
// PostgreSQL installation, then $PATH.
func pgbenchPath() (string, error) {
	if p := os.Getenv("WARDSYNC_PGBENCH"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath(wardtest.PGBin("pgbench")); err == nil {
		return p, nil
	}
	return "", errNoPgbench
}

// pgbenchRowsPerClient is how many appointments each pgbench client owns
// (at least one per mutation of a transaction), as each device owns the
// appointments of its batch.
func pgbenchRowsPerClient(batch int) int { return max(50, batch) }

// notifyMode says how a pgbench baseline notifies the servers.
type notifyMode int

const (
	// notifyNone: the honest baseline. Its sessions carry the server's
	// application_name, so the triggers run exactly as for the server (the
	// feed row, the counts) and stay silent: the SQL an act needs, no
	// notification.
	notifyNone notifyMode = iota
	// notifyInTx: the triggers notify inside the transaction, as they did
	// for every writer before migration 00027 and still do for other
	// programs: PostgreSQL's notify-queue lock is held from pre-commit
	// through the WAL flush, so these transactions commit one at a time.
	notifyInTx
	// notifyAfter: silent triggers, then the server's announcement (the
	// NOTIFY for the other instances, asynchronous commit) as a statement
	// of its own after each transaction. The server coalesces its
	// announcements; one per transaction is their worst case.
	notifyAfter
)

func (m notifyMode) String() string {
	return [...]string{"no notification", "NOTIFY inside the transaction", "announcement after the commit"}[m]
}

// pgbenchScript writes what `batch` applied mutations cost the database,
// statement for statement as server/postgres issues them: lock the
// device's client row (joined with its device); then per mutation: look
// the author's session up by token hash, lock and read the appointment,
// update it (changing its status, so its indexes are touched as a workflow
// step touches them; the capture trigger writes the feed row,
// sync.changes), insert the audit row (its trigger keeps the counts);
// finally advance the device's seq. With batch > 1 each mutation runs in a
// savepoint, as the server's do. Prepared statements, as pgx prepares them.
// How it notifies is mode's (see notifyMode).
//
// batch = 1 is the brief's baseline (one transaction per mutation, on a
// random one of the client's appointments); batch = 50 is the same SQL
// grouped as one push groups it.
func pgbenchScript(batch int, mode notifyMode) string {
	var s strings.Builder
	per := strconv.Itoa(pgbenchRowsPerClient(batch))
	const rowID = `'bbbbbbbb-0000-4000-8000-' || lpad((%s)::text, 12, '0')`
	s.WriteString(`\set aid :client_id * ` + per + ` + random(1, ` + per + ")\n")
	s.WriteString("BEGIN;\n")
	s.WriteString(`SELECT c.last_mutation_seq AS last FROM sync.clients c JOIN sync.devices d ON d.id = c.device_id
 WHERE c.device_id = 'pgbench-' || :client_id AND d.revoked_at IS NULL FOR UPDATE OF c \gset` + "\n")
	for k := 1; k <= batch; k++ {
		id := fmt.Sprintf(rowID, ":aid")
		if batch > 1 {
			id = fmt.Sprintf(rowID, fmt.Sprintf(":client_id * %s + %d", per, k))
		}
		s.WriteString(`SELECT s.id, s.user_id, u.name, u.role::text, COALESCE(s.device_id, ''), s.issued_at, s.expires_at,
       s.revoked_at, st.disabled_at, d.revoked_at
  FROM sync.sessions s JOIN users u ON u.id = s.user_id
  LEFT JOIN sync.user_status st ON st.user_id = s.user_id LEFT JOIN sync.devices d ON d.id = s.device_id
 WHERE s.token_hash = sha256(convert_to('pgbench-' || :client_id, 'UTF8'));
`)
		if batch > 1 {
			s.WriteString("SAVEPOINT m;\n")
		}
		fmt.Fprintf(&s, `SELECT id, date, motif, status::text, vitals, "medicalHistoryNotes", "consultationNotes", "checkedInAt", "vitalsEnteredAt",
       "consultedAt", "closedAt", "vitalsEnteredBy", "consultedBy", "closedBy", "billingAmount"::text, "billingStatus"::text,
       "createdAt", "updatedAt", "patientId", "doctorId"
  FROM appointments WHERE id = %[1]s FOR UPDATE;
UPDATE appointments
   SET status = (CASE WHEN status = 'CHECKED_IN' THEN 'SCHEDULED' ELSE 'CHECKED_IN' END)::"AppointmentStatus",
       "checkedInAt" = now(), "updatedAt" = now()
 WHERE id = %[1]s;
`, id)
		if batch > 1 {
			s.WriteString("RELEASE SAVEPOINT m;\n")
		}
		fmt.Fprintf(&s, `INSERT INTO sync.mutations (device_id, seq, mutation_id, name, args, author_id, session_id, occurred_at, received_at,
                            outcome, code, message, field, target_table, target_id)
VALUES ('pgbench-' || :client_id, :last::bigint + %[2]d, gen_random_uuid()::text, 'appointment.checkIn', jsonb_build_object('id', %[1]s),
        '%[3]s', 'pgbench-' || :client_id, now(), now(), 'applied', NULL, NULL, NULL, 'appointments', %[1]s);
`, id, k, doctorID)
	}
	fmt.Fprintf(&s, "UPDATE sync.clients SET last_mutation_seq = :last::bigint + %d, last_seen = now() WHERE device_id = 'pgbench-' || :client_id;\nEND;\n", batch)
	if mode == notifyAfter {
		// As server/postgres/announce.go sends it.
		s.WriteString("SELECT set_config('synchronous_commit', 'off', true), pg_notify(c, p) FROM unnest(ARRAY['wardsync_changes', 'wardsync_admin'], ARRAY['@pgbench', 'mutations@pgbench']) AS t(c, p);\n")
	}
	return s.String()
}

type pgbenchResult struct {
	tps       float64 // transactions per second
	mutations float64 // mutations per second
	command   string
	output    string
}

var tpsRE = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
var failedRE = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)

// runPgbench prepares the rows the script touches (one device and 50
// appointments per client) and runs pgbench with clients connections for
// seconds against the benchmark's database, notifying as mode says.
func runPgbench(b *testing.B, e *wardtest.Server, clients, seconds, batch int, mode notifyMode) (*pgbenchResult, error) {
	b.Helper()
	return pgbenchRun(b, e, clients, batch, mode, "-T", strconv.Itoa(seconds))
}

// runPgbenchTx is the honest runPgbench for a fixed number of transactions
// per client.
func runPgbenchTx(b *testing.B, e *wardtest.Server, clients, transactions, batch int) (*pgbenchResult, error) {
	b.Helper()
	return pgbenchRun(b, e, clients, batch, notifyNone, "-t", strconv.Itoa(transactions))
}

// pgbenchRows makes what the script's clients touch: a device, its client
// row and a session per client (pgbench-<client>, its token its id), and
// each client's appointments.
func pgbenchRows(e *wardtest.Server, clients, batch int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ids = `(SELECT 'pgbench-' || g AS id FROM generate_series(0, $1::int - 1) g) ids`
	for _, q := range []struct{ what, sql string }{
		{"devices", `INSERT INTO sync.devices (id, name, roles) SELECT id, id, '{SECRETARY,NURSE,DOCTOR}' FROM ` + ids + ` ON CONFLICT DO NOTHING`},
		{"clients", `INSERT INTO sync.clients (device_id) SELECT id FROM ` + ids + ` ON CONFLICT DO NOTHING`},
		{"sessions", `INSERT INTO sync.sessions (id, token_hash, user_id, device_id, issued_at, expires_at)
			SELECT id, sha256(convert_to(id, 'UTF8')), '` + doctorID + `', id, now(), now() + interval '7 days' FROM ` + ids + ` ON CONFLICT DO NOTHING`},
	} {
		if _, err := e.DB.Pool.Exec(ctx, q.sql, clients); err != nil {
			return fmt.Errorf("prepare %s: %w", q.what, err)
		}
	}
	if _, err := e.DB.Pool.Exec(ctx, `
		INSERT INTO appointments (id, date, motif, status, "createdAt", "updatedAt", "patientId", "doctorId", "billingStatus")
		SELECT 'bbbbbbbb-0000-4000-8000-' || lpad(g::text, 12, '0'), now(), 'pgbench', 'SCHEDULED', now(), now(), $1, $2, 'PENDING'
		  FROM generate_series(1, $3::int) g
		ON CONFLICT (id) DO NOTHING`, postgres.SeedID("patient:1"), doctorID, (clients+1)*pgbenchRowsPerClient(batch)); err != nil {
		return fmt.Errorf("prepare appointments: %w", err)
	}
	_, _ = e.DB.Pool.Exec(ctx, `ANALYZE appointments; ANALYZE sync.clients; ANALYZE sync.devices; ANALYZE sync.sessions`)
	return nil
}

func pgbenchRun(b *testing.B, e *wardtest.Server, clients, batch int, mode notifyMode, limit ...string) (*pgbenchResult, error) {
	b.Helper()
	bin, err := pgbenchPath()
	if err != nil {
		return nil, err
	}
	if err := pgbenchRows(e, clients, batch); err != nil {
		return nil, err
	}
	script := filepath.Join(b.TempDir(), fmt.Sprintf("mutations-%d-%d.sql", batch, mode))
	if err := os.WriteFile(script, []byte(pgbenchScript(batch, mode)), 0o644); err != nil {
		return nil, err
	}
	// The session's name decides whether the triggers notify (migration
	// 00027): the server's name keeps them silent.
	appName := postgres.ApplicationName
	if mode == notifyInTx {
		appName = "pgbench"
	}
	dbURL := e.DatabaseURL + "&application_name=" + appName
	if !strings.Contains(e.DatabaseURL, "?") {
		dbURL = e.DatabaseURL + "?application_name=" + appName
	}
	args := append([]string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(2, clients))},
		append(limit, "-f", script)...)
	cmd := exec.Command(bin, append(args, dbURL)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	shown := bin + " " + strings.Join(args, " ") + " \"$BENCH_DATABASE_URL&application_name=" + appName + "\""
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
	return &pgbenchResult{tps: tps, mutations: tps * float64(batch), command: shown, output: out.String()}, nil
}
