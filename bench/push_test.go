package bench

import (
	"fmt"
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

// BenchmarkPushThroughput: cfg.Devices workstations, each with its own
// websocket and its secretary, nurse and doctor logged in, push batches of
// legal acts at once (ApptsPerBatch appointments × schedule, checkIn,
// recordVitals, completeConsultation, close, each by the right user) with
// synchronous_commit on. Reports accepted mutations per second; every
// result must be "applied". Then the same devices, still online, send each
// act as it happens, one act per push ("single-mutations/s"), as an online
// workstation does: one transaction per act.
//
// In the same run, on the same database, pgbench runs the SQL a mutation
// costs (the session lookup, lock the appointment, update it with the feed
// row its trigger writes, the audit insert, the device's seq) at the same
// concurrency, with no notification (the honest baselines): one
// transaction per mutation ("baseline-tps"; "ratio-single" = single ÷ it),
// then the same statements grouped 50 to a transaction with a savepoint
// each, as a push groups them ("baseline-batched-mutations/s";
// "ratio-batched" = mutations/s ÷ it): what the database alone does with
// the server's SQL, without the server. Two more runs at one per
// transaction show what notifying costs: with the NOTIFY inside the
// transaction, as every writer did before migration 00027
// ("baseline-notify-tps"), and with the server's announcement after each
// commit ("baseline-announce-tps").
func BenchmarkPushThroughput(b *testing.B) {
	cfg := loadConfig()
	e := benchServer(b)
	devs := devices(b, e, "Push bench", cfg.Devices, func(int) []workflow.Role { return clinicRole })
	// Warm-up, untimed: each device registers the patients its batches
	// schedule for (its own, as at a ward: devices do not fight over rows).
	patients := make([][]string, len(devs))
	for i, d := range devs {
		connect(b, e, d)
		var muts []syncproto.Mutation
		for k := 0; k < cfg.ApptsPerBatch; k++ {
			id := uuid.NewString()
			patients[i] = append(patients[i], id)
			muts = append(muts, d.mutation(registerPatient(id, k)))
		}
		res, err := d.push("warm", muts)
		if err == nil {
			err = allApplied(muts, res)
		}
		if err != nil {
			fatalf(b, "warm-up on device %d: %v", i, err)
		}
	}
	checkpoint(e)

	var applied atomic.Int64
	var elapsed time.Duration
	b.ResetTimer()
	for round := 0; round < b.N; round++ {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, len(devs))
		for i, d := range devs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := pushBatches(d, patients[i], cfg, round, &applied); err != nil {
					errs <- fmt.Errorf("device %d: %w", i, err)
				}
			}()
		}
		wg.Wait()
		elapsed += time.Since(start)
		close(errs)
		for err := range errs {
			fatalf(b, "%v", err)
		}
	}
	b.StopTimer()
	rate := float64(applied.Load()) / elapsed.Seconds()
	logf(b, "ours: %d mutations applied by %d devices in %s (batches of %d, one transaction per batch): %.0f mutations/s",
		applied.Load(), len(devs), elapsed.Round(time.Millisecond), cfg.ApptsPerBatch*5, rate)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rate, "mutations/s")
	// Each baseline runs next to the figure it is compared with, on the
	// database as that run left it (pgbench's updates bloat the rows the
	// next run reads, so order matters: a fast baseline run slows the next).
	batch := 5 * cfg.ApptsPerBatch
	if v, ok := pushBaseline(b, e, cfg, batch, notifyNone, "baseline-batched-mutations/s"); ok {
		b.ReportMetric(rate/v, "ratio-batched")
	}

	// One act per push, the devices online, each act sent as it happens.
	checkpoint(e)
	rounds := max(1, cfg.Batches/6)
	var singles atomic.Int64
	cpuBefore := sampleCPU(e)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(devs))
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pushSingles(d, patients[i], rounds, &singles); err != nil {
				errs <- fmt.Errorf("device %d, one act per push: %w", i, err)
			}
		}()
	}
	wg.Wait()
	singleElapsed := time.Since(start)
	cpuAfter := sampleCPU(e)
	close(errs)
	for err := range errs {
		fatalf(b, "%v", err)
	}
	single := float64(singles.Load()) / singleElapsed.Seconds()
	logf(b, "ours: %d mutations applied by %d devices in %s, one act per push (one transaction each): %.0f mutations/s",
		singles.Load(), len(devs), singleElapsed.Round(time.Millisecond), single)
	b.ReportMetric(single, "single-mutations/s")
	self, _, pg := cpuAfter.perAct(cpuBefore, float64(singles.Load()))
	logf(b, "ours, one act per push: CPU per act %.2f ms in the server and its devices (one process), %s in PostgreSQL",
		self, cpuMS(pg))
	b.ReportMetric(self, "single-cpu-ms/act")
	b.ReportMetric(pg, "single-pg-cpu-ms/act")

	checkpoint(e) // the singles' dirty pages are not the baseline's CPU
	cpuBefore = sampleCPU(e)
	if v, ok := pushBaseline(b, e, cfg, 1, notifyNone, "baseline-tps"); ok {
		b.ReportMetric(single/v, "ratio-single")
		// -T runs for a time: the transactions are counted from the rate.
		_, client, pg := sampleCPU(e).perAct(cpuBefore, v*float64(cfg.PgbenchSeconds))
		logf(b, "baseline, one mutation per transaction: CPU per transaction %.2f ms in pgbench, %s in PostgreSQL", client, cpuMS(pg))
		b.ReportMetric(client, "baseline-client-cpu-ms/tx")
		b.ReportMetric(pg, "baseline-pg-cpu-ms/tx")
	}
	pushBaseline(b, e, cfg, 1, notifyInTx, "baseline-notify-tps")
	pushBaseline(b, e, cfg, 1, notifyAfter, "baseline-announce-tps")
}

