package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"wardsync/workflow"
)

// seedNS makes the demo rows' ids stable, so seeding twice changes nothing.
var seedNS = uuid.MustParse("6f1c5e0a-3d4b-4c8e-9a51-2b7d0c9e4f10")

// SeedID is the stable id of a demo row.
func SeedID(name string) string { return uuid.NewSHA1(seedNS, []byte(name)).String() }

// DemoDeviceID is the workstation that `seed` registers for every role, so
// that `make run` can open the desktop app without an admin step.
var DemoDeviceID = SeedID("device:demo")

// SeedUser is one of the seed's demo accounts.
type SeedUser struct {
	Name, Email, Password string
	Role                  workflow.Role
}

// SeedUsers are the seed's demo users: one per role, in the seed's
// e-mail/password style (nurse@hospital.com / nurse123).
var SeedUsers = []SeedUser{
	{"Admin Test", "admin@hospital.com", "admin123", workflow.RoleAdmin},
	{"Dr Médecin Test", "doctor@hospital.com", "doctor123", workflow.RoleDoctor},
	{"Biologiste Test", "biologist@hospital.com", "biologist123", workflow.RoleBiologist},
	{"Infirmier Test", "nurse@hospital.com", "nurse123", workflow.RoleNurse},
	{"Secrétaire Test", "secretary@hospital.com", "secretary123", workflow.RoleSecretary},
}

// Demo times are placed around the seed time rather than at fixed hours,
// so that `make run` at 03:00 shows a coherent day: what is done happened
// before now, what is expected comes after it, and all of it lies within
// the seed time's day (in the clock's zone, the workstation's when both
// run on one machine). demoPast and demoFuture are the longest offsets
// used; near midnight the offsets shrink in proportion, keeping the order.
const (
	demoPast   = 420 // minutes before the seed time: the morning's first visit
	demoFuture = 45  // minutes after it: the last visit expected
)

// DemoClock turns the demo's offsets (minutes before or after now) into
// times within now's day.
func DemoClock(now time.Time) (before, after func(minutes int) time.Time) {
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	end := start.AddDate(0, 0, 1).Add(-time.Minute)
	scale := func(room time.Duration, span int) float64 {
		return min(1, max(0, room.Minutes())/float64(span))
	}
	past, future := scale(now.Sub(start), demoPast), scale(end.Sub(now), demoFuture)
	before = func(m int) time.Time {
		return now.Add(-time.Duration(float64(m) * past * float64(time.Minute))).Truncate(time.Second).UTC()
	}
	after = func(m int) time.Time {
		return now.Add(time.Duration(float64(m) * future * float64(time.Minute))).Truncate(time.Second).UTC()
	}
	return before, after
}

