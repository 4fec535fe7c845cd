package postgres

// Patient lookup for the audit search.

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// PatientMatch is a patient found by the audit search's patient lookup.
type PatientMatch struct {
	ID        string
	Name      string
	BirthDate time.Time
}

// SearchPatients finds up to limit patients whose name contains q (any
// order of first and last name) or whose id starts with q.
func (db *DB) SearchPatients(ctx context.Context, q string, limit int) ([]PatientMatch, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	if limit <= 0 || limit > 50 {
		limit = 20
	}
	esc := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q)
	like := "%" + esc + "%"
	rows, err := db.Pool.Query(ctx, `
		SELECT id, "firstName" || ' ' || "lastName", "birthDate" FROM patients
		 WHERE ("firstName" || ' ' || "lastName") ILIKE $1 OR ("lastName" || ' ' || "firstName") ILIKE $1 OR id LIKE $2
		 ORDER BY "lastName", "firstName", id LIMIT $3`, like, esc+"%", limit)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]PatientMatch(nil), rows, pgx.RowToStructByPos[PatientMatch])
}
