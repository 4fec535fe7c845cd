-- Honest workstation health: when a workstation's socket drops, the
-- dashboard says so at once ("Offline since 03:19 — unsent work unknown")
-- instead of "in sync" until it has been unseen for minutes.
--
-- connected_at is written by the instance that welcomed the device's socket;
-- disconnected_at by that same instance when the socket ends, only if no
-- newer socket has been welcomed since (connected_at still its own), so a
-- late close on one instance never hides a reconnect to another. An
-- instance that dies without closing leaves disconnected_at empty: then
-- last_seen (refreshed every 20 s while connected) ages past the online
-- window instead.
--
-- sync.settings keeps what an administrator set on the dashboard (the
-- "Late" and "Stalled" thresholds); without a row, the server's flags hold.

-- +goose Up
ALTER TABLE sync.clients ADD COLUMN connected_at TIMESTAMPTZ, ADD COLUMN disconnected_at TIMESTAMPTZ;

CREATE TABLE sync.settings (
    name        TEXT PRIMARY KEY,
    value       JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  TEXT REFERENCES public.users(id) ON DELETE SET NULL
);

-- +goose Down
DROP TABLE sync.settings;
ALTER TABLE sync.clients DROP COLUMN disconnected_at, DROP COLUMN connected_at;