// Seed loads the seed's demo data ("Seed Data Updates"): the users, three
// patients, appointments in every status and prescriptions in every status,
// placed around the seed time (DemoClock) so the dashboards' queues read as
// one day at any hour. Idempotent: rows that exist are left alone.
func (db *DB) Seed(ctx context.Context) (inserted int64, err error) {
	clock := db.Now()
	now := clock.UTC().Truncate(time.Millisecond)
	ago, in := DemoClock(clock)
	ids := map[string]string{}
	for _, u := range SeedUsers {
		ids[string(u.Role)] = SeedID("user:" + u.Email)
	}
	doctor, nurse, secretary, biologist := ids["DOCTOR"], ids["NURSE"], ids["SECRETARY"], ids["BIOLOGIST"]
	p1, p2, p3 := SeedID("patient:1"), SeedID("patient:2"), SeedID("patient:3")
	vitals := `{"weight":70,"height":170,"temperature":37.0,"bloodPressure":{"systolic":120,"diastolic":80},"heartRate":72}`
	// The patient waiting for the doctor has a fever: the queue flags it.
	fever := `{"weight":62,"height":165,"temperature":38.4,"bloodPressure":{"systolic":118,"diastolic":76},"heartRate":96}`
	// Medical histories and results in their documented shapes (docs/clinical-data.md).
	history := map[string]string{
		p1: `{"allergies":["pénicilline"],"conditions":["asthme"],"medications":["salbutamol 100 µg, 2 bouffées si besoin"]}`,
		p3: `{"conditions":["diabète de type 2"],"medications":["metformine 1000 mg matin et soir"]}`,
	}

	// Password hashes are made before the transaction: bcrypt takes a
	// while (seconds on a busy machine), and a transaction holding an xid
	// that long holds back the change feed's horizon for every database
	// of the cluster.
	hashes := map[workflow.Role]string{}
	for _, u := range SeedUsers {
		var exists bool
		if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 OR email = $2)`, ids[string(u.Role)], u.Email).Scan(&exists); err != nil {
			return 0, err
		}
		if exists {
			continue
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), BcryptCost)
		if err != nil {
			return 0, err
		}
		hashes[u.Role] = string(hash)
	}

	err = db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		inserted = 0
		exec := func(q string, args ...any) error {
			tag, err := tx.Exec(ctx, q, args...)
			inserted += tag.RowsAffected()
			return err
		}
		for _, u := range SeedUsers {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 OR email = $2)`, ids[string(u.Role)], u.Email).Scan(&exists); err != nil {
				return err
			}
			hash, ok := hashes[u.Role]
			if exists || !ok {
				continue // (one that appeared since is left alone)
			}
			if err := exec(`INSERT INTO users (id, name, email, password, role, "createdAt", "updatedAt") VALUES ($1, $2, $3, $4, $5::"Role", $6, $6)`,
				ids[string(u.Role)], u.Name, u.Email, hash, string(u.Role), now); err != nil {
				return err
			}
		}
		patients := []struct {
			id, first, last, birth, sex string
		}{
			{p1, "Amélie", "Dupont", "1980-02-03", "F"},
			{p2, "Jean", "Martin", "1975-07-14", "M"},
			{p3, "Fatou", "Diallo", "1992-11-30", "F"},
		}
		for _, p := range patients {
			var h any
			if x, ok := history[p.id]; ok {
				h = x
			}
			if err := exec(`INSERT INTO patients (id, "firstName", "lastName", "birthDate", sex, phone, "consentMedicalData", "medicalHistory", "createdAt", "updatedAt")
				VALUES ($1, $2, $3, $4::timestamp, $5, '+33 1 23 45 67 89', true, $7::jsonb, $6, $6) ON CONFLICT (id) DO NOTHING`,
				p.id, p.first, p.last, p.birth, p.sex, now, h); err != nil {
				return err
			}
		}
		appts := []struct {
			name, patient, motif, status string
			date                         time.Time
			extra                        string
			args                         []any
		}{
			{"a:scheduled", p1, "Consultation de suivi", "SCHEDULED", in(45), "", nil},
			{"a:checkedin", p2, "Première consultation", "CHECKED_IN", in(15), `, "checkedInAt" = $1`, []any{ago(10)}},
			{"a:inconsult", p3, "Consultation annuelle", "IN_CONSULTATION", ago(30),
				`, "checkedInAt" = $1, "vitalsEnteredAt" = $2, "vitalsEnteredBy" = $3, vitals = $4::jsonb`, []any{ago(45), ago(35), nurse, fever}},
			{"a:consultdone", p1, "Douleurs abdominales", "CONSULTATION_COMPLETED", ago(300),
				`, "checkedInAt" = $1, "vitalsEnteredAt" = $2, "vitalsEnteredBy" = $3, vitals = $4::jsonb, "consultedAt" = $5, "consultedBy" = $6, "consultationNotes" = $7`,
				[]any{ago(315), ago(310), nurse, vitals, ago(290), doctor, "Examen normal. Bilan sanguin prescrit."}},
			{"a:completed", p2, "Contrôle tension", "COMPLETED", ago(390),
				`, "checkedInAt" = $1, "vitalsEnteredAt" = $2, "vitalsEnteredBy" = $3, vitals = $4::jsonb, "consultedAt" = $5, "consultedBy" = $6, "consultationNotes" = $7, "closedAt" = $8, "closedBy" = $9, "billingAmount" = 45.00, "billingStatus" = 'PENDING'`,
				[]any{ago(405), ago(400), nurse, vitals, ago(375), doctor, "Tension stable.", ago(360), secretary}},
			{"a:cancelled", p3, "Vaccination", "CANCELLED", ago(240), "", nil},
		}
		for _, a := range appts {
			fresh, err := seedRow(ctx, tx, a.name, workflow.TableAppointments, `INSERT INTO appointments (id, date, motif, status, "patientId", "doctorId", "createdAt", "updatedAt")
				VALUES ($1, $2, $3, $4::"AppointmentStatus", $5, $6, $7, $7) ON CONFLICT (id) DO NOTHING RETURNING true`,
				[]any{a.date, a.motif, a.status, a.patient, doctor, now}, a.extra, a.args)
			if fresh {
				inserted++
			}
			if err != nil {
				return err
			}
		}
		rxs := []struct {
			name, patient, text, status, extra string
			args                               []any
		}{
			{"rx:created", p3, "Glycémie à jeun", "CREATED", "", nil},
			{"rx:sent", p1, "Complete Blood Count (CBC)", "SENT_TO_LAB", "", nil},
			{"rx:collected", p2, "Lipid Panel", "SAMPLE_COLLECTED", `, "sampleCollectedAt" = $1, "nurseId" = $2`, []any{ago(210), nurse}},
			{"rx:inprogress", p3, "Bilan hépatique", "IN_PROGRESS", `, "sampleCollectedAt" = $1, "nurseId" = $2, "analysisStartedAt" = $3`, []any{ago(270), nurse, ago(240)}},
			{"rx:available", p1, "TSH", "RESULTS_AVAILABLE", `, "sampleCollectedAt" = $1, "nurseId" = $2, "analysisStartedAt" = $3, "analysisCompletedAt" = $4`, []any{ago(330), nurse, ago(315), ago(285)}},
			{"rx:completed", p2, "Ionogramme", "COMPLETED", `, "sampleCollectedAt" = $1, "nurseId" = $2, "analysisStartedAt" = $3, "analysisCompletedAt" = $4`, []any{ago(420), nurse, ago(410), ago(390)}},
		}
		for _, r := range rxs {
			fresh, err := seedRow(ctx, tx, r.name, workflow.TablePrescriptions, `INSERT INTO prescriptions (id, text, status, "patientId", "doctorId", "createdAt", "updatedAt")
				VALUES ($1, $2, $3::"PrescriptionStatus", $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING RETURNING true`,
				[]any{r.text, r.status, r.patient, doctor, now}, r.extra, r.args)
			if fresh {
				inserted++
			}
			if err != nil {
				return err
			}
		}
		if err := exec(`INSERT INTO results (id, text, data, "validatedBy", "validatedAt", "prescriptionId", "createdAt", "updatedAt")
			VALUES ($1, 'TSH 6.8 mUI/L, au-dessus des valeurs de référence.', '{"rows":[{"test":"TSH","value":"6.8","unit":"mUI/L","range":"0.4–4.0","abnormal":true},{"test":"T4 libre","value":"12","unit":"pmol/L","range":"9–19"}]}',
			$2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING`,
			SeedID("result:available"), biologist, ago(285), SeedID("rx:available"), now); err != nil {
			return err
		}
		if err := exec(`INSERT INTO results (id, text, data, "validatedBy", "validatedAt", "reviewedBy", "reviewedAt", interpretation, "prescriptionId", "createdAt", "updatedAt")
			VALUES ($1, 'Na 140, K 4.2', '{"rows":[{"test":"Na","value":"140","unit":"mmol/L","range":"135–145"},{"test":"K","value":"4.2","unit":"mmol/L","range":"3.5–5.0"}]}',
			$2, $3, $4, $5, 'Normal.', $6, $7, $7) ON CONFLICT (id) DO NOTHING`,
			SeedID("result:completed"), biologist, ago(390), doctor, ago(370), SeedID("rx:completed"), now); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	db.announce(feedNotice)
	// The demo workstation is registered once: seeding again must not undo
	// an administrator's revocation or change of its roles.
	if _, err := db.Device(ctx, DemoDeviceID); err != nil {
		if rej, ok := workflow.AsRejection(err); !ok || rej.Code != workflow.CodeUnauthenticated {
			return inserted, err
		}
		if _, err := db.AddDevice(ctx, DemoDeviceID, "Demo workstation", workflow.Roles); err != nil {
			return inserted, err
		}
	}
	return inserted, nil
}

// seedRow inserts the seeded row name (insert: its id is $1, values the
// rest, RETURNING true) unless it exists, and moves a fresh one along its
// workflow: extra sets the columns its status implies, with extraArgs as
// $1, $2, .... fresh says the row was inserted.
func seedRow(ctx context.Context, tx pgx.Tx, name, table, insert string, values []any, extra string, extraArgs []any) (fresh bool, err error) {
	id := SeedID(name)
	if err := tx.QueryRow(ctx, insert, append([]any{id}, values...)...).Scan(&fresh); err != nil && err != pgx.ErrNoRows {
		return false, err
	}
	if !fresh || extra == "" {
		return fresh, nil
	}
	args := append(append([]any{}, extraArgs...), id)
	q := fmt.Sprintf(`UPDATE %s SET "updatedAt" = "updatedAt"%s WHERE id = $%d`, pgx.Identifier{table}.Sanitize(), extra, len(args))
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		return true, fmt.Errorf("seed %s: %w", name, err)
	}
	return true, nil
}
