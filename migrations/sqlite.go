package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed sqlite/*.sql
var sqliteFS embed.FS

// SQLite returns the workstation replica's migration files.
func SQLite() fs.FS {
	sub, err := fs.Sub(sqliteFS, "sqlite")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}

// UpSQLite migrates a workstation's replica (opened with the modernc
// driver, "sqlite") to the newest version. It is idempotent: the engine runs
// it at every open.
func UpSQLite(ctx context.Context, db *sql.DB) error {
	// No session locker: SQLite's own write lock (with the caller's busy
	// timeout) serialises two processes opening the same file.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, SQLite(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	return nil
}
