-- The status line recounts the queues after every act, and a ward offline
-- for a day queues thousands of acts. Counted from the outbox's own rows,
-- each count read every queued act (its arguments included): with 10,000
-- acts queued an act took ten times as long as with an empty queue. These
-- small indexes answer the counts instead: the oldest pending act by its
-- occurredAt, and the acts flagged "will likely be rejected".

-- +goose Up
CREATE INDEX outbox_occurredAt_idx ON outbox (occurredAt);
CREATE INDEX outbox_conflict_idx ON outbox (seq) WHERE conflictCode IS NOT NULL;

-- +goose Down
DROP INDEX outbox_conflict_idx;
DROP INDEX outbox_occurredAt_idx;
