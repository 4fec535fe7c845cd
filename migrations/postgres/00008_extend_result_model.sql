-- Seed migration 007 (TIMESTAMP(3), see 00006).

-- +goose Up
ALTER TABLE "results"
  ADD COLUMN "validatedBy" TEXT,
  ADD COLUMN "validatedAt" TIMESTAMP(3),
  ADD COLUMN "reviewedBy" TEXT,
  ADD COLUMN "reviewedAt" TIMESTAMP(3),
  ADD COLUMN "interpretation" TEXT;

-- +goose Down
ALTER TABLE "results"
  DROP COLUMN "validatedBy",
  DROP COLUMN "validatedAt",
  DROP COLUMN "reviewedBy",
  DROP COLUMN "reviewedAt",
  DROP COLUMN "interpretation";
