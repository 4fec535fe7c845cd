-- Seed migration 003, in the seed schema's enum order.

-- +goose NO TRANSACTION
-- +goose Up
ALTER TYPE "PrescriptionStatus" ADD VALUE IF NOT EXISTS 'SAMPLE_COLLECTED' AFTER 'SENT_TO_LAB';
ALTER TYPE "PrescriptionStatus" ADD VALUE IF NOT EXISTS 'RESULTS_AVAILABLE' AFTER 'IN_PROGRESS';

-- +goose Down
SELECT 1;
