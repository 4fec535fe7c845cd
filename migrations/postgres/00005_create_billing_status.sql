-- Seed migration 004.

-- +goose Up
CREATE TYPE "BillingStatus" AS ENUM ('PENDING', 'PAID', 'PARTIALLY_PAID');

-- +goose Down
DROP TYPE "BillingStatus";
