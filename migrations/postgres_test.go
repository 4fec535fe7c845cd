package migrations_test

import (
	"context"
	"database/sql"
	"flag"
	"io/fs"
	"os"
	"strings"
	"testing"

	"wardsync/internal/pgtest"
	"wardsync/migrations"
)

var update = flag.Bool("update", false, "rewrite testdata/prisma_public.txt from the database (review the diff by hand against the seed!)")

// The expected catalog of schema public: what Prisma Migrate builds from the
// seed's schema.prisma, plus the seed's "New Indexes". Each line was checked
// by hand against the seed (see the file's header).
func wantPublic(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/prisma_public.txt")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

func migrate(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	applied, err := migrations.UpPostgres(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return applied
}

func TestPostgresConformsToSeed(t *testing.T) {
	ctx := context.Background()
	db := pgtest.MustOpenSQL(t, pgtest.NewDatabase(t, false))
	applied := migrate(t, db)
	// Every embedded file runs on an empty database, in order.
	files, err := fs.Glob(migrations.Postgres(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(files) {
		t.Fatalf("applied %d migrations on an empty database, want all %d files: %v", len(applied), len(files), applied)
	}
	got, err := migrations.DescribeSchema(ctx, db, "public")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		header := "# Schema public as Prisma builds it from the seed's Prisma schema (docs/schema.md), plus the seed's New Indexes.\n" +
			"# One line per catalog object; compared exactly by TestPostgresConformsToSeed.\n"
		if err := os.WriteFile("testdata/prisma_public.txt", []byte(header+strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if d := migrations.DiffLines(wantPublic(t), got); d != "" {
		t.Errorf("schema public differs from the seed's Prisma schema:\n%s", d)
	}

	t.Run("goose version table lives in schema sync", func(t *testing.T) {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sync.goose_db_version`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n < 11 {
			t.Errorf("sync.goose_db_version has %d rows", n)
		}
	})

	t.Run("re-running migrate changes nothing", func(t *testing.T) {
		if again := migrate(t, db); len(again) != 0 {
			t.Fatalf("second migrate applied %v", again)
		}
		after, err := migrations.DescribeSchema(ctx, db, "public")
		if err != nil {
			t.Fatal(err)
		}
		if d := migrations.DiffLines(got, after); d != "" {
			t.Errorf("second migrate changed public:\n%s", d)
		}
		pending, err := migrations.PostgresPending(ctx, db)
		if err != nil || pending {
			t.Errorf("PostgresPending = %v, %v after migrating", pending, err)
		}
	})
}

// The conformance check must be able to fail: drift a scratch database in
// each way Prisma would notice and assert the difference is reported.
func TestConformanceDetectsDrift(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		alter string
		want  []string
	}{
		{"extra column", `ALTER TABLE users ADD COLUMN "disabled" BOOLEAN`, []string{`extra:   column users.disabled boolean NULL`}},
		{"extra table", `CREATE TABLE public.sessions (id TEXT PRIMARY KEY)`, []string{`extra:   relation sessions kind r`}},
		{"missing index", `DROP INDEX "appointments_date_idx"`, []string{`missing: index CREATE INDEX appointments_date_idx ON public.appointments USING btree (date)`}},
		{"wrong timestamp precision", `ALTER TABLE appointments ALTER COLUMN "checkedInAt" TYPE TIMESTAMP`, []string{`missing: column appointments."checkedInAt" timestamp(3) without time zone NULL`}},
		{"id default", `ALTER TABLE patients ALTER COLUMN id SET DEFAULT gen_random_uuid()::text`, []string{`extra:   column patients.id text NOT NULL DEFAULT`}},
		{"enum value", `ALTER TYPE "BillingStatus" ADD VALUE 'WAIVED'`, []string{`extra:   enum "BillingStatus" = PENDING,PAID,PARTIALLY_PAID,WAIVED`}},
		{"on delete action", `ALTER TABLE prescriptions DROP CONSTRAINT "prescriptions_nurseId_fkey",
			ADD CONSTRAINT "prescriptions_nurseId_fkey" FOREIGN KEY ("nurseId") REFERENCES users(id) ON DELETE CASCADE ON UPDATE CASCADE`,
			[]string{`missing: constraint "prescriptions_nurseId_fkey" on prescriptions: FOREIGN KEY ("nurseId") REFERENCES users(id) ON UPDATE CASCADE ON DELETE SET NULL`}},
		{"nullability", `ALTER TABLE documents ALTER COLUMN "uploadedBy" SET NOT NULL`, []string{`extra:   column documents."uploadedBy" text NOT NULL`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := pgtest.MustOpenSQL(t, pgtest.NewDatabase(t, true))
			if _, err := db.ExecContext(ctx, tc.alter); err != nil {
				t.Fatal(err)
			}
			got, err := migrations.DescribeSchema(ctx, db, "public")
			if err != nil {
				t.Fatal(err)
			}
			d := migrations.DiffLines(wantPublic(t), got)
			for _, w := range tc.want {
				if !strings.Contains(d, w) {
					t.Errorf("diff does not report %q; diff:\n%s", w, d)
				}
			}
		})
	}
}

// A database that holds v1.0 data migrates forward without losing anything.
func TestMigrateV1DataForward(t *testing.T) {
	ctx := context.Background()
	db := pgtest.MustOpenSQL(t, pgtest.NewDatabase(t, false))
	if _, err := migrations.UpPostgresTo(ctx, db, 1); err != nil {
		t.Fatal(err)
	}
	seed := []string{
		`INSERT INTO users (id, name, email, password, role, "updatedAt") VALUES
		   ('u-doc', 'Dr Test', 'doctor@hospital.com', '$2a$10$x', 'DOCTOR', now()),
		   ('u-sec', 'Secrétaire', 'secretary@hospital.com', '$2a$10$y', 'SECRETARY', now())`,
		`INSERT INTO patients (id, "firstName", "lastName", "birthDate", "medicalHistory", "updatedAt") VALUES
		   ('p1', 'Amélie', 'Dupont', '1980-02-03', '{"allergies":["penicillin"]}', now())`,
		`INSERT INTO appointments (id, date, motif, status, "patientId", "doctorId", "updatedAt") VALUES
		   ('a1', '2026-01-05 14:00', 'Suivi', 'SCHEDULED', 'p1', 'u-doc', now()),
		   ('a2', '2026-01-04 09:00', 'Contrôle', 'COMPLETED', 'p1', 'u-doc', now())`,
		`INSERT INTO prescriptions (id, text, status, "patientId", "doctorId", "updatedAt") VALUES
		   ('rx1', 'CBC', 'IN_PROGRESS', 'p1', 'u-doc', now())`,
		`INSERT INTO results (id, text, data, "prescriptionId", "updatedAt") VALUES ('r1', 'Normal', '{"hb":14}', 'rx1', now())`,
		`INSERT INTO documents (id, name, type, url, "patientId", "updatedAt") VALUES ('d1', 'radio.pdf', 'radio', '/docs/d1', 'p1', now())`,
	}
	for _, q := range seed {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	migrate(t, db)

	checks := []struct {
		name, q, want string
	}{
		{"users intact", `SELECT string_agg(id || ':' || role::text || ':' || email, ',' ORDER BY id) FROM users`, "u-doc:DOCTOR:doctor@hospital.com,u-sec:SECRETARY:secretary@hospital.com"},
		{"patient intact", `SELECT "firstName" || ' ' || "lastName" || ' ' || "medicalHistory"::text FROM patients`, `Amélie Dupont {"allergies": ["penicillin"]}`},
		{"appointments keep status", `SELECT string_agg(id || ':' || status::text, ',' ORDER BY id) FROM appointments`, "a1:SCHEDULED,a2:COMPLETED"},
		{"new appointment columns NULL", `SELECT count(*)::text FROM appointments WHERE vitals IS NULL AND "medicalHistoryNotes" IS NULL AND "consultationNotes" IS NULL
		   AND "checkedInAt" IS NULL AND "vitalsEnteredAt" IS NULL AND "consultedAt" IS NULL AND "closedAt" IS NULL
		   AND "vitalsEnteredBy" IS NULL AND "consultedBy" IS NULL AND "closedBy" IS NULL AND "billingAmount" IS NULL`, "2"},
		{"billingStatus PENDING", `SELECT string_agg(DISTINCT "billingStatus"::text, ',') FROM appointments`, "PENDING"},
		{"new prescription columns NULL", `SELECT count(*)::text FROM prescriptions WHERE "nurseId" IS NULL AND "sampleCollectedAt" IS NULL AND "analysisStartedAt" IS NULL AND "analysisCompletedAt" IS NULL AND status = 'IN_PROGRESS'`, "1"},
		{"result intact, new columns NULL", `SELECT text || ' ' || data::text FROM results WHERE "validatedBy" IS NULL AND "validatedAt" IS NULL AND "reviewedBy" IS NULL AND "reviewedAt" IS NULL AND interpretation IS NULL`, `Normal {"hb": 14}`},
		{"document intact", `SELECT name || ' ' || url FROM documents`, "radio.pdf /docs/d1"},
		{"NURSE usable", `SELECT 'NURSE'::"Role"::text`, "NURSE"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			var got string
			if err := db.QueryRowContext(ctx, c.q).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
