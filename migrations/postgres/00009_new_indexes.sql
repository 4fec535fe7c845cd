-- The seed's "New Indexes". appointments_status_idx came with 00006 (seed
-- migration 005 creates it); the other three are named exactly as the seed
-- names them.

-- +goose Up
CREATE INDEX "appointments_date_status_idx" ON "appointments"("date", "status");

CREATE INDEX "prescriptions_nurseId_idx" ON "prescriptions"("nurseId");

CREATE INDEX "prescriptions_patient_status_idx" ON "prescriptions"("patientId", "status");

-- +goose Down
DROP INDEX "prescriptions_patient_status_idx";
DROP INDEX "prescriptions_nurseId_idx";
DROP INDEX "appointments_date_status_idx";
