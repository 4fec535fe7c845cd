-- The status line recounts the queues after every act. Counting the acts
-- flagged "will likely be rejected" scanned the whole outbox, decoding every
-- queued act's arguments on the way to conflictCode: with thousands of acts
-- queued offline each act took tens of milliseconds more. A partial index
-- holds only the flagged acts.

-- +goose Up
CREATE INDEX outbox_conflict_idx ON outbox (seq) WHERE conflictCode IS NOT NULL;

-- +goose Down
DROP INDEX outbox_conflict_idx;
