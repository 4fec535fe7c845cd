package sqlite

import (
	"context"

	"wardsync/workflow"
)

// UsersByRole lists the replicated users of a role, by name: the doctors an
// appointment may be booked with. Password hashes never reach a replica.
func (db *DB) UsersByRole(ctx context.Context, role workflow.Role) ([]workflow.User, error) {
	out := []workflow.User{}
	err := db.read(ctx, func(t *Tx) error {
		users, err := rowsOf[workflow.User](t, workflow.TableUsers, "u", `WHERE u."role" = ? ORDER BY u."name", u."id"`, string(role))
		if err != nil {
			return err
		}
		out = append(out, users...)
		return nil
	})
	return out, err
}
