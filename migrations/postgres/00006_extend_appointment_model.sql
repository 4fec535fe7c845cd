-- Seed migration 005. The seed's SQL says TIMESTAMP; Prisma maps DateTime to
-- TIMESTAMP(3), and the database must be what Prisma builds from the schema,
-- so the new timestamps are TIMESTAMP(3).

-- +goose Up
ALTER TABLE "appointments"
  ADD COLUMN "vitals" JSONB,
  ADD COLUMN "medicalHistoryNotes" TEXT,
  ADD COLUMN "consultationNotes" TEXT,
  ADD COLUMN "checkedInAt" TIMESTAMP(3),
  ADD COLUMN "vitalsEnteredAt" TIMESTAMP(3),
  ADD COLUMN "consultedAt" TIMESTAMP(3),
  ADD COLUMN "closedAt" TIMESTAMP(3),
  ADD COLUMN "vitalsEnteredBy" TEXT,
  ADD COLUMN "consultedBy" TEXT,
  ADD COLUMN "closedBy" TEXT,
  ADD COLUMN "billingAmount" DECIMAL(10,2),
  ADD COLUMN "billingStatus" "BillingStatus" DEFAULT 'PENDING';

CREATE INDEX "appointments_status_idx" ON "appointments"("status");

-- +goose Down
DROP INDEX "appointments_status_idx";
ALTER TABLE "appointments"
  DROP COLUMN "vitals",
  DROP COLUMN "medicalHistoryNotes",
  DROP COLUMN "consultationNotes",
  DROP COLUMN "checkedInAt",
  DROP COLUMN "vitalsEnteredAt",
  DROP COLUMN "consultedAt",
  DROP COLUMN "closedAt",
  DROP COLUMN "vitalsEnteredBy",
  DROP COLUMN "consultedBy",
  DROP COLUMN "closedBy",
  DROP COLUMN "billingAmount",
  DROP COLUMN "billingStatus";
