package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// A mass-casualty morning: many reception desks register patients at
// once, each against the real server over its own websocket.
//
// BenchmarkRegistrationBurst (make bench) runs it at full size: 50 desks ×
// 100 registrations of different people, pushed 10 to a push (a desk
// pushes what it queued while its previous push was in flight), all desks
// starting together. It reports acts/s and the p50/p99 latency of a push,
// then runs the same burst with the 50 desks registering the SAME 100
// people. Both runs must end with no INTERNAL reply, no dropped socket,
// every act applied exactly once, and in the second every pair of
// registrations of one person flagged as a possible duplicate.
// TestRegistrationBurst (make test) checks the same at 20 × 20.

// burstConfig sizes a burst: desks, registrations per desk, acts per push.
type burstConfig struct {
	Desks, Acts, Batch int
}

func burstConfigFor(smoke bool) burstConfig {
	c := burstConfig{Desks: 50, Acts: 100, Batch: 10}
	if smoke {
		c = burstConfig{Desks: 5, Acts: 10, Batch: 5}
	}
	for name, p := range map[string]*int{
		"WARDSYNC_BENCH_BURST_DESKS": &c.Desks,
		"WARDSYNC_BENCH_BURST_ACTS":  &c.Acts,
		"WARDSYNC_BENCH_BURST_BATCH": &c.Batch,
	} {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			*p = v
		}
	}
	return c
}

// burstOutcome is what one burst measured.
type burstOutcome struct {
	acts      int
	elapsed   time.Duration
	latencies []time.Duration // one per push
	internal  int             // pushes answered INTERNAL
	dropped   int             // sockets that failed mid-burst
	refused   []string        // other refusals and non-applied results
	deadlocks uint64          // retries the server made after a deadlock
}

func (o burstOutcome) rate() float64 { return float64(o.acts) / o.elapsed.Seconds() }

