-- No notification inside the server's own transactions.
--
-- pg_notify in a writing transaction takes PostgreSQL's notify-queue lock
-- at pre-commit and holds it through the commit's WAL flush, so every
-- notifying transaction in the cluster commits after the other: group
-- commit is lost (measured: 6,681 → 606 tps, 20 clients). The
-- server now announces its own commits after they commit (to its devices
-- and dashboards in-process, to the other instances with a NOTIFY of its
-- own, outside the act's transaction: server/postgres/announce.go).
--
-- The triggers therefore notify only for the other writers: psql, another
-- application, a migration script. The server's sessions are recognised by
-- their application_name, which its pool sets ('wardsync-server'); every
-- other session, whatever it calls itself, is still announced at commit as
-- before. A foreign program that names itself 'wardsync-server' is not
-- announced: its changes then reach devices at their next pull.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION sync.notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('application_name') IS DISTINCT FROM 'wardsync-server' THEN
        PERFORM pg_notify('wardsync_changes', '');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION sync.notify_admin() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('application_name') IS DISTINCT FROM 'wardsync-server' THEN
        PERFORM pg_notify('wardsync_admin', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION sync.notify_duplicates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('application_name') IS DISTINCT FROM 'wardsync-server' THEN
        PERFORM pg_notify('wardsync_admin', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- The acts woken are still marked in the writing transaction; a push
-- retries those it woke itself, and the server announces the others.
CREATE OR REPLACE FUNCTION sync.wake_deferred() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sync.deferred SET woken = true
     WHERE wait_table = TG_TABLE_NAME AND wait_id = OLD.id AND outcome IS NULL AND NOT woken;
    IF FOUND AND current_setting('application_name') IS DISTINCT FROM 'wardsync-server' THEN
        PERFORM pg_notify('wardsync_deferred', '');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION sync.notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wardsync_changes', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION sync.notify_admin() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wardsync_admin', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION sync.notify_duplicates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wardsync_admin', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION sync.wake_deferred() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sync.deferred SET woken = true
     WHERE wait_table = TG_TABLE_NAME AND wait_id = OLD.id AND outcome IS NULL AND NOT woken;
    IF FOUND THEN
        PERFORM pg_notify('wardsync_deferred', '');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
