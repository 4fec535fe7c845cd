-- Reception's "payments pending" queue (closed visits not PAID, by
-- closedAt) walked appointments_status_closedAt_idx and looked up every
-- COMPLETED appointment to test its billingStatus: on a ward's history most
-- closed visits are paid (40,000 of 60,000 in the 100k bench replica), so
-- it read about three rows for each one it showed. This partial index holds
-- only the unpaid ones, in the queue's order; the planner picks it for the
-- queue's WHERE clause (desktop/sqlite qUnpaid, whose billing condition must
-- stay written exactly as below for SQLite to match it). The old index
-- served that queue alone.

-- +goose Up
CREATE INDEX "appointments_unpaid_idx" ON "appointments"("status", "closedAt")
    WHERE "billingStatus" IS NULL OR "billingStatus" <> 'PAID';
DROP INDEX "appointments_status_closedAt_idx";

-- +goose Down
CREATE INDEX "appointments_status_closedAt_idx" ON "appointments"("status", "closedAt");
DROP INDEX "appointments_unpaid_idx";
