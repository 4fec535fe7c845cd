-- Four of the replica's indexes are the first column of another index on
-- the same table, which serves every query they served (SQLite reads a
-- composite index by its leading columns): appointments(status) under
-- (status, date), appointments(date) under (date, status),
-- prescriptions(status) under (status, updatedAt), prescriptions(patientId)
-- under (patientId, status). Each cost a B-tree write on every row an act or
-- a page writes, and a full sort at the end of an initial load (the
-- deferred index build was 41 % of the station's CPU at 1,000,000
-- appointments: docs/bench.md). An initial load in progress may hold them
-- in deferred_indexes instead of the schema; they leave that list too.

-- +goose Up
DROP INDEX IF EXISTS "appointments_status_idx";
DROP INDEX IF EXISTS "appointments_date_idx";
DROP INDEX IF EXISTS "prescriptions_status_idx";
DROP INDEX IF EXISTS "prescriptions_patientId_idx";
DELETE FROM deferred_indexes WHERE name IN ('appointments_status_idx', 'appointments_date_idx',
    'prescriptions_status_idx', 'prescriptions_patientId_idx');

-- +goose Down
CREATE INDEX "appointments_status_idx" ON "appointments"("status");
CREATE INDEX "appointments_date_idx" ON "appointments"("date");
CREATE INDEX "prescriptions_status_idx" ON "prescriptions"("status");
CREATE INDEX "prescriptions_patientId_idx" ON "prescriptions"("patientId");
