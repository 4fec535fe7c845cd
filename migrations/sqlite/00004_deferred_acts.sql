-- Deferred acts (docs/deferred.md). An act that came before its
-- predecessor (vitals on an appointment whose check-in is still on the
-- reception PC) is queued without local effect and flagged with what it
-- waits for; once pushed, the server parks it and the flag stays until the
-- feed brings its outcome.

-- +goose Up
-- the sentence shown while the act waits ("waiting for check-in at
-- reception"); NULL when it does not wait
ALTER TABLE outbox ADD COLUMN waitingFor TEXT;
-- 1 once the server has parked the act: its outcome comes in a changes
-- frame's outcomes, and until then it has no local effect
ALTER TABLE outbox ADD COLUMN parked INTEGER NOT NULL DEFAULT 0 CHECK (parked IN (0, 1));
-- the status line counts waiting acts after every act (see 00003)
CREATE INDEX outbox_waiting_idx ON outbox (seq) WHERE waitingFor IS NOT NULL;

-- +goose Down
DROP INDEX outbox_waiting_idx;
ALTER TABLE outbox DROP COLUMN parked;
ALTER TABLE outbox DROP COLUMN waitingFor;
