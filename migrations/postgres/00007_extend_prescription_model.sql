-- Seed migration 006 (TIMESTAMP(3), see 00006).

-- +goose Up
ALTER TABLE "prescriptions"
  ADD COLUMN "nurseId" TEXT,
  ADD COLUMN "sampleCollectedAt" TIMESTAMP(3),
  ADD COLUMN "analysisStartedAt" TIMESTAMP(3),
  ADD COLUMN "analysisCompletedAt" TIMESTAMP(3);

ALTER TABLE "prescriptions"
  ADD CONSTRAINT "prescriptions_nurseId_fkey"
  FOREIGN KEY ("nurseId") REFERENCES "users"("id")
  ON DELETE SET NULL
  ON UPDATE CASCADE;

-- +goose Down
ALTER TABLE "prescriptions"
  DROP CONSTRAINT "prescriptions_nurseId_fkey",
  DROP COLUMN "nurseId",
  DROP COLUMN "sampleCollectedAt",
  DROP COLUMN "analysisStartedAt",
  DROP COLUMN "analysisCompletedAt";
