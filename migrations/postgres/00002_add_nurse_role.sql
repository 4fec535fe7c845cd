-- Seed migration 001. ADD VALUE cannot run inside a transaction block on
-- every PostgreSQL version, hence NO TRANSACTION. BEFORE keeps the enum in
-- the order the seed's schema declares it (ORDER BY role behaves as Prisma
-- expects); the seed's plain ADD VALUE would append it last.

-- +goose NO TRANSACTION
-- +goose Up
ALTER TYPE "Role" ADD VALUE IF NOT EXISTS 'NURSE' BEFORE 'SECRETARY';

-- +goose Down
-- PostgreSQL cannot remove an enum value (seed: "Rollback: Cannot remove enum value").
SELECT 1;
