-- The dashboards' queue indexes hold only their queue's rows. Each queue
-- reads one status (desktop/sqlite homeQueue writes it as a literal, so
-- SQLite matches a partial index's WHERE), but its index held every row of
-- the table under (status, order column): on a ward's history most visits
-- are COMPLETED and most prescriptions done, so nine full indexes were
-- written on every row a page or an act wrote, and sorted in full at the
-- end of an initial load (the deferred build was 44 % of the station's CPU
-- at 1,000,000 appointments: docs/bench.md). Indexed on the status alone
-- they hold the rows still waiting for someone (a third of the
-- appointments, two thirds of the prescriptions in the bench's ward).
--
-- Four indexes no replica query reads go: appointments(doctorId),
-- appointments(date, status), prescriptions(doctorId), prescriptions(nurseId)
-- (the doctor's queues read the partial indexes below, the patient's
-- records read patientId).
--
-- An initial load in progress may hold the old indexes in deferred_indexes
-- instead of the schema; they leave that list too. The new ones are built
-- now on whatever the replica holds (they are small), and kept as rows
-- arrive.

-- +goose Up
DROP INDEX IF EXISTS "appointments_doctorId_idx";
DROP INDEX IF EXISTS "appointments_date_status_idx";
DROP INDEX IF EXISTS "appointments_status_date_idx";
DROP INDEX IF EXISTS "appointments_status_checkedInAt_idx";
DROP INDEX IF EXISTS "appointments_status_doctor_vitals_idx";
DROP INDEX IF EXISTS "appointments_status_consultedAt_idx";
DROP INDEX IF EXISTS "appointments_unpaid_idx";
DROP INDEX IF EXISTS "prescriptions_doctorId_idx";
DROP INDEX IF EXISTS "prescriptions_nurseId_idx";
DROP INDEX IF EXISTS "prescriptions_status_updatedAt_idx";
DROP INDEX IF EXISTS "prescriptions_status_sampleCollectedAt_idx";
DROP INDEX IF EXISTS "prescriptions_status_analysisStartedAt_idx";
DROP INDEX IF EXISTS "prescriptions_status_doctor_completed_idx";
DELETE FROM deferred_indexes WHERE name IN ('appointments_doctorId_idx', 'appointments_date_status_idx',
    'appointments_status_date_idx', 'appointments_status_checkedInAt_idx', 'appointments_status_doctor_vitals_idx',
    'appointments_status_consultedAt_idx', 'appointments_unpaid_idx', 'prescriptions_doctorId_idx',
    'prescriptions_nurseId_idx', 'prescriptions_status_updatedAt_idx', 'prescriptions_status_sampleCollectedAt_idx',
    'prescriptions_status_analysisStartedAt_idx', 'prescriptions_status_doctor_completed_idx');

CREATE INDEX "appointments_scheduled_idx" ON "appointments"("date") WHERE "status" = 'SCHEDULED';
CREATE INDEX "appointments_checkedIn_idx" ON "appointments"("checkedInAt") WHERE "status" = 'CHECKED_IN';
CREATE INDEX "appointments_inConsultation_idx" ON "appointments"("doctorId", "vitalsEnteredAt") WHERE "status" = 'IN_CONSULTATION';
CREATE INDEX "appointments_consulted_idx" ON "appointments"("consultedAt") WHERE "status" = 'CONSULTATION_COMPLETED';
-- The billing condition stays written exactly as the unpaid queue writes
-- it (see 00007).
CREATE INDEX "appointments_unpaid_idx" ON "appointments"("closedAt")
    WHERE "status" = 'COMPLETED' AND ("billingStatus" IS NULL OR "billingStatus" <> 'PAID');
CREATE INDEX "prescriptions_sentToLab_idx" ON "prescriptions"("updatedAt") WHERE "status" = 'SENT_TO_LAB';
CREATE INDEX "prescriptions_sampleCollected_idx" ON "prescriptions"("sampleCollectedAt") WHERE "status" = 'SAMPLE_COLLECTED';
CREATE INDEX "prescriptions_inProgress_idx" ON "prescriptions"("analysisStartedAt") WHERE "status" = 'IN_PROGRESS';
CREATE INDEX "prescriptions_resultsAvailable_idx" ON "prescriptions"("doctorId", "analysisCompletedAt") WHERE "status" = 'RESULTS_AVAILABLE';

-- +goose Down
DROP INDEX "prescriptions_resultsAvailable_idx";
DROP INDEX "prescriptions_inProgress_idx";
DROP INDEX "prescriptions_sampleCollected_idx";
DROP INDEX "prescriptions_sentToLab_idx";
DROP INDEX "appointments_unpaid_idx";
DROP INDEX "appointments_consulted_idx";
DROP INDEX "appointments_inConsultation_idx";
DROP INDEX "appointments_checkedIn_idx";
DROP INDEX "appointments_scheduled_idx";
DELETE FROM deferred_indexes WHERE name IN ('appointments_scheduled_idx', 'appointments_checkedIn_idx',
    'appointments_inConsultation_idx', 'appointments_consulted_idx', 'appointments_unpaid_idx',
    'prescriptions_sentToLab_idx', 'prescriptions_sampleCollected_idx', 'prescriptions_inProgress_idx',
    'prescriptions_resultsAvailable_idx');
CREATE INDEX "appointments_doctorId_idx" ON "appointments"("doctorId");
CREATE INDEX "appointments_date_status_idx" ON "appointments"("date", "status");
CREATE INDEX "appointments_status_date_idx" ON "appointments"("status", "date");
CREATE INDEX "appointments_status_checkedInAt_idx" ON "appointments"("status", "checkedInAt");
CREATE INDEX "appointments_status_doctor_vitals_idx" ON "appointments"("status", "doctorId", "vitalsEnteredAt");
CREATE INDEX "appointments_status_consultedAt_idx" ON "appointments"("status", "consultedAt");
CREATE INDEX "appointments_unpaid_idx" ON "appointments"("status", "closedAt")
    WHERE "billingStatus" IS NULL OR "billingStatus" <> 'PAID';
CREATE INDEX "prescriptions_doctorId_idx" ON "prescriptions"("doctorId");
CREATE INDEX "prescriptions_nurseId_idx" ON "prescriptions"("nurseId");
CREATE INDEX "prescriptions_status_updatedAt_idx" ON "prescriptions"("status", "updatedAt");
CREATE INDEX "prescriptions_status_sampleCollectedAt_idx" ON "prescriptions"("status", "sampleCollectedAt");
CREATE INDEX "prescriptions_status_analysisStartedAt_idx" ON "prescriptions"("status", "analysisStartedAt");
CREATE INDEX "prescriptions_status_doctor_completed_idx" ON "prescriptions"("status", "doctorId", "analysisCompletedAt");
