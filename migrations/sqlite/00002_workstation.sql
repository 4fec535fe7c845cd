-- The workstation's own state: what it still has to upload, what the server
-- refused, where it stands in the change feed, and who may log in offline.

-- +goose Up

-- Acts not yet reflected in the replica's server state, in seq order. seq is
-- per device and strictly increasing; the row of an act and its effect on
-- the replicated tables are written in one transaction.
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,   -- the mutation's own UUID
    name         TEXT NOT NULL,
    args         TEXT NOT NULL,          -- exactly what the user entered, as JSON
    occurredAt   TEXT NOT NULL,
    authorId     TEXT NOT NULL,
    authorName   TEXT NOT NULL,
    authorRole   TEXT NOT NULL,
    authorToken  TEXT NOT NULL,
    -- queued: the server's outcome is unknown; applied: the server applied
    -- it but no pulled page reflects it yet, so its effect is kept locally.
    status       TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'applied')),
    -- set when a rebase found that the act no longer applies to the
    -- server's newer state: it will likely be rejected, for this reason.
    conflictCode    TEXT,
    conflictMessage TEXT,
    conflictField   TEXT
);

-- Acts the server refused. Nothing the user typed is thrown away: the full
-- args stay until the user copies them into a new entry or dismisses them.
CREATE TABLE rejected (
    id           TEXT PRIMARY KEY NOT NULL,  -- the mutation's own UUID
    -- the seq it travelled with; not a key, because a workstation that
    -- finds the server ahead of it renumbers its outbox
    seq          INTEGER NOT NULL,
    name         TEXT NOT NULL,
    args         TEXT NOT NULL,
    occurredAt   TEXT NOT NULL,
    authorId     TEXT NOT NULL,
    authorName   TEXT NOT NULL,
    authorRole   TEXT NOT NULL,
    code         TEXT NOT NULL,
    message      TEXT NOT NULL,
    field        TEXT,
    rejectedAt   TEXT NOT NULL,
    dismissedAt  TEXT
) WITHOUT ROWID;
CREATE INDEX rejected_dismissedAt_idx ON rejected(dismissedAt, rejectedAt);

-- The server's version of every replicated row that a queued act has
-- changed (row NULL: the server has no such row). The replicated tables
-- hold server state plus the queued acts' effects; a rebase resets these
-- rows to what is recorded here and replays the outbox on top.
CREATE TABLE rebase_base (
    tbl  TEXT NOT NULL,
    id   TEXT NOT NULL,
    row  TEXT,
    PRIMARY KEY (tbl, id)
) WITHOUT ROWID;

-- One row: this workstation's place in the protocol.
CREATE TABLE sync_state (
    singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
    deviceId     TEXT NOT NULL DEFAULT '',
    serverUrl    TEXT NOT NULL DEFAULT '',
    cursor       TEXT NOT NULL DEFAULT '',
    -- the highest seq ever assigned (hello.lastMutationSeq)
    lastSeq      INTEGER NOT NULL DEFAULT 0,
    -- every seq at or below it has a known outcome from the server
    ackedSeq     INTEGER NOT NULL DEFAULT 0,
    -- every seq at or below it is reflected in the pulled server state
    reflectedSeq INTEGER NOT NULL DEFAULT 0,
    -- the roles the device serves, as the last welcome said (JSON list)
    roles        TEXT NOT NULL DEFAULT '[]',
    lastSyncAt   TEXT
);
INSERT INTO sync_state (singleton) VALUES (1);

-- Users who logged in online here: a slow-hash verifier of their password
-- made on this workstation (never the server's hash) and their session.
CREATE TABLE local_credentials (
    userId          TEXT PRIMARY KEY NOT NULL,
    email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    verifier        TEXT NOT NULL,
    token           TEXT,
    expiresAt       TEXT,
    onlineLoginAt   TEXT NOT NULL,
    lastLoginAt     TEXT NOT NULL,
    loggedOutAt     TEXT
) WITHOUT ROWID;

-- +goose Down
DROP TABLE local_credentials;
DROP TABLE sync_state;
DROP TABLE rebase_base;
DROP TABLE rejected;
DROP TABLE outbox;
