-- Login limits shared by every server instance.
--
-- One row per key: "account:<e-mail as the login normalises it>" or
-- "address:<client address>". failures counts the failed logins since the
-- last success (account) or within the quiet period; the server derives a
-- growing delay from it (docs/security.md, "Login limits"), never a
-- lockout. Rows are tiny and touched only by failures and successes.

-- +goose Up
CREATE TABLE sync.login_limits (
    key             TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE sync.login_limits;
