package postgres

import (
	"context"
	"testing"
	"time"

	"wardsync/internal/pgtest"
)

// TestDemoClock: the demo's times lie around the seed time and within its
// day at any hour: done acts before it, expected visits after it, in order.
func TestDemoClock(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{
		time.Date(2026, 12, 7, 3, 0, 0, 0, paris),
		time.Date(2026, 12, 7, 0, 10, 0, 0, paris),
		time.Date(2026, 12, 7, 14, 0, 0, 0, paris),
		time.Date(2026, 12, 7, 23, 50, 0, 0, paris),
		time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC),
	} {
		ago, in := DemoClock(now)
		start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
		end := start.AddDate(0, 0, 1)
		prev := start.Add(-time.Second)
		for _, m := range []int{demoPast, 405, 300, 240, 45, 10, 0} {
			at := ago(m)
			if at.Before(start) || at.After(now) || at.Before(prev) {
				t.Errorf("%s: %d min before is %s, outside [%s, now] or out of order", now, m, at.In(now.Location()), start)
			}
			prev = at
		}
		for _, m := range []int{0, 15, demoFuture} {
			at := in(m)
			if at.Before(now.Truncate(time.Second)) || !at.Before(end) || at.Before(prev) {
				t.Errorf("%s: %d min after is %s, outside [now, end of day) or out of order", now, m, at.In(now.Location()))
			}
			prev = at
		}
	}
	// At 14:00 nothing is squeezed: the first visit was 7 hours ago.
	ago, in := DemoClock(time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC))
	if got := ago(demoPast); !got.Equal(time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("first visit at %s", got)
	}
	if got := in(45); !got.Equal(time.Date(2026, 12, 7, 14, 45, 0, 0, time.UTC)) {
		t.Errorf("last expected visit at %s", got)
	}
}

// TestSeedAtThreeInTheMorning: seeded at 03:00, the demo day is coherent:
// the visits still expected come after 03:00 the same day, everything done
// came before it, and none of it is dated 14:00 (the fixed hours of old).
func TestSeedAtThreeInTheMorning(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.NewDatabase(t, true), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(ctx) })
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	if _, err := db.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	at := func(q, id string) time.Time {
		var v time.Time
		if err := db.Pool.QueryRow(ctx, q, SeedID(id)).Scan(&v); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return v.UTC()
	}
	day := func(v time.Time) bool { return v.Year() == 2026 && v.YearDay() == now.YearDay() }
	for _, id := range []string{"a:scheduled", "a:checkedin"} {
		if d := at(`SELECT date FROM appointments WHERE id = $1`, id); !d.After(now) || !day(d) {
			t.Errorf("%s is expected at %s, not after 03:00 today", id, d)
		}
	}
	for _, c := range []struct{ q, id string }{
		{`SELECT "checkedInAt" FROM appointments WHERE id = $1`, "a:checkedin"},
		{`SELECT "vitalsEnteredAt" FROM appointments WHERE id = $1`, "a:inconsult"},
		{`SELECT "closedAt" FROM appointments WHERE id = $1`, "a:completed"},
		{`SELECT "analysisCompletedAt" FROM prescriptions WHERE id = $1`, "rx:available"},
		{`SELECT "sampleCollectedAt" FROM prescriptions WHERE id = $1`, "rx:completed"},
	} {
		if d := at(c.q, c.id); d.After(now) || !day(d) {
			t.Errorf("%s was done at %s, not before 03:00 today", c.id, d)
		}
	}
	var fever float64
	if err := db.Pool.QueryRow(ctx, `SELECT (vitals->>'temperature')::float FROM appointments WHERE id = $1`, SeedID("a:inconsult")).Scan(&fever); err != nil || fever != 38.4 {
		t.Errorf("the patient waiting for the doctor has %v °C (%v), want the 38.4 °C fever the queue flags", fever, err)
	}
}
