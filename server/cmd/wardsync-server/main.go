// Command wardsync-server runs the central sync server and its chores:
//
//	wardsync-server serve [-addr 127.0.0.1:8420] [-tls-cert FILE -tls-key FILE]
//	wardsync-server migrate
//	wardsync-server seed
//	wardsync-server user add -name N -email E -password P -role NURSE
//	wardsync-server device add -name "Ward 3" -roles NURSE,DOCTOR [-id UUID]
//	wardsync-server audit verify [-device ID]
//	wardsync-server version
//	wardsync-server cert init [-dir tls] [-hosts name,address]
//
// DATABASE_URL names the database, as in the seed; every flag may also be
// given as WARDSYNC_<FLAG> (e.g. WARDSYNC_ADDR).
package main

import (
	"context"
	"fmt"
	"os"

	"wardsync/process"
	"wardsync/server/cli"
)

func main() {
	process.Run(func(ctx context.Context) int {
		if err := cli.NewMain().Execute(ctx, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "wardsync-server:", err)
			return 1
		}
		return 0
	})
}
