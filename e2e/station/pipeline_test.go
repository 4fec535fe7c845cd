package station

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// TestPushFailingMidWindow: a workstation draining its backlog has two
// pushes on the socket at once (the engine sends the next before the
// previous result arrives). Here the first of them fails at the server:
// PostgreSQL refuses its transaction once, as out of reach (the device hears
// UNAVAILABLE) or for a reason of its own (INTERNAL); the push behind it,
// already sent, meets the seq-gap refusal, which writes nothing. Or the
// link is cut while the server holds the push (lost): the server may
// commit it, and the one behind, with their results lost. Either way the
// engine reconnects and sends again from the server's last seq: every act
// is applied once under its seq, none is recorded as a gap or a chain
// break, and the outbox and the rejected list are empty.
func TestPushFailingMidWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, sqlstate string // no sqlstate: the link is cut instead
	}{
		{"unavailable", "57P02"}, // crash_shutdown: postgres.Unavailable
		{"internal", "XX000"},
		{"lost", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const batch, acts, failSeq = 10, 60, 25
			env := newEnv(t, true)
			device := "ward-" + tc.name
			env.addDevice(device)
			s := env.station(device, func(c *desktop.Config) { c.PushBatch = batch })
			s.loginAll(wardRoles...)
			s.run()
			wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)
			s.stop()
			queued, err := s.perform(wardScript("window", acts, time.Now()))
			if err != nil {
				t.Fatal(err)
			}

			// The audit row of seq failSeq fails once, which fails its
			// push (seqs 21–30) as a whole, or (lost) holds the push three
			// seconds; every error the server records for the device is
			// kept in order.
			fail := fmt.Sprintf(`RAISE EXCEPTION 'test: the push of seq %% refused once', NEW.seq USING ERRCODE = '%s';`, tc.sqlstate)
			if tc.sqlstate == "" {
				fail = `PERFORM pg_sleep(3);`
			}
			wardtest.Exec(t, env.Pool, fmt.Sprintf(`
				CREATE SEQUENCE test_fail_once;
				CREATE FUNCTION test_fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					IF NEW.device_id = '%[1]s' AND NEW.seq = %[2]d THEN
						IF nextval('test_fail_once') = 1 THEN
							%[3]s
						END IF;
					END IF;
					RETURN NEW;
				END $$;
				CREATE TRIGGER test_fail_once BEFORE INSERT ON sync.mutations FOR EACH ROW EXECUTE FUNCTION test_fail_once();
				CREATE TABLE test_push_errors (n serial PRIMARY KEY, msg text NOT NULL);
				CREATE FUNCTION test_push_errors() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					INSERT INTO test_push_errors (msg) VALUES (NEW.last_error);
					RETURN NEW;
				END $$;
				CREATE TRIGGER test_push_errors AFTER UPDATE ON sync.clients FOR EACH ROW
					WHEN (NEW.device_id = '%[1]s' AND NEW.last_error IS NOT NULL
						AND (NEW.last_error IS DISTINCT FROM OLD.last_error OR NEW.last_error_at IS DISTINCT FROM OLD.last_error_at))
					EXECUTE FUNCTION test_push_errors();`, device, failSeq, fail))

			s.run()
			fired := func() string {
				if wardtest.Count(t, env.Pool, `SELECT count(*) FROM test_fail_once WHERE is_called`) == 0 {
					return "the push of seq " + fmt.Sprint(failSeq) + " has not reached its audit row"
				}
				return ""
			}
			if tc.sqlstate == "" {
				wardtest.Eventually(t, wardtest.WaitTimeout, fired)
				s.link.Cut()
				wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
					if s.e.Status().Online {
						return "still online after the cut"
					}
					return ""
				})
				// The held push commits with its result lost: once the
				// link is back, its seqs are sent again and come back
				// duplicate with their first outcomes.
				wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
					if n := wardtest.Count(t, env.Pool, `SELECT last_mutation_seq FROM sync.clients WHERE device_id = $1`, device); n < failSeq {
						return fmt.Sprintf("the server's last seq is %d", n)
					}
					return ""
				})
				s.reconnect()
			}
			wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)
			s.stop()
			if why := fired(); why != "" {
				t.Fatal(why)
			}
			// The refused push, then the one behind it: a gap, naming the
			// seq the engine then sent again.
			rows, err := env.Pool.Query(context.Background(), `SELECT msg FROM test_push_errors ORDER BY n`)
			if err != nil {
				t.Fatal(err)
			}
			var errs []string
			for rows.Next() {
				var m string
				if err := rows.Scan(&m); err != nil {
					t.Fatal(err)
				}
				errs = append(errs, m)
			}
			rows.Close()
			t.Logf("errors the server recorded for the device: %q", errs)
			first := batch*((failSeq-1)/batch) + 1 // the failed push's first seq
			gap := string(workflow.CodeProtocolError) + ": " + fmt.Sprintf("Mutation seq %d leaves a gap: the server has everything up to %d, so the next must be %d; resend from %d.",
				first+batch, first-1, first, first)
			refused := fmt.Sprintf("test: the push of seq %d refused once (SQLSTATE %s)", failSeq, tc.sqlstate)
			if tc.sqlstate == "" {
				if len(errs) != 0 {
					t.Errorf("errors recorded for the device: %q; a lost link refuses nothing", errs)
				}
			} else if len(errs) != 2 || !strings.Contains(errs[0], refused) || errs[1] != gap {
				t.Errorf("errors recorded for the device:\n%q\nwant the refused push (%q), then the gap:\n%q", errs, refused, gap)
			}

			checkAudit(t, env, device, queued)
			if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND COALESCE(chain_break, '') <> ''`, device); n != 0 {
				t.Errorf("%d acts recorded as a chain break", n)
			}
			if r, _ := s.e.Rejected(context.Background(), true); len(r) != 0 {
				t.Errorf("%d rejected acts, first %+v", len(r), r[0].Rejection)
			}
			st, err := s.e.DB().State(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.LastSeq != acts || st.AckedSeq != acts {
				t.Errorf("replica: last seq %d, acked %d; want %d", st.LastSeq, st.AckedSeq, acts)
			}
		})
	}
}