// pushBaseline runs one pgbench baseline of BenchmarkPushThroughput and
// reports it as unit (mutations/s); ok is false when pgbench is missing.
func pushBaseline(b *testing.B, e *wardtest.Server, cfg config, batch int, mode notifyMode, unit string) (float64, bool) {
	checkpoint(e)
	base, err := runPgbench(b, e, cfg.Devices, cfg.PgbenchSeconds, batch, mode)
	switch {
	case err == errNoPgbench:
		logf(b, "baseline skipped: %v", err)
		return 0, false
	case err != nil:
		fatalf(b, "pgbench baseline: %v", err)
	}
	logf(b, "baseline, %d mutation(s) per transaction, %s: %s\n  -> %.0f tps = %.0f mutations/s", batch, mode, base.command, base.tps, base.mutations)
	b.ReportMetric(base.mutations, unit)
	return base.mutations, true
}

// pushSingles is one device's share of the one-act-per-push run: rounds
// times the full lifecycle of each of its appointments, each act pushed
// alone and waited for, as an online workstation sends it.
func pushSingles(d *device, patients []string, rounds int, applied *atomic.Int64) error {
	for r := 0; r < rounds; r++ {
		for k, p := range patients {
			for s, step := range lifecycle(uuid.NewString(), p, time.Now()) {
				muts := []syncproto.Mutation{d.mutation(step)}
				res, err := d.push("s"+strconv.Itoa(r)+"."+strconv.Itoa(k)+"."+strconv.Itoa(s), muts)
				if err != nil {
					return err
				}
				if err := allApplied(muts, res); err != nil {
					return err
				}
				applied.Add(1)
			}
		}
	}
	return nil
}

// pushBatches is one device's share of a round: cfg.Batches pushes, each
// the full lifecycle of ApptsPerBatch fresh appointments, waited for one at
// a time as a workstation does.
func pushBatches(d *device, patients []string, cfg config, round int, applied *atomic.Int64) error {
	for n := 0; n < cfg.Batches; n++ {
		now := time.Now()
		steps := make([][]act, len(patients))
		for k, p := range patients {
			steps[k] = lifecycle(uuid.NewString(), p, now)
		}
		muts := make([]syncproto.Mutation, 0, 5*len(patients))
		for s := 0; s < 5; s++ {
			for k := range patients {
				muts = append(muts, d.mutation(steps[k][s]))
			}
		}
		res, err := d.push("r"+strconv.Itoa(round)+"b"+strconv.Itoa(n), muts)
		if err != nil {
			return err
		}
		if err := allApplied(muts, res); err != nil {
			return err
		}
		applied.Add(int64(len(res)))
	}
	return nil
}

// cpuMS shows a CPU time per act in ms, or says it is not known (-1).
func cpuMS(ms float64) string {
	if ms < 0 {
		return "unknown"
	}
	return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
}
