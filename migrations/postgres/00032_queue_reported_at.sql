-- A workstation's queue is shown as current only when it was reported on
-- the device's latest connection. connected_at now also marks a socket's
-- opening (written before its hello, stamped again at the welcome), and
-- queue_reported_at when pending/oldest_pending_at were last written (a
-- hello, a refused hello, a report). A queue reported before the latest
-- socket opened is one the dashboard must not call "in sync": between a
-- reconnect and its hello the workstation may hold acts made offline.
--
-- Rows from before: every one was written by a hello, which set last_seen
-- with the queue; last_seen is never earlier than connected_at, so they
-- read as reported on their connection.

-- +goose Up
ALTER TABLE sync.clients ADD COLUMN queue_reported_at TIMESTAMPTZ;
UPDATE sync.clients SET queue_reported_at = last_seen;

-- +goose Down
ALTER TABLE sync.clients DROP COLUMN queue_reported_at;
