-- Protocol 2: a queued act carries its author's session id and a signature
-- over its chain hash (syncproto.SignAct) instead of the session's bearer
-- token, so the outbox holds no secret that authors anything. An act
-- queued before this migration has no signature: the server refuses it
-- UNAUTHENTICATED (its author's session opened under protocol 1 has no key
-- anyway), and it stays in the rejected list to be re-entered.
-- +goose Up
ALTER TABLE outbox ADD COLUMN sessionId TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN signature TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox DROP COLUMN authorToken;
ALTER TABLE local_credentials ADD COLUMN sessionId TEXT;

-- +goose Down
ALTER TABLE local_credentials DROP COLUMN sessionId;
ALTER TABLE outbox ADD COLUMN authorToken TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox DROP COLUMN signature;
ALTER TABLE outbox DROP COLUMN sessionId;
