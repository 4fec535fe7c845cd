package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

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
	// No session locker: each migration runs in its own transaction, which
	// SQLite's write lock (with the caller's busy timeout) serialises. Two
	// processes opening a new file at once may still both decide that a
	// version is due; the one that loses the race fails on what the winner
	// created. Asking again then finds the version applied.
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = upSQLite(ctx, db); err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	return err
}

func upSQLite(ctx context.Context, db *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, SQLite(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	return nil
}
