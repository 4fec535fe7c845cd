-- Access that ends, and the security log.
--
-- A session now says why it ended (ended_reason: logout, disabled,
-- role_changed, password_reset, device_revoked, expired, idle), and a
-- dashboard session when its administrator was last active, for the idle
-- timeout. A user's status keeps the history a re-enable used to erase:
-- disabled_at is the current disablement (NULL while enabled),
-- last_disabled_at and enabled_at the last of each.
--
-- sync.security_events is the security officer's record: every login,
-- failed login, logout and session end, and every administrative act with
-- who did it, what, and the state before and after. It is append-only: a
-- trigger refuses UPDATE, DELETE and TRUNCATE, so that no server bug and
-- no one with the server's own database role can rewrite it quietly.

-- +goose Up
ALTER TABLE sync.sessions
    ADD COLUMN ended_reason   TEXT,
    ADD COLUMN last_active_at TIMESTAMPTZ;
-- The expiry sweep looks for sessions still open past their end.
CREATE INDEX sessions_open_idx ON sync.sessions (expires_at) WHERE revoked_at IS NULL;

ALTER TABLE sync.user_status
    ADD COLUMN last_disabled_at TIMESTAMPTZ,
    ADD COLUMN enabled_at       TIMESTAMPTZ;
UPDATE sync.user_status SET last_disabled_at = disabled_at WHERE disabled_at IS NOT NULL;

CREATE TABLE sync.security_events (
    id         BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    kind       TEXT NOT NULL,
    -- who acted: the administrator, or the user logging in or out
    actor_id   TEXT,
    actor_name TEXT,
    -- whose account or which workstation the event is about
    user_id    TEXT,
    user_email TEXT,
    device_id  TEXT,
    address    TEXT,
    reason     TEXT,
    -- what was acted on, in words an auditor can search (a user, a device,
    -- a patient pair, a rejected act)
    target     TEXT,
    before     JSONB,
    after      JSONB
);
CREATE INDEX security_events_at_idx ON sync.security_events (at, id);
CREATE INDEX security_events_kind_idx ON sync.security_events (kind, at);
CREATE INDEX security_events_user_idx ON sync.security_events (user_id, at);
CREATE INDEX security_events_actor_idx ON sync.security_events (actor_id, at);

-- +goose StatementBegin
CREATE FUNCTION sync.security_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'sync.security_events is append-only: % is refused; the security log keeps every event for as long as the database lives', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Events are only ever added; archive the database to keep an older copy.';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER security_events_append_only BEFORE UPDATE OR DELETE ON sync.security_events
    FOR EACH ROW EXECUTE FUNCTION sync.security_events_append_only();
CREATE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON sync.security_events
    FOR EACH STATEMENT EXECUTE FUNCTION sync.security_events_append_only();

-- +goose Down
DROP TABLE sync.security_events;
DROP FUNCTION sync.security_events_append_only();
ALTER TABLE sync.user_status DROP COLUMN enabled_at, DROP COLUMN last_disabled_at;
DROP INDEX sync.sessions_open_idx;
ALTER TABLE sync.sessions DROP COLUMN last_active_at, DROP COLUMN ended_reason;
