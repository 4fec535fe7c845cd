// Package migrations owns wardsync's database schemas: the PostgreSQL schema
// (the seed's schema exactly as Prisma builds it, then wardsync's bookkeeping
// in schema "sync") and the workstation's SQLite replica schema. Both are goose
// SQL migrations embedded in the binaries, which run them themselves: there is
// no goose CLI in any path.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed postgres/*.sql
var postgresFS embed.FS

// PostgresVersionTable is goose's version table. It lives in schema "sync":
// anything extra in "public" is drift to Prisma.
const PostgresVersionTable = "sync.goose_db_version"

// Postgres returns the PostgreSQL migration files.
func Postgres() fs.FS {
	sub, err := fs.Sub(postgresFS, "postgres")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}

func postgresProvider(db *sql.DB, opts ...goose.ProviderOption) (*goose.Provider, error) {
	// A session lock lets several server instances start at once: one
	// migrates, the others wait, then find nothing to do.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
	if err != nil {
		return nil, err
	}
	opts = append([]goose.ProviderOption{goose.WithTableName(PostgresVersionTable), goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true)}, opts...)
	return goose.NewProvider(goose.DialectPostgres, db, Postgres(), opts...)
}

// UpPostgres migrates db to the newest version and returns the versions it
// applied. Schema "sync" is created first because goose's own table lives in it.
func UpPostgres(ctx context.Context, db *sql.DB) ([]int64, error) {
	return UpPostgresTo(ctx, db, -1)
}

// UpPostgresTo migrates db up to version (all of them when version < 0).
// Tests use it to build an older schema and migrate data forward.
func UpPostgresTo(ctx context.Context, db *sql.DB, version int64) ([]int64, error) {
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS sync`); err != nil {
		return nil, fmt.Errorf("create schema sync: %w", err)
	}
	p, err := postgresProvider(db)
	if err != nil {
		return nil, err
	}
	var res []*goose.MigrationResult
	if version < 0 {
		res, err = p.Up(ctx)
	} else {
		res, err = p.UpTo(ctx, version)
	}
	applied := make([]int64, 0, len(res))
	for _, r := range res {
		applied = append(applied, r.Source.Version)
	}
	if err != nil {
		return applied, fmt.Errorf("migrate postgres: %w", err)
	}
	return applied, nil
}

// PostgresPending reports whether db lacks migrations this binary knows.
// /readyz uses it: a server must not serve an old schema.
func PostgresPending(ctx context.Context, db *sql.DB) (bool, error) {
	p, err := postgresProvider(db)
	if err != nil {
		return false, err
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return false, err
	}
	return current < target, nil
}