// runBurst has every desk push its registrations (person(desk, k) for
// k < cfg.Acts), cfg.Batch to a push, all desks at once; a push is waited
// for before the next, as a workstation does.
func runBurst(e *wardtest.Server, desks []*device, cfg burstConfig, person func(desk, k int) act) burstOutcome {
	var (
		mu  sync.Mutex
		out = burstOutcome{acts: len(desks) * cfg.Acts}
	)
	before := e.DB.Retries()["40P01"]
	start := make(chan struct{})
	var wg sync.WaitGroup
	var pushes atomic.Int64
	for i, d := range desks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for k := 0; k < cfg.Acts; k += cfg.Batch {
				var muts []syncproto.Mutation
				for j := k; j < min(k+cfg.Batch, cfg.Acts); j++ {
					muts = append(muts, d.mutation(person(i, j)))
				}
				t0 := time.Now()
				res, refusal, err := pushOnce(d, fmt.Sprintf("burst-%d", pushes.Add(1)), muts)
				took := time.Since(t0)
				mu.Lock()
				out.latencies = append(out.latencies, took)
				switch {
				case err != nil:
					out.dropped++
					out.refused = append(out.refused, fmt.Sprintf("desk %d: socket lost: %v", i, err))
				case refusal != nil && refusal.Code == workflow.CodeInternal:
					out.internal++
				case refusal != nil:
					out.refused = append(out.refused, fmt.Sprintf("desk %d: %s %s", i, refusal.Code, refusal.Message))
				default:
					if err := allApplied(muts, res); err != nil {
						out.refused = append(out.refused, fmt.Sprintf("desk %d: %v", i, err))
					}
				}
				mu.Unlock()
				if err != nil || refusal != nil {
					return // this desk's numbering is now unknown; the run has failed
				}
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	out.elapsed = time.Since(t0)
	out.deadlocks = e.DB.Retries()["40P01"] - before
	return out
}

// pushOnce sends one push and returns its results, or the error frame that
// answered it, or the socket's failure.
func pushOnce(d *device, reqID string, muts []syncproto.Mutation) ([]syncproto.MutationResult, *syncproto.Error, error) {
	if err := d.ws.Send(&syncproto.Push{RequestID: reqID, Mutations: muts}); err != nil {
		return nil, nil, err
	}
	for {
		f, err := d.ws.Read(time.Minute)
		if err != nil {
			return nil, nil, err
		}
		switch f := f.(type) {
		case *syncproto.PushResult:
			if f.RequestID != reqID {
				return nil, nil, fmt.Errorf("pushResult for %q while waiting for %q", f.RequestID, reqID)
			}
			return f.Results, nil, nil
		case *syncproto.Error:
			return nil, f, nil
		}
	}
}

// burstDesks registers n reception desks, logs their secretaries in and
// connects them.
func burstDesks(tb testing.TB, e *wardtest.Server, prefix string, n int) []*device {
	desks := devices(tb, e, prefix, n, func(int) []workflow.Role { return []workflow.Role{workflow.RoleSecretary} })
	for _, d := range desks {
		connect(tb, e, d)
	}
	return desks
}

// differentPerson is desk's k-th registration, a person no other desk
// registers; samePerson is the k-th of one list every desk registers.
func differentPerson(desk, k int) act {
	id := uuid.NewString()
	return act{name: "patient.register", role: workflow.RoleSecretary, table: workflow.TablePatients, rowID: id, args: map[string]any{
		"id": id, "firstName": "Burst", "lastName": fmt.Sprintf("Desk %02d Person %03d", desk, k), "birthDate": "1981-03-04T00:00:00Z",
	}}
}

func samePerson(_, k int) act {
	id := uuid.NewString()
	return act{name: "patient.register", role: workflow.RoleSecretary, table: workflow.TablePatients, rowID: id, args: map[string]any{
		"id": id, "firstName": "Victim", "lastName": fmt.Sprintf("Casualty %03d", k), "birthDate": fmt.Sprintf("19%02d-06-15T00:00:00Z", 40+k%60),
	}}
}

// checkBurst says what went wrong in a burst ("" when nothing did): an
// INTERNAL, a dropped socket, a refusal, or an act not applied exactly
// once (counted in the audit log and in patients, by the desks' ids).
func checkBurst(e *wardtest.Server, desks []*device, o burstOutcome, lastNameLike string) error {
	var errs []error
	if o.internal > 0 {
		errs = append(errs, fmt.Errorf("%d pushes answered INTERNAL", o.internal))
	}
	if o.dropped > 0 {
		errs = append(errs, fmt.Errorf("%d sockets dropped", o.dropped))
	}
	if o.deadlocks > 0 {
		// Desks take their duplicate-detection keys in one global order
		// (docs/duplicates.md): a deadlock here is a regression, even if
		// its retry succeeded.
		errs = append(errs, fmt.Errorf("%d deadlocks retried by the server", o.deadlocks))
	}
	for _, r := range o.refused {
		errs = append(errs, errors.New(r))
	}
	ids := make([]string, len(desks))
	for i, d := range desks {
		ids[i] = d.id
	}
	var recorded, distinct, applied, patients int
	err := e.DB.Pool.QueryRow(context.Background(), `
		SELECT count(*), count(DISTINCT mutation_id), count(*) FILTER (WHERE outcome = 'applied'),
		       (SELECT count(*) FROM patients WHERE "lastName" LIKE $2)
		  FROM sync.mutations WHERE device_id = ANY($1) AND name = 'patient.register' AND args->>'lastName' LIKE $2`,
		ids, lastNameLike).Scan(&recorded, &distinct, &applied, &patients)
	if err != nil {
		return err
	}
	if recorded != o.acts || distinct != o.acts || applied != o.acts || patients != o.acts {
		errs = append(errs, fmt.Errorf("%d acts pushed: %d recorded (%d distinct), %d applied, %d patients; want each exactly once",
			o.acts, recorded, distinct, applied, patients))
	}
	return errors.Join(errs...)
}

// checkPairs requires every two registrations of one person flagged, and
// no pair of two different people.
func checkPairs(e *wardtest.Server, cfg burstConfig) error {
	var same, other int
	err := e.DB.Pool.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE a."lastName" = b."lastName"), count(*) FILTER (WHERE a."lastName" <> b."lastName")
		  FROM sync.duplicate_candidates c
		  JOIN patients a ON a.id = c.patient_a JOIN patients b ON b.id = c.patient_b
		 WHERE a."lastName" LIKE 'Casualty %' OR b."lastName" LIKE 'Casualty %'`).Scan(&same, &other)
	if err != nil {
		return err
	}
	want := cfg.Acts * cfg.Desks * (cfg.Desks - 1) / 2
	if same != want || other != 0 {
		return fmt.Errorf("%d pairs of one person flagged, want %d (%d people × %d desks); %d pairs of different people", same, want, cfg.Acts, cfg.Desks, other)
	}
	return nil
}

func BenchmarkRegistrationBurst(b *testing.B) {
	cfg := burstConfigFor(loadConfig().Smoke)
	e := benchServer(b)
	desks := burstDesks(b, e, "Burst desk", cfg.Desks)
	b.ResetTimer()
	var diff, same burstOutcome
	for round := 0; round < b.N; round++ {
		diff = runBurst(e, desks, cfg, differentPerson)
		if err := checkBurst(e, desks, diff, "Desk %"); err != nil && round == 0 {
			fatalf(b, "burst of different people: %v", err)
		}
		same = runBurst(e, desks, cfg, samePerson)
		if err := checkBurst(e, desks, same, "Casualty %"); err != nil && round == 0 {
			fatalf(b, "burst of the same people: %v", err)
		}
		if err := checkPairs(e, cfg); err != nil && round == 0 {
			fatalf(b, "%v", err)
		}
	}
	b.StopTimer()
	for _, r := range []struct {
		what string
		o    burstOutcome
	}{{"different people", diff}, {"the same people", same}} {
		lat := sortDurations(r.o.latencies)
		logf(b, "%d desks × %d registrations of %s, %d to a push: %d acts in %s = %.0f acts/s; push p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d INTERNAL, %d dropped, %d deadlocks retried",
			cfg.Desks, cfg.Acts, r.what, cfg.Batch, r.o.acts, r.o.elapsed.Round(time.Millisecond), r.o.rate(),
			percentileMS(lat, 0.50), percentileMS(lat, 0.99), percentileMS(lat, 1), r.o.internal, r.o.dropped, r.o.deadlocks)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(diff.rate(), "acts/s")
	b.ReportMetric(percentileMS(sortDurations(diff.latencies), 0.50), "p50-ms")
	b.ReportMetric(percentileMS(sortDurations(diff.latencies), 0.99), "p99-ms")
	// INTERNAL replies, dropped sockets and deadlocks of both runs: 0.
	b.ReportMetric(float64(diff.internal+same.internal+diff.dropped+same.dropped)+float64(diff.deadlocks+same.deadlocks), "failures")
	b.ReportMetric(same.rate(), "same-acts/s")
	b.ReportMetric(percentileMS(sortDurations(same.latencies), 0.99), "same-p99-ms")
}

// TestRegistrationBurst: 20 desks × 20 registrations at once, first of
// different people, then of the same 20 people: no INTERNAL, no dropped
// socket, every act applied exactly once, and every pair of registrations
// of one person flagged. (Speed is the benchmark's business.)
func TestRegistrationBurst(t *testing.T) {
	cfg := burstConfig{Desks: 20, Acts: 20, Batch: 5}
	e := benchServer(t)
	desks := burstDesks(t, e, "Burst desk", cfg.Desks)
	diff := runBurst(e, desks, cfg, differentPerson)
	if err := checkBurst(e, desks, diff, "Desk %"); err != nil {
		t.Fatalf("burst of different people: %v", err)
	}
	same := runBurst(e, desks, cfg, samePerson)
	if err := checkBurst(e, desks, same, "Casualty %"); err != nil {
		t.Fatalf("burst of the same people: %v", err)
	}
	if err := checkPairs(e, cfg); err != nil {
		t.Fatal(err)
	}
	t.Logf("different people: %d acts, %d deadlocks retried; same people: %d acts, %d deadlocks retried", diff.acts, diff.deadlocks, same.acts, same.deadlocks)
}
